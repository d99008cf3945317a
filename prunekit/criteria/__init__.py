"""Pruning criteria behind one registry; importing this package registers every built-in criterion.

Weight criteria live one per module in :mod:`prunekit.criteria.weight`, node criteria in
:mod:`prunekit.criteria.node`; both register in :mod:`prunekit.criteria.base` under their granularity.
"""

from prunekit.criteria import node as _node  # noqa: F401  (registers every node criterion)
from prunekit.criteria import weight as _weight  # noqa: F401  (registers every weight criterion)
from prunekit.criteria.base import (
    GRANULARITIES,
    Criterion,
    ScoringBudget,
    ScoringContext,
    available_criteria,
    criterion_class,
    get_criterion,
    register,
)
from prunekit.criteria.weight.sensitivity import scoring_mode, weight_elasticity

__all__ = [
    "GRANULARITIES",
    "Criterion",
    "ScoringBudget",
    "ScoringContext",
    "available_criteria",
    "criterion_class",
    "get_criterion",
    "register",
    "scoring_mode",
    "weight_elasticity",
]
