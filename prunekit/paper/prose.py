"""Markdown the chapters generate from their numbers, shared by more than one chapter."""

from __future__ import annotations

from collections.abc import Mapping


def checks_markdown(checks: Mapping[str, bool]) -> str:
    """A page's checks as a markdown list: each statement, then whether it holds on the page's runs."""
    return "\n".join(f"- {claim}: {'holds' if holds else 'does not hold'}" for claim, holds in checks.items())


__all__ = ["checks_markdown"]
