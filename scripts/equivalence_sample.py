"""The equivalence sample (results/equivalence): one tiny run of every method family, on 1 thread.

A family is what a check vouches for (``prunekit.experiments.freshness.family``: method and model), and
tests/experiments/test_equivalence_sample.py fails when a committed store uses one this sample lacks.
A refactor that should change no number is checked by re-running these under the new code:
`prunekit results --results-dir results/equivalence --verify 1` (two minutes or so). The script only adds
missing runs: run it from the code version the new runs should pin (`python scripts/equivalence_sample.py
results/equivalence`).
"""
import sys
import torch
torch.set_num_threads(1)
from prunekit.experiments import RunConfig, run
from prunekit.experiments.store import ResultStore

store = ResultStore(sys.argv[1])
S = dict(model="mlp5", dataset="mnist", seed=0, train_limit=512, test_limit=256, epochs=4, samples=128,
         scoring_batch_size=64, profile="smoke", device="cpu")
L = dict(S, model="lenet5")
configs = [
    RunConfig(**S),
    RunConfig(**S, criterion="snip", sparsity=0.9),
    RunConfig(**S, criterion="snip-it", sparsity=0.95),
    RunConfig(**S, criterion="snip-it", sparsity=0.95, prune_at="during", prune_interval=0.5, steps=3),
    RunConfig(**S, criterion="imp-global", sparsity=0.9, prune_interval=0.5, rewind_epoch=0.2, steps=3),
    RunConfig(**S, criterion="grasp", sparsity=0.9),
    RunConfig(**S, criterion="random", sparsity=0.9),
    RunConfig(**S, criterion="synflow", sparsity=0.9),
    RunConfig(**S, criterion="force", sparsity=0.9),
    RunConfig(**S, criterion="magnitude", sparsity=0.9),
    RunConfig(**S, criterion="hoyersquare", criterion_options=(("lam", 1e-3),)),
    RunConfig(**S, criterion="snip-it", sparsity=0.9, ablation="shuffle"),
    RunConfig(**L, criterion="snap-it", sparsity=0.5, structured=True),
    RunConfig(**S, criterion="snap-it", sparsity=0.5, structured=True, prune_at="during", prune_interval=0.5),
    RunConfig(**L, criterion="cnip-it", sparsity=0.5, structured=True),
    RunConfig(**L, criterion="random", sparsity=0.5, structured=True),
    RunConfig(**L, criterion="efficientconvnets", sparsity=0.5, structured=True),
    RunConfig(**L, criterion="gatedecorators", sparsity=0.5, structured=True),
    RunConfig(**L, criterion="group-hs", structured=True, criterion_options=(("lam", 1e-3),)),
    RunConfig(**L, criterion="l0", structured=True, criterion_options=(("lam", 1e-3),)),
    # added with family-scoped freshness: every family (method and model) a committed store uses
    RunConfig(**L),
    RunConfig(**S, criterion="grasp-it", sparsity=0.9),
    RunConfig(**S, criterion="iter-snip", sparsity=0.9),
    RunConfig(**S, criterion="snip-it", sparsity=0.9, ablation="invert"),
    RunConfig(**S, criterion="snip-it", sparsity=0.9, ablation="reinit"),
    RunConfig(**S, criterion="snap-it", sparsity=0.5, structured=True),
    RunConfig(**S, criterion="cnip-it", sparsity=0.5, structured=True),
    RunConfig(**S, criterion="random", sparsity=0.5, structured=True),
    RunConfig(**S, criterion="efficientconvnets", sparsity=0.5, structured=True),
    RunConfig(**S, criterion="gatedecorators", sparsity=0.5, structured=True),
    RunConfig(**S, criterion="group-hs", structured=True, criterion_options=(("lam", 1e-3),)),
    RunConfig(**S, criterion="l0", structured=True, criterion_options=(("lam", 1e-3),)),
    # added with structured GraSP and L0's authors' options (Appendix E; Figure 11's setting)
    RunConfig(**S, criterion="grasp", sparsity=0.5, structured=True),
    RunConfig(**L, criterion="grasp", sparsity=0.5, structured=True),
    RunConfig(**L, criterion="l0", structured=True, lr=1e-3, batch_size=100, weight_decay=0.0,
              criterion_options=(("ema", 0.999), ("lam", 1.0), ("layer_lams", "10,0.5,0.1,10"),
                                 ("penalty", "per-weight"), ("prior", 5e-4))),
]
for i, config in enumerate(configs):
    if store.get(config) is None:
        store.put(run(config, progress=False))
    print(i, config.criterion, config.prune_at, "done", flush=True)  # a script: progress on stdout
