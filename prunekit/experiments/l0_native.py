"""Figure 11's setting: L0 regularisation run the way its authors ran it, for the claim fig11-l0-native-setting.

The paper finds L0 poor in its own setting but "works well with recommended setup from their paper" (Figure 11,
LeNet5). That setup, as the L0 authors' LeNet-5 experiment has it (Louizos et al. 2018, the layer-wise λ of their
LeNet-5 row, and the defaults of their code): the per-weight expected-L0 penalty with λ = (10, 0.5, 0.1, 10)/N over
the four gated layers, a weight prior of precision 5e-4 inside the penalty instead of weight decay, hard-concrete
gates starting at drop rate 0.5 with temperature 2/3, the parameters' moving average (β = 0.999) as the final
network, Adam at learning rate 1e-3 on batches of 100, 200 epochs.

What differs, and why: the network is the paper's LeNet5 (Appendix L, the network of Figure 11), not the
L0 authors' LeNet-5-Caffe, and its four hidden layers take the four λ in order; gates sit on node outputs, as
everywhere in this edition. The dense network of the setting trains with the same optimiser and batches for the
profile's 100 epochs; L0 gets twice that (200, the L0 authors' budget), as in every setting here.

``python -m prunekit.experiments.l0_native --worker I --workers N`` runs worker I's share (resumable).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from prunekit.experiments.config import NO_CRITERION, RunConfig
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.store import ResultStore
from prunekit.experiments.sweep import sweep, worker_share

PROFILE = "l0-native"
MODEL, DATASET = "lenet5", "mnist"
# The L0 authors' LeNet-5 recipe as criterion options of prunekit's L0 (prunekit.criteria.node.l0).
NATIVE_OPTIONS: dict[str, object] = {"lam": 1.0, "penalty": "per-weight", "layer_lams": "10,0.5,0.1,10",
                                     "prior": 5e-4, "ema": 0.999}
# Their optimiser and batches, for both L0 and the dense network (the prior replaces weight decay).
NATIVE_TRAINING: dict[str, object] = {"lr": 1e-3, "batch_size": 100, "weight_decay": 0.0}


def l0_native_configs(profile: str | Profile = PROFILE) -> list[RunConfig]:
    """Per seed of the profile: L0 in its authors' setting, and the dense LeNet5 trained the same way."""
    chosen = get_profile(profile)
    common = dict(model=MODEL, dataset=DATASET, **NATIVE_TRAINING)
    configs = []
    for seed in chosen.seed_list:
        configs.append(RunConfig.from_profile(chosen, criterion="l0", structured=True, sparsity=0.0,
                                              criterion_options=NATIVE_OPTIONS, seed=seed, **common))
        configs.append(RunConfig.from_profile(chosen, criterion=NO_CRITERION, seed=seed, **common))
    return configs


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m prunekit.experiments.l0_native --worker 0 --workers 2 --results results/l0-native``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", default=PROFILE, help="a smaller budget for a trial (e.g. smoke)")
    parser.add_argument("--results", type=Path, default=None, help="the store (default results/<profile>)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    store = ResultStore(args.results or Path("results") / get_profile(args.profile).name)
    sweep(worker_share(l0_native_configs(args.profile), args.worker, args.workers), store, progress=False)


if __name__ == "__main__":
    main()
