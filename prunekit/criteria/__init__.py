"""Pruning criteria behind one registry; importing this package registers every built-in criterion."""

from prunekit.criteria.weight import force as _force  # noqa: F401  (registers "force", "iter-snip")
from prunekit.criteria.weight import grasp as _grasp  # noqa: F401  (registers "grasp")
from prunekit.criteria.weight import hoyersquare as _hoyersquare  # noqa: F401  (registers "hoyersquare")
from prunekit.criteria.weight import magnitude as _magnitude  # noqa: F401  (registers "magnitude", "imp-global")
from prunekit.criteria.weight import random as _random  # noqa: F401  (registers "random")
from prunekit.criteria.weight import sensitivity as _sensitivity  # noqa: F401  (registers "snip", "snip-it")
from prunekit.criteria.weight import synflow as _synflow  # noqa: F401  (registers "synflow")
from prunekit.criteria.base import Criterion, ScoringContext, available_criteria, get_criterion, register
from prunekit.criteria.weight.sensitivity import scoring_mode, weight_elasticity

__all__ = [
    "Criterion",
    "ScoringContext",
    "available_criteria",
    "get_criterion",
    "register",
    "scoring_mode",
    "weight_elasticity",
]
