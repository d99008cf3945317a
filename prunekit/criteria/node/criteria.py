"""The node criteria's former single module, kept so that old import paths still work.

Each method now has its own module in :mod:`prunekit.criteria.node`; import from there (or from
:mod:`prunekit.structured`) in new code.
"""

from prunekit.criteria.node.after_training import DEFAULT_FINETUNE_FRACTION
from prunekit.criteria.node.base import (
    SCOPES,
    NodeCriterion,
    NodeScoringContext,
    available_node_criteria,
    check_lambda,
    get_node_criterion,
    register_node_criterion,
)
from prunekit.criteria.node.cnip import CNIPit
from prunekit.criteria.node.efficientconvnets import EfficientConvNets
from prunekit.criteria.node.gatedecorators import DEFAULT_GATE_STEP, GateDecorators
from prunekit.criteria.node.grouphoyer import DEFAULT_THRESHOLD, GroupHoyerSquare
from prunekit.criteria.node.l0 import L0
from prunekit.criteria.node.random import StructuredRandom
from prunekit.criteria.node.snap import SNAP, SNAPit

__all__ = [
    "CNIPit",
    "DEFAULT_FINETUNE_FRACTION",
    "DEFAULT_GATE_STEP",
    "DEFAULT_THRESHOLD",
    "EfficientConvNets",
    "GateDecorators",
    "GroupHoyerSquare",
    "L0",
    "SCOPES",
    "check_lambda",
    "NodeCriterion",
    "NodeScoringContext",
    "SNAP",
    "SNAPit",
    "StructuredRandom",
    "available_node_criteria",
    "get_node_criterion",
    "register_node_criterion",
]
