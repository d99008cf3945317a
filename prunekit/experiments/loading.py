"""The batch streams of one run: training, criterion scoring (drawn from the training set) and evaluation."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from prunekit.data import TensorBatches, dataset_info, load_split, make_batches, validation_split
from prunekit.experiments.config import RunConfig

SCORING_SEED_OFFSET = 1_000_003  # the scoring stream shuffles independently of the training stream


@dataclass
class RunData:
    """The three batch streams of a run: training, criterion scoring (training set) and test."""

    train: TensorBatches
    scoring: TensorBatches
    test: TensorBatches


def load_run_data(config: RunConfig, device: torch.device, root: str | os.PathLike | None = None) -> RunData:
    """Training, scoring and test batches on ``device``; scoring draws from the training set, never the test set.
    With ``config.validation`` the evaluation stream is that held-out share of the training set instead."""
    info = dataset_info(config.dataset)
    images, labels = load_split(config.dataset, True, root=root, limit=config.train_limit)
    images, labels = images.to(device), labels.to(device)  # one copy on the device, shared by two streams
    if config.validation:
        images, labels, held_images, held_labels = validation_split(images, labels, config.validation)
        if config.test_limit is not None:
            held_images, held_labels = held_images[: config.test_limit], held_labels[: config.test_limit]
        held_out = TensorBatches(held_images, held_labels, info, config.batch_size, shuffle=False, augment=False,
                                 device=device)

    def stream(batch_size: int, seed: int) -> TensorBatches:
        return TensorBatches(images, labels, info, batch_size, shuffle=True, augment=True, device=device, seed=seed)

    return RunData(
        train=stream(config.batch_size, config.seed),
        # like the authors' code, the criterion sees fresh (augmented) training batches
        scoring=stream(config.scoring_batch_size, config.seed + SCORING_SEED_OFFSET),
        test=held_out if config.validation else make_batches(config.dataset, train=False,
                                                             batch_size=config.batch_size, device=device,
                                                             root=root, limit=config.test_limit),
    )


__all__ = ["SCORING_SEED_OFFSET", "RunData", "load_run_data"]
