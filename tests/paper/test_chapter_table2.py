"""Facts of the unstructured chapter (Tables 2 and 3): which runs it sweeps, and that its ordering claims,
ablation verdict and summary follow the numbers."""

import pandas as pd

from prunekit.experiments.config import RunConfig
from prunekit.experiments.profiles import get_profile
from prunekit.paper.chapters import table2 as chapter


def _runs(accuracy: dict[tuple[str, float], float]) -> pd.DataFrame:
    """One seed per (method, κ), plus a dense run."""
    rows = [{"model": "mlp5", "method": "none", "level": 0.0, "sparsity": 0.0, "accuracy": 0.98, "seed": 0}]
    rows += [{"model": "mlp5", "method": m, "level": k, "sparsity": k, "accuracy": a, "seed": 0}
             for (m, k), a in accuracy.items()]
    return pd.DataFrame(rows)


def test_the_paper_table_follows_the_dataset():
    assert chapter.paper_table_id("mnist") == 3 and chapter.paper_table_id("cifar10") == 2


def test_ablations_run_at_the_profiles_matching_levels_or_its_highest():
    cpu = get_profile("cpu")
    assert chapter.ablation_levels(cpu, (0.98, 0.99)) == [0.98, 0.99]
    assert chapter.ablation_levels(cpu, (0.42,)) == [max(cpu.sparsities)]


def test_grid_has_three_ablations_of_every_snip_it_run_and_extra_methods_only_from_the_threshold():
    smoke = get_profile("smoke")
    configs = chapter.grid(smoke, ["mlp5"], "mnist", [0], ["snip", "synflow"], (0.98,), 0.95)
    ablated = [c for c in configs if c.ablation != "none"]
    assert sorted({c.ablation for c in ablated}) == ["invert", "reinit", "shuffle"]
    assert all(c.criterion == "snip-it" and c.sparsity == 0.98 for c in ablated) and len(ablated) == 3
    assert {c.sparsity for c in configs if c.criterion == "synflow"} == {0.98}  # 0.9 lies below the threshold
    assert {c.sparsity for c in configs if c.criterion == "snip"} == set(smoke.sparsities)


def test_ordering_claims_skip_methods_not_run_and_keep_ledger_ids():
    runs = _runs({("snip-it", 0.9): 0.95, ("snip-it", 0.98): 0.90, ("snip", 0.9): 0.94, ("snip", 0.98): 0.80})
    claims = chapter.ordering_claims(runs, ["mlp5"], ["snip-it", "snip"])
    assert list(claims["id"]) == ["before-beats-snip"]
    assert bool(claims["holds"].iloc[0]) and claims["levels"].iloc[0] == "98%"
    assert chapter.ledger(claims, "mnist") == []  # a registered claim (cpu-before-beats-snip): not counted twice
    both = chapter.ordering_claims(_runs({("snip-it-during", 0.9): 0.95, ("snip-it", 0.9): 0.94}), ["mlp5"],
                                   ["snip-it-during", "snip-it"])
    (ledger,) = chapter.ledger(both, "mnist")
    assert ledger.id == "during-beats-before" and ledger.ours.startswith("MLP5, MNIST: ")


def test_ablation_verdict_depends_on_the_largest_loss():
    def means(drop: float) -> pd.DataFrame:
        return pd.DataFrame({"ablation": ["none", *chapter.ABLATIONS], "sparsity": [0.98] * 4,
                             "accuracy_mean": [0.95, 0.95 - drop, 0.95, 0.95], "accuracy_bound": [0.01] * 4})
    assert "carries little beyond its layer-wise sparsities" in chapter.ablation_text(means(0.005))
    text = chapter.ablation_text(means(0.05))
    assert "shuffle 5.00 pp" in text and "destroying it costs accuracy" in text
    assert list(chapter.ablation_table(means(0.05)).index) == ["SNIP-it mask", *chapter.ABLATIONS]


def _t3(dense_inside: bool = True) -> pd.DataFrame:
    """A Table 3 comparison: dense inside the paper's interval, two pruned rows above the paper's."""
    return pd.DataFrame([
        {"method": "dense", "paper label": "Baseline", "paper accuracy": 98.0, "paper bound": float("nan"),
         "paper sparsity": float("nan"), "paper HM": float("nan"), "n": 5, "accuracy": 98.3 if dense_inside else 99.0,
         "bound": 0.05, "sparsity": 0.0, "HM": float("nan"), "paper inside": dense_inside},
        {"method": "snip", "paper label": "SNIP", "paper accuracy": 96.0, "paper bound": 0.3, "paper sparsity": 96.0,
         "paper HM": 96.0, "n": 5, "accuracy": 97.8, "bound": 0.2, "sparsity": 96.0, "HM": 96.9, "paper inside": False},
        {"method": "snip-it", "paper label": "SNIP-it (ours)", "paper accuracy": 95.0, "paper bound": 0.2,
         "paper sparsity": 97.0, "paper HM": 96.0, "n": 5, "accuracy": 97.6, "bound": 0.1, "sparsity": 97.0,
         "HM": 97.3, "paper inside": False},
    ])


def test_table3_discussion_states_direction_size_cost_and_ranking():
    text = chapter.table3_discussion(_t3())
    assert "2 of the 3 rows fall outside the paper's interval, above it by 1.8 to 2.6 points" in text
    assert "Our dense baseline agrees with the paper's" in text and "lose 0.50 to 0.70 points, the paper's 2 to 3" in text
    assert "rank SNIP > SNIP-it before training" in text and "96 %: SNIP; 95 %: SNIP-it before training" in text
    assert "differs from" in chapter.table3_discussion(_t3(dense_inside=False))


def test_table3_view_shows_both_sides_and_the_interval_reading():
    view = chapter.table3_view(_t3())
    assert list(view["method"]) == ["Baseline", "SNIP", "SNIP-it before training"]
    assert list(view["paper inside our interval"]) == ["yes", "no", "no"]
    assert view.loc[1, "our accuracy"] == "97.80 ± 0.20" and view.loc[0, "paper sparsity"] == "—"


def test_table3_records_of_a_missing_store_are_empty(tmp_path):
    assert chapter.table3_records(tmp_path) == ([], [])


def test_disconnection_units_are_one_zero_or_one_per_seed_and_method():
    from prunekit.core.connectivity import is_disconnected
    from prunekit.data import dataset_info
    from prunekit.experiments.run import pruned_at_init
    from tests.sweep_helpers import data_root_or_skip, one_thread

    data_root_or_skip()
    smoke, info = get_profile("smoke"), dataset_info("mnist")
    with one_thread():
        entries = chapter.disconnection_units(smoke, "mlp5", "mnist", (0, 1), info)
        rebuilt = is_disconnected(pruned_at_init(RunConfig.from_profile(
            smoke, model="mlp5", dataset="mnist", criterion="snip", sparsity=chapter.DISCONNECTION_LEVEL, seed=1)),
            info.input_shape)
    assert [(e["method"], e["metric"], e["level"]) for e in entries] == [
        ("snip", "disconnected", 0.999), ("snip-it", "disconnected", 0.999)]
    assert all(len(e["values"]) == 2 and set(e["values"]) <= {0, 1} for e in entries)
    assert entries[0]["values"][1] == int(rebuilt)  # the same mask as a plain rebuild of that seed's config
