"""Markdown the chapters generate from their numbers, shared by more than one chapter."""

from __future__ import annotations

import re
from collections.abc import Mapping

# The paper's inline LaTeX, as plain text a table cell can show (MathJax does not typeset inside tables).
_SYMBOLS = {r"\ell": "ℓ", r"\lambda": "λ", r"\varepsilon": "ε", r"\theta": "θ", r"\leq": "≤", r"\ge": "≥",
            r"\tau": "τ"}
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def checks_markdown(checks: Mapping[str, bool]) -> str:
    """A page's checks as a markdown list: each statement, then whether it holds on the page's runs."""
    return "\n".join(f"- {claim}: {'holds' if holds else 'does not hold'}" for claim, holds in checks.items())


def plain_math(text: str) -> str:
    """``text`` with its ``$…$`` formulas written in plain characters: ``$10^{-4}$`` → 10⁻⁴, ``$\\ell_0$`` → ℓ₀."""
    return re.sub(r"\$([^$]*)\$", lambda m: _plain_formula(m.group(1)), text)


def _plain_formula(formula: str) -> str:
    for command, symbol in _SYMBOLS.items():
        formula = re.sub(re.escape(command) + r"(?![a-zA-Z])", symbol, formula)
    formula = re.sub(r"\^\{([^}]*)\}|\^(\w)", lambda m: (m.group(1) or m.group(2)).translate(_SUPERSCRIPT), formula)
    formula = re.sub(r"_\{([^}]*)\}|_(\w)", lambda m: (m.group(1) or m.group(2)).translate(_SUBSCRIPT), formula)
    return formula.strip()


__all__ = ["checks_markdown", "plain_math"]
