"""Structured pruning (issue #5): node masks, SNAP-it / CNIP-it and baselines, physical shrinking.

Typical use: ``prune_nodes(model, "snap-it", 0.5, data)`` masks hidden nodes in place; then
``shrink(model, example_inputs)`` returns a genuinely smaller network computing the same function.
The baselines that prune during or after training (EfficientConvNets, GateDecorators, Group-HS, L0)
are training-loop callbacks: ``structured_pruner(criterion, ...)``, then ``finalize(model)`` and
``shrink``; ``RunConfig(structured=True, criterion=...)`` runs them end to end.
"""

from prunekit.criteria.node.base import (
    NodeCriterion,
    NodeScoringContext,
    available_node_criteria,
    get_node_criterion,
    register_node_criterion,
)
from prunekit.criteria.node.elasticity import Elasticities, gate_derivatives, node_elasticity
from prunekit.core.node_masks import (
    NodeCount,
    NodeSite,
    apply_node_mask,
    apply_node_masks,
    hidden_layers,
    node_masks,
    node_sites,
    pruned_node_counts,
    pruned_node_sparsity,
)
from prunekit.pruning.nodes import NodePruneResult, NodePruneStep, keep_nodes, prune_nodes
from prunekit.measure.network import (
    StructuredReport,
    node_flops,
    structured_report,
    training_memory_bytes,
)
from prunekit.pruning.nodes_after import StructuredPruner, structured_pruner
from prunekit.pruning.shrink import remove_reparametrisation, shrink

__all__ = [
    "Elasticities",
    "StructuredReport",
    "structured_report",
    "NodeCount",
    "NodeCriterion",
    "NodePruneResult",
    "NodePruneStep",
    "NodeScoringContext",
    "NodeSite",
    "apply_node_mask",
    "apply_node_masks",
    "available_node_criteria",
    "gate_derivatives",
    "get_node_criterion",
    "hidden_layers",
    "keep_nodes",
    "node_elasticity",
    "node_flops",
    "node_masks",
    "node_sites",
    "prune_nodes",
    "pruned_node_counts",
    "pruned_node_sparsity",
    "register_node_criterion",
    "remove_reparametrisation",
    "shrink",
    "StructuredPruner",
    "structured_pruner",
    "training_memory_bytes",
]
