"""Facts of the costs chapter's page functions (Appendix K.4–K.7), on small hand-built runs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from prunekit.experiments.config import RunConfig
from prunekit.paper.chapters import costs as chapter
from tests.sweep_helpers import fake_record


def _record(criterion="none", sparsity=0.0, seed=0, **config):
    fields = dict(model="mlp5", dataset="mnist", criterion=criterion, sparsity=sparsity, seed=seed, epochs=2,
                  device="cpu")
    return fake_record(RunConfig(**{**fields, **config}))


def test_page_runs_leave_out_validation_runs_ablations_other_budgets_and_other_seeds():
    records = [_record(), _record(epochs=4), _record("snip-it", 0.9), _record("snip-it", 0.9, validation=0.2),
               _record("snip-it", 0.9, ablation="shuffle"), _record("snip-it", 0.9, seed=7),
               _record("snip-it", 0.9, model="lenet5")]
    kept, runs = chapter.page_runs(records, models=["mlp5"], dataset="mnist", seeds=[0], epochs=2)
    assert [(r.config.criterion, r.config.epochs) for r in kept] == [("none", 2), ("snip-it", 2)]
    assert list(runs["key"]) == [r.key for r in kept]


def _coverage(inference=(2, 2), threads=("1", "1")):
    return pd.DataFrame({"model": ["mlp5", "mlp5"], "family": ["dense", "unstructured"], "method": ["none", "snip-it"],
                         "runs": [2, 2], "torch threads": list(threads), "inference_seconds": list(inference),
                         "median_memory_bytes": [0, 0]})


def test_coverage_text_names_runs_without_an_inference_time_and_two_thread_runs():
    text = chapter.coverage_text(_coverage(inference=(0, 2), threads=("1, 2", "1")))
    assert text.startswith("**Runs without an inference time:** dense (dense) 2 of 2.")
    assert "**Runs with two threads:** dense (dense: 1 and 2); all others ran with one." in text
    assert "median memory of Figure 21" in text


def test_coverage_text_says_none_when_every_run_has_its_inference_time():
    text = chapter.coverage_text(_coverage())
    assert text.startswith("**Runs without an inference time:** none.")
    assert "two threads" not in text


def _runs(dense_inference):
    return pd.DataFrame({"model": ["mlp5"] * 4, "criterion": ["none", "snip-it", "snip-it", "snap-it"],
                         "family": ["dense", "unstructured", "unstructured", "structured"],
                         "batch_size": [512] * 4, "inference_seconds": [dense_inference, 0.002, 0.004, 0.0005]})


def test_a_missing_dense_inference_time_is_the_median_of_the_masked_runs():
    filled, note = chapter.with_inference_reference(_runs(np.nan))
    assert filled.loc[0, "inference_seconds"] == pytest.approx(0.003)
    assert filled.loc[3, "inference_seconds"] == 0.0005  # a recorded value stays
    assert "MLP5 3.00 ms per 512-sample batch" in note and "the 2 runs range from 2.0 to 4.0 ms" in note


def test_a_recorded_dense_inference_time_is_kept():
    runs = _runs(0.01)
    filled, note = chapter.with_inference_reference(runs)
    assert filled is runs and note.startswith("Every dense run records")


def test_the_memory_cost_is_the_median_only_where_every_run_records_it():
    assert chapter.page_costs(pd.DataFrame({"median_memory_bytes": [1.0, 2.0]}))[-1] == "median_memory"
    assert chapter.page_costs(pd.DataFrame({"median_memory_bytes": [1.0, np.nan]}))[-1] == "memory"
    assert chapter.page_costs(pd.DataFrame({"x": [1]})) == list(chapter.FIGURE_COSTS)


def test_the_rebuilt_flops_gap_is_relative_to_the_recorded_total():
    records = [SimpleNamespace(key="a", metrics={"training_flops": 100}),
               SimpleNamespace(key="b", metrics={"training_flops": 200})]
    cumulative = pd.DataFrame({"key": ["a", "a", "b", "b"], "cumulative_flops": [50, 100, 100, 190]})
    assert chapter.rebuilt_flops_gap(cumulative, records) == (2, pytest.approx(0.05))


def test_the_training_state_share_is_four_floats_per_weight_over_the_dense_runs_median_peak():
    runs = pd.DataFrame({"family": ["dense", "dense", "unstructured"], "model": ["mlp5"] * 3,
                         "dense_bits": [32 * 1000] * 3, "peak_memory_bytes": [16_000, 32_000, 1]})
    share, text = chapter.memory_share_text(runs, ["mlp5"])
    assert share == {"mlp5": pytest.approx(16_000 / 24_000)}  # 1000 weights × 4 bytes × (weight, grad, 2 moments)
    assert "all 1,000 weights" in text and "66.7 %" in text


def _summary():
    return pd.DataFrame({
        "model": ["mlp5"] * 4, "family": ["unstructured", "unstructured", "structured", "unstructured"],
        "method": ["snip-it", "snip-it", "snap-it", "hoyersquare"], "prune_at": ["before", "before", "before", "after"],
        "kappa": [0.9, 0.98, 0.98, 0.5], "n": [3, 3, 3, 1],
        **{f"{c}_reduction_median": [10.0, 50.0, 40.0, 1.0] for c in chapter.FIGURE_COSTS}})


def test_the_kappa_table_takes_each_methods_nearest_level_and_names_the_far_ones():
    chosen, table, far = chapter.kappa_table(_summary(), 0.98, list(chapter.FIGURE_COSTS))
    assert list(zip(chosen["method"], chosen["kappa"])) == [("snip-it", 0.98), ("snap-it", 0.98)]
    assert list(table["method"]) == ["SNIP-it", "SNAP-it (structured)"]
    assert far == ["HoyerSquare"]  # 50 % is 1.4 decades of kept weights from 98 %, beyond half a decade


def _claim_inputs(hoyer_training_flops=1.0):
    pruned = pd.DataFrame({
        "model": ["mlp5"] * 4, "family": ["unstructured", "unstructured", "unstructured", "structured"],
        "method": ["snip-it", "snip-it-during", "hoyersquare", "snap-it"],
        "prune_at": ["before", "during", "after", "before"], "kappa": [0.9, 0.9, 0.99, 0.9],
        "training_flops_reduction_median": [10.0, 4.0, hoyer_training_flops, 8.0],
        "inference_flops_reduction_median": [10.0, 10.0, 100.0, 8.0],
        "run_time_reduction_median": [0.9, 0.8, 0.95, 3.0], "inference_time_reduction_median": [1.0, 1.0, 1.0, 6.0],
        "memory_reduction_median": [1.0, 1.0, 1.0, 1.1]})
    keys = {"snip-it": "k1", "snip-it-during": "k2", "hoyersquare": "k3", "snap-it": "k4"}
    records = [SimpleNamespace(key=keys[m], config=SimpleNamespace(criterion=m.removesuffix("-during"), prune_at=p,
                                                                   structured=f == "structured", sparsity=k))
               for m, p, f, k in zip(pruned["method"], pruned["prune_at"], pruned["family"], pruned["kappa"])]
    cumulative = pd.DataFrame({"key": ["k1", "k1", "k2", "k2", "k3", "k3", "k4", "k4"], "epoch": [1, 2] * 4,
                               "reduction": [10.0, 10.0, 2.0, 4.0, 1.0, 1.0, 8.0, 8.0]})
    runs = pd.DataFrame({"family": ["unstructured"], "epochs": [2], "key": ["k1"]})
    reductions = pd.DataFrame({"key": ["k1"], "training_flops_reduction": [10.0]})
    return dict(pruned=pruned, runs=runs, reductions=reductions, cumulative=cumulative, records=records, kappa=0.9,
                epochs=2, memory_cost="memory")


def test_the_claims_are_the_ledgers_claims_and_each_is_tested_on_the_medians():
    claims = chapter.cost_claims(**_claim_inputs())
    assert set(claims) == set(chapter.CLAIM_IDS)
    holds = {name: h for name, (h, _) in claims.items()}
    assert holds["before training, training FLOPs fall as much as inference FLOPs"] is True
    assert holds["after training, training FLOPs are not reduced (1×)"] is True
    assert holds["pruning during training spends more training FLOPs than pruning before (yet fewer than dense)"]
    assert holds["structured pruning reduces inference time (SNAP-it ≥ 5× from 90 % nodes, as the paper's 5–6×)"]
    assert holds["structured pruning before training reduces memory (paper: SNAP-it 16–156×)"] is False
    assert holds["a method trained for more epochs spends more training FLOPs than the dense run "
                 "(Figure 16's caption)"] is None


def test_a_claim_contradicted_by_the_medians_is_reported_contradicted():
    claims = chapter.cost_claims(**_claim_inputs(hoyer_training_flops=3.0))
    holds, evidence = claims["after training, training FLOPs are not reduced (1×)"]
    assert holds is False and "3×" in evidence


def test_the_ledger_leaves_out_claims_without_runs_and_names_their_ids():
    claims = chapter.cost_claims(**_claim_inputs())
    entries = chapter.ledger_entries(claims, "mlp5", "mnist")
    assert len(entries) == len(claims) - 1
    assert [e.id for e in entries] == [chapter.CLAIM_IDS[n] for n, (h, _) in claims.items() if h is not None]
    assert entries[0].ours.startswith("MLP5, MNIST: ")
    table = chapter.claims_table(claims)
    assert list(table["claim"]) == list(claims) and table["holds"].isna().sum() == 1


def _sparse_times(speedups, flops=(10.0, 20.0, 50.0, 200.0)):
    import pandas as pd

    n = len(speedups)
    return pd.DataFrame({"sparsity": [0.9, 0.95, 0.98, 0.995][:n], "sparse_layers": [4] * n, "threads": [2] * n,
                         "unpruned_s": [3.0] * n, "masked_s": [3.1] * n, "sparse_s": [3.0 / s for s in speedups],
                         "speedup": list(speedups), "speedup_vs_masked": [3.1 / 3.0 * s for s in speedups],
                         "ratio_min": [s - 0.1 for s in speedups], "ratio_median": list(speedups),
                         "ratio_max": [s + 0.1 for s in speedups], "flops_reduction": list(flops[:n])})


def test_sparse_kernel_text_reports_the_measured_speedups_against_the_flops():
    from prunekit.paper.chapters import costs

    text = costs.sparse_kernel_text(_sparse_times([0.9, 1.5, 2.2, 2.5]))
    assert "0.90×, 1.50×, 2.20×, 2.50×" in text and "2.50× at κ = 99.5%" in text
    assert "1–9 %" in text  # 2.5 of 200 up to 0.9 of 10: the share of the FLOPs reduction realised
    assert "take 1.03× the unpruned" in text
    assert "Below κ = 95%" in text  # the 0.9× level is named as not paying for itself
    assert "Below" not in costs.sparse_kernel_text(_sparse_times([1.2, 1.5]))


def test_sparse_kernel_view_shows_every_level_with_its_spread():
    from prunekit.paper.chapters import costs

    view = costs.sparse_kernel_view(_sparse_times([1.2, 2.0]))
    assert list(view["κ"]) == ["90%", "95%"] and list(view["per-round ratio min–max (×)"]) == ["1.10–1.30", "1.90–2.10"]


def test_sparse_kernel_times_are_read_back_and_never_measured_where_training_is_forbidden(tmp_path, monkeypatch):
    from prunekit.experiments.store import ResultStore
    from prunekit.experiments.sweep import MissingRunsError
    from prunekit.paper.chapters import costs

    monkeypatch.setenv("PRUNEKIT_NO_TRAIN", "1")
    with pytest.raises(MissingRunsError, match="costs-sparse-kernels"):
        costs.sparse_kernel_times(ResultStore(tmp_path))
