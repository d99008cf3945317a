"""What the structured baselines that prune a trained network share: the cut after ``1 − finetune_fraction``."""

from __future__ import annotations

from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.criteria.node.base import NodeCriterion, check_fraction

DEFAULT_FINETUNE_FRACTION = 10 / 80  # Appendix F: after-training methods train 70 epochs, prune, fine-tune 10


class AfterTraining(NodeCriterion):
    """A structured baseline that prunes a trained network: train, cut at ``1 − finetune_fraction``, fine-tune."""

    needs_data = False
    timings = ("after",)

    def __init__(self, steps: int = DEFAULT_STEPS, finetune_fraction: float = DEFAULT_FINETUNE_FRACTION) -> None:
        super().__init__(steps)
        self.finetune_fraction = check_fraction("finetune_fraction", finetune_fraction)

    def cut_epoch(self, epochs: int) -> float:
        """The (fractional) epoch after which the network is pruned."""
        return (1.0 - self.finetune_fraction) * epochs

    def round_epochs(self, sparsity: float, epochs: int) -> list[float]:
        """The (fractional) epochs after which the pruning rounds run: one round, at the cut."""
        return [self.cut_epoch(epochs)]


__all__ = ["DEFAULT_FINETUNE_FRACTION", "AfterTraining"]
