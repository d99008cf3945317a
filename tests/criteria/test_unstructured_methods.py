"""Facts of IMP-global, FORCE / Iter-SNIP, HoyerSquare and the sanity-check ablations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

import prunekit
from prunekit.pruning.ablations import check_ablation, invert_masks, reinitialise_weights, shuffle_masks
from prunekit.pruning.after import RegularisedThresholdPruning
from prunekit.criteria import get_criterion
from prunekit.criteria.weight.force import force_scores
from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID, HoyerSquare, hoyer_square
from prunekit.pruning.during import PruneDuringTraining, event_step, snapshot_weights
from prunekit.experiments.config import RunConfig
from prunekit.experiments.run import run
from prunekit.core.masks import apply_mask, current_mask, effective_weight, get_masks, layer_counts, prunable_layers
from prunekit.pruning.before import global_keep_masks, kept_count
from prunekit.core.schedule import exponential_schedule, snip_it_schedule
from prunekit.training.loop import Callback, TrainConfig, train
from tests.helpers import tiny_mlp, toy_data
from tests.sweep_helpers import single_thread, tiny_config  # noqa: F401


def batches(x, y, size=100):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


# ------------------------------------------------------------------------------------------------------- IMP


class RewindWatch(Callback):
    """Registered after the pruner: records the weights right after every pruning step."""

    def __init__(self, pruner):
        self.pruner = pruner
        self.after_step: list[dict[str, torch.Tensor]] = []
        self.masks: list[dict[str, torch.Tensor]] = []
        self.dead_nonzero = 0

    def on_step_end(self, state):
        if len(self.after_step) < len(self.pruner.steps_done):
            self.after_step.append(snapshot_weights(state.model))
            self.masks.append(get_masks(state.model))
        for m in prunable_layers(state.model).values():
            if hasattr(m, "weight_mask"):
                self.dead_nonzero += int((m.weight[m.weight_mask == 0] != 0).sum())


@pytest.fixture(scope="module")
def imp_run():
    x, y = toy_data(800, seed=1)
    model = tiny_mlp(0)
    pruner = PruneDuringTraining("imp-global", 0.9, None, interval=1.5, rewind_epoch=2, steps=2)
    watch = RewindWatch(pruner)
    train(model, batches(x, y), None, TrainConfig(epochs=8, progress=False, device="cpu"), [pruner, watch])
    return model, pruner, watch


def test_imp_rewinds_surviving_weights_to_exactly_their_values_at_the_rewind_epoch(imp_run):
    _, pruner, watch = imp_run
    assert pruner.snapshot is not None
    assert [s.rewound for s in pruner.steps_done] == [False, True, True, True]  # the 1st step (1.5) precedes the rewind point (2)
    steps = [s.epoch for s in pruner.steps_done]
    assert steps == [1.5, 3.0, 4.5, 6.0]
    for after, masks, step in zip(watch.after_step, watch.masks, pruner.steps_done):
        if not step.rewound:
            continue
        for key, saved in pruner.snapshot.items():
            live = after.get(key, after.get(key + "_orig"))
            layer = key.rsplit(".", 1)[0]
            if key.endswith((".weight", ".weight_orig")) and layer in masks:
                alive = masks[layer] != 0
                assert torch.equal(live[alive], saved[alive]) and torch.all(live[~alive] == 0)
            else:
                assert torch.equal(live, saved), key  # biases, BatchNorm affine and running statistics too


def test_imp_prunes_by_global_magnitude_along_the_snip_it_schedule(imp_run):
    model, pruner, watch = imp_run
    targets = snip_it_schedule(0.9, 2)
    assert [s.target for s in pruner.steps_done] == targets
    total = sum(m.numel() for m in watch.masks[-1].values())
    for step in pruner.steps_done:
        assert step.kept == kept_count(step.target, total)
    assert watch.dead_nonzero == 0  # a pruned weight is never revived, through every rewind


def test_imp_is_refused_before_training_and_needs_no_data():
    imp = get_criterion("imp-global")
    assert imp.timings == ("during",) and not imp.needs_data
    with pytest.raises(ValueError, match="does not prune before training.*during training"):
        prunekit.prune(tiny_mlp(), "imp-global", 0.9)
    with pytest.raises(ValueError, match="prune_at must be one of during for criterion 'imp-global'"):
        tiny_config(criterion="imp-global", prune_at="before")


def test_rewind_epoch_is_in_the_key_only_when_set_and_scales_with_the_profile():
    imp = RunConfig.from_profile("cpu", model="mlp5", dataset="mnist", criterion="imp-global", sparsity=0.98,
                                device="cpu")
    assert imp.prune_at == "during"
    assert (imp.prune_interval, imp.rewind_epoch) == (0.3, 0.45)  # 4 and 6 of 80 epochs, scaled to 6
    assert imp.key != imp.replace(rewind_epoch=None).key
    snip = RunConfig.from_profile("paper", model="mlp5", dataset="mnist", criterion="snip-it", sparsity=0.98,
                                 device="cpu")
    assert (snip.prune_interval, snip.rewind_epoch) == (4, None)
    with pytest.raises(ValueError, match="rewind_epoch applies to pruning during training"):
        snip.replace(rewind_epoch=2.0)
    with pytest.raises(ValueError, match="rewind_epoch must be None or a number of epochs >= 0"):
        imp.replace(rewind_epoch=-1)


def test_fractional_intervals_land_on_optimiser_steps():
    assert event_step(0.3, 118) == 35 and event_step(0.0001, 118) == 1 and event_step(2, 50) == 100
    with pytest.raises(ValueError, match="prune_interval must be a positive number"):
        tiny_config(criterion="snip-it", prune_at="during", prune_interval=0)


# ---------------------------------------------------------------------------------------------- FORCE


def test_force_scores_every_weight_by_the_gradient_at_the_pruned_network():
    x, y = toy_data(256, seed=3)
    model = tiny_mlp(0).eval()
    layers = prunable_layers(model)
    g = torch.Generator().manual_seed(0)
    for m in layers.values():
        apply_mask(m, (torch.rand(m.weight.shape, generator=g) > 0.5).float())
    scores, mean_loss = force_scores(model, layers, [(x, y)], F.cross_entropy)
    # reference: an unpruned twin fed the pruned weights θ ⊙ m as independent leaves
    twin = tiny_mlp(0).eval()
    pruned = {f"{n}.weight": (m.weight_orig * m.weight_mask).detach().requires_grad_() for n, m in layers.items()}
    loss = F.cross_entropy(functional_call(twin, pruned, (x,)), y) * len(x)
    grads = torch.autograd.grad(loss, list(pruned.values()))
    for (name, m), grad in zip(layers.items(), grads):
        expected = (m.weight_orig.detach() * grad).abs() / loss.item()
        torch.testing.assert_close(scores[name], expected, rtol=1e-5, atol=1e-9)
        assert torch.any(scores[name][m.weight_mask == 0] > 0)  # pruned weights are scored too
    assert math.isclose(mean_loss, loss.item() / len(x), rel_tol=1e-6)


def test_global_ranking_with_regrowth_may_bring_back_a_pruned_weight():
    model = tiny_mlp(0)
    layers = prunable_layers(model)
    first = next(iter(layers))
    apply_mask(layers[first], torch.zeros_like(layers[first].weight))
    scores = {n: torch.ones_like(m.weight) * (10.0 if n == first else 1.0) for n, m in layers.items()}
    kappa = 0.9  # keeps 339 of 3392 weights: fewer than the 1344 outside the emptied first layer
    assert not global_keep_masks(layers, scores, kappa)[first].any()  # masks only shrink by default
    regrown = global_keep_masks(layers, scores, kappa, regrow=True)
    assert regrown[first].sum() == kept_count(kappa, 3392) and not any(regrown[n].any() for n in layers if n != first)


def test_force_and_iter_snip_reach_kappa_on_the_exponential_schedule():
    x, y = toy_data(600, seed=2)
    for name, regrows in (("force", True), ("iter-snip", False)):
        model = tiny_mlp(0)
        crit = get_criterion(name, rounds=5)
        assert crit.regrows is regrows and crit.schedule(0.95) == exponential_schedule(0.95, 5)
        result = prunekit.prune(model, crit, 0.95, (x, y), samples=256, batch_size=128)
        total = sum(c.total for c in layer_counts(model).values())
        assert [s.kept for s in result.steps] == [kept_count(t, total) for t in exponential_schedule(0.95, 5)]
    with pytest.raises(ValueError, match="rounds must be a positive integer"):
        get_criterion("force", rounds=0)


# ------------------------------------------------------------------------------------------- HoyerSquare


def test_hoyer_square_gradient_matches_autograd_of_the_plain_formula():
    w = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    plain = w.abs().sum() ** 2 / w.square().sum()
    (expected,) = torch.autograd.grad(plain, w)
    (ours,) = torch.autograd.grad(hoyer_square(w), w)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(hoyer_square(w), plain)
    assert torch.autograd.gradcheck(hoyer_square, (w,))


def test_hoyer_square_is_scale_invariant_and_between_one_and_the_number_of_weights():
    w = torch.randn(100)
    assert math.isclose(float(hoyer_square(3.7 * w)), float(hoyer_square(w)), rel_tol=1e-5)
    one_hot = torch.zeros(100)
    one_hot[3] = -2.0
    assert float(hoyer_square(one_hot)) == pytest.approx(1.0)
    assert float(hoyer_square(torch.ones(100))) == pytest.approx(100.0)
    assert float(hoyer_square(torch.zeros(5))) == 0.0
    assert torch.all(torch.autograd.functional.jacobian(hoyer_square, torch.zeros(5)) == 0)


def test_lambda_grid_is_ten_log_steps_from_1e_6_to_5():
    assert len(LAMBDA_GRID) == 10 and LAMBDA_GRID[0] == pytest.approx(1e-6) and LAMBDA_GRID[-1] == pytest.approx(5)
    ratios = [b / a for a, b in zip(LAMBDA_GRID, LAMBDA_GRID[1:])]
    assert max(ratios) == pytest.approx(min(ratios))


def run_hoyer(lam, epochs=6, batch=100):
    x, y = toy_data(600, seed=4)
    model = tiny_mlp(0)
    crit = HoyerSquare(lam=lam, threshold=1e-3, finetune_fraction=1 / 3)
    pruner = RegularisedThresholdPruning(crit)
    penalties = []

    class BeforeCut(Callback):  # registered before the pruner: sees the weights the cut thresholds
        def on_step_end(self, state):
            if state.step == pruner._cut_at:
                probe.cut_weights = {n: effective_weight(m).detach().clone()
                                     for n, m in prunable_layers(state.model).items()}

    class Probe(Callback):
        def on_step_end(self, state):
            penalties.append(pruner.penalty(state))
            if state.step == pruner._cut_at:
                self.cut_masks = get_masks(state.model)

    probe = Probe()
    train(model, batches(x, y, batch), None, TrainConfig(epochs=epochs, progress=False, device="cpu", weight_decay=0),
          [BeforeCut(), pruner, probe])
    return model, pruner, probe, penalties


def test_hoyersquare_cuts_once_at_the_threshold_after_the_regularised_share_then_fine_tunes():
    model, pruner, probe, penalties = run_hoyer(1e-3)
    steps_per_epoch = 6
    assert pruner._cut_at == event_step(4, steps_per_epoch) == 24
    assert [s.epoch for s in pruner.steps_done] == [4.0]
    assert all(p is not None for p in penalties[:23]) and all(p is None for p in penalties[24:])
    kept = total = 0
    for name, mask in probe.cut_masks.items():  # the cut keeps exactly the weights above the threshold
        assert torch.equal(mask != 0, probe.cut_weights[name].abs() > 1e-3)
        kept, total = kept + int((mask != 0).sum()), total + mask.numel()
    assert 0 < kept < total  # the rule was exercised: some weights fell below 1e-3, some stayed above
    for name, m in prunable_layers(model).items():  # the fine-tuning never revives a cut weight
        assert torch.all(m.weight[probe.cut_masks[name] == 0] == 0)


def test_a_stronger_hoyer_regulariser_gives_a_sparser_network():
    sparsities = [prunekit.core.masks.weight_sparsity(run_hoyer(lam, batch=20)[0]) for lam in (0.0, 1e-3, 0.05)]
    assert sparsities[0] < 0.05 and sparsities[0] + 0.1 < sparsities[1] and sparsities[1] + 0.3 < sparsities[2]


def test_hoyersquare_configs_prune_after_training_with_sparsity_zero():
    config = tiny_config(criterion="hoyersquare", sparsity=0.0, criterion_options={"lam": 1e-4})
    assert config.prune_at == "after"
    with pytest.raises(ValueError, match="sparsity must be 0 for criterion 'hoyersquare'"):
        tiny_config(criterion="hoyersquare", sparsity=0.9)
    with pytest.raises(ValueError, match="lam"):
        tiny_config(criterion="hoyersquare", sparsity=0.0, criterion_options={"lam": -1.0})
    with pytest.raises(ValueError, match="does not prune before training.*after training"):
        prunekit.prune(tiny_mlp(), "hoyersquare", 0.9)


# --------------------------------------------------------------------------------------------- ablations


def pruned_tiny(sparsity=0.8):
    x, y = toy_data(400, seed=5)
    model = tiny_mlp(0)
    prunekit.prune(model, "snip", sparsity, (x, y), samples=200, batch_size=100)
    return model, prunable_layers(model), (x, y)


def test_shuffle_keeps_every_layers_kept_count_and_moves_the_mask():
    model, layers, _ = pruned_tiny()
    before = get_masks(model)
    counts = {n: c.kept for n, c in layer_counts(model).items()}
    shuffle_masks(layers, torch.Generator().manual_seed(0))
    assert {n: c.kept for n, c in layer_counts(model).items()} == counts
    assert all(not torch.equal(before[n], current_mask(m)) for n, m in layers.items())


def test_reinit_keeps_the_mask_and_draws_new_weights():
    model, layers, _ = pruned_tiny()
    masks = get_masks(model)
    fresh = tiny_mlp(99)
    reinitialise_weights(model, fresh)
    assert all(torch.equal(masks[n], current_mask(m)) for n, m in layers.items())
    fresh_layers = prunable_layers(fresh)
    for n, m in layers.items():
        assert torch.equal(m.weight_orig, fresh_layers[n].weight)
        assert torch.equal(m.bias, fresh_layers[n].bias)


def test_invert_keeps_each_layers_count_but_the_lowest_ranked_weights():
    model, layers, (x, y) = pruned_tiny(0.9)
    counts = {n: c.kept for n, c in layer_counts(model).items()}
    real = get_masks(model)
    dense_scores = {n: torch.rand(m.weight.shape, generator=torch.Generator().manual_seed(i))
                    for i, (n, m) in enumerate(layers.items())}
    invert_masks(layers, dense_scores)
    assert {n: c.kept for n, c in layer_counts(model).items()} == counts
    for n, m in layers.items():
        kept_scores = dense_scores[n][current_mask(m) != 0]
        dropped_scores = dense_scores[n][current_mask(m) == 0]
        assert kept_scores.max() <= dropped_scores.min()
    assert any(not torch.equal(real[n], current_mask(m)) for n, m in layers.items())


def test_ablation_names_are_checked():
    assert check_ablation(" Shuffle") == "shuffle"
    with pytest.raises(ValueError, match="ablation must be one of none, shuffle, reinit, invert; got 'flip'"):
        check_ablation("flip")
    with pytest.raises(ValueError, match="applies to masks found before training"):
        tiny_config(criterion="snip-it", prune_at="during", ablation="shuffle", epochs=20)


# -------------------------------------------------------------------------------- runs on real MNIST


@pytest.mark.parametrize("overrides", [
    dict(criterion="imp-global", prune_at="during", sparsity=0.9, steps=1, epochs=2, prune_interval=0.5, rewind_epoch=0.25),
    dict(criterion="hoyersquare", sparsity=0.0, epochs=2, criterion_options={"lam": 1e-3}),
    dict(criterion="force", sparsity=0.9, criterion_options={"rounds": 3}),
    dict(criterion="snip", sparsity=0.9, ablation="invert"),
    dict(criterion="snip", sparsity=0.9, ablation="reinit"),
])
def test_every_new_method_runs_end_to_end_on_real_mnist(overrides, mnist_data_root, single_thread):
    config = tiny_config(**overrides)
    record = run(config, progress=False, data_root=mnist_data_root)
    assert record.prune_steps and len(record.history) == config.epochs
    assert record.accuracy == record.history[-1]["test_acc"]  # the record reports the final network's evaluation
    if overrides["criterion"] != "hoyersquare":
        assert record.metrics["weight_sparsity"] == pytest.approx(overrides["sparsity"], abs=1e-3)
    else:
        assert record.metrics["weight_sparsity"] == pytest.approx(record.prune_steps[0]["sparsity"])


def test_ablated_mask_keeps_the_plain_runs_layer_ratios(mnist_data_root, single_thread):
    plain = run(tiny_config(criterion="snip", sparsity=0.9), progress=False, data_root=mnist_data_root)
    shuffled = run(tiny_config(criterion="snip", sparsity=0.9, ablation="shuffle"), progress=False,
                   data_root=mnist_data_root)
    assert shuffled.layer_sparsity == pytest.approx(plain.layer_sparsity, abs=1e-9)
    assert shuffled.metrics["mask_digest"] != plain.metrics["mask_digest"]
    assert shuffled.key != plain.key
    reinit = run(tiny_config(criterion="snip", sparsity=0.9, ablation="reinit"), progress=False,
                 data_root=mnist_data_root)
    assert reinit.metrics["mask_digest"] == plain.metrics["mask_digest"]  # same mask, new weights:
    assert reinit.history[0]["train_loss"] != plain.history[0]["train_loss"]


# ---------------------------------------------------------------------------------------------------- CLI


def test_cli_builds_the_new_methods_with_the_profiles_scaled_settings():
    from prunekit.cli import _run_config, _sweep_configs, build_parser

    parse = build_parser().parse_args
    hoyer = _run_config(parse(["run", "--model", "mlp5", "--criterion", "hoyersquare", "--option", "lam=0.001",
                               "--profile", "cpu"]))
    assert (hoyer.prune_at, hoyer.sparsity, dict(hoyer.criterion_options)) == ("after", 0.0, {"lam": 0.001})
    imp = _run_config(parse(["run", "--model", "mlp5", "--criterion", "imp-global", "--profile", "cpu"]))
    assert (imp.prune_at, imp.prune_interval, imp.rewind_epoch) == ("during", 0.3, 0.45)
    shuffled = _run_config(parse(["run", "--model", "mlp5", "--criterion", "snip", "--ablation", "shuffle"]))
    assert shuffled.ablation == "shuffle"
    swept = _sweep_configs(parse(["sweep", "--model", "mlp5", "--criteria", "imp-global", "--profile", "paper",
                                  "--sparsities", "0.9"]))
    assert {(c.rewind_epoch, c.prune_interval) for c in swept} == {(6.0, 4.0)}
    with pytest.raises(ValueError, match="--option must look like NAME=VALUE"):
        _run_config(parse(["run", "--model", "mlp5", "--criterion", "force", "--option", "rounds"]))


# ------------------------------------------------------------------------------------- structured runs


def test_structured_configs_accept_node_criteria_before_training_only():
    config = tiny_config(criterion="snap-it", sparsity=0.5, structured=True)
    assert config.prune_at == "before" and config.key != tiny_config(criterion="snip-it", sparsity=0.5).key
    assert tiny_config(criterion="random", sparsity=0.5).key == tiny_config(criterion="random", sparsity=0.5,
                                                                            structured=False).key
    with pytest.raises(ValueError, match="structured criterion 'efficientconvnets' prunes after training"):
        tiny_config(criterion="efficientconvnets", sparsity=0.5, structured=True, prune_at="before")
    with pytest.raises(ValueError, match="criterion must be one of"):
        tiny_config(criterion="synflow", sparsity=0.5, structured=True)
    with pytest.raises(ValueError, match="rewind_epoch and ablation apply to weight pruning"):
        tiny_config(criterion="snap-it", sparsity=0.5, structured=True, ablation="shuffle")


@pytest.mark.parametrize("criterion", ["snap-it", "cnip-it"])
def test_a_structured_run_trains_the_physically_smaller_network(criterion, mnist_data_root, single_thread):
    dense = run(tiny_config(criterion="none", sparsity=0.0), progress=False, data_root=mnist_data_root)
    record = run(tiny_config(criterion=criterion, sparsity=0.5, structured=True), progress=False,
                 data_root=mnist_data_root)
    m = record.metrics
    assert m["parameters"] < dense.metrics["parameters"]
    assert m["inference_flops"] < m["dense_inference_flops"] == dense.metrics["dense_inference_flops"]
    assert m["dense_training_flops"] == dense.metrics["dense_training_flops"]
    if criterion == "snap-it":  # half the hidden nodes are physically gone
        assert m["node_sparsity"] == pytest.approx(0.5, abs=0.01)
    assert 0 < m["weight_sparsity"] < 1 and record.prune_steps
    assert set(record.layer_sparsity) == set(dense.layer_sparsity)


def test_criterion_cost_benchmark_reports_each_criterion_against_one_epoch(mnist_data_root, single_thread, monkeypatch):
    from prunekit.measure.bench import criterion_costs, format_costs

    monkeypatch.setenv("PRUNEKIT_DATA", str(mnist_data_root))
    costs = criterion_costs("mlp5", "mnist", 0.9, ["snip", "imp-global", "hoyersquare"], "cpu", limit=3000,
                            repeats=1)
    assert [c.criterion for c in costs] == ["snip", "hoyersquare (regulariser, per epoch)"]  # IMP prunes during
    assert costs[0].rounds == 1 and costs[0].seconds > 0 and costs[0].epochs == costs[0].seconds / costs[0].epoch_s
    assert "epochs" in format_costs(costs)
