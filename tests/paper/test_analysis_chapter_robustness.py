"""Facts of the robustness chapter's helpers: which run stands for a method at a level, and the frames they fill."""

from __future__ import annotations

import pytest
import torch

from prunekit.paper.chapters.robustness import (
    at_level,
    attack_budget,
    attack_checkpoints,
    fooled_per_image,
    success_frame,
    unit_entries,
    blank_pixels,
    chapter_levels,
    checkpoint_configs,
    checkpoint_table,
    concentration_table,
    lambda_configs,
)
from prunekit.analysis.robustness import InputSpec
from prunekit.analysis.saliency import saliency_maps, top_share
from prunekit.experiments.methods import method_configs
from prunekit.experiments.store import ResultStore
from tests.helpers import FoolsFirst, tiny_mlp
from tests.sweep_helpers import fake_record

SPEC = InputSpec((1, 8, 8), (0.0, 1.0), (0.5,), (0.25,))


def test_levels_are_the_papers_where_the_profile_sweeps_them_and_the_focus_the_closest_to_kappa():
    assert chapter_levels("cpu") == ([0.98, 0.99, 0.995], 0.99)
    assert chapter_levels("smoke") == ([0.98], 0.98)  # smoke sweeps 90 and 98 % only
    assert chapter_levels("cpu", [0.995, 0.9], kappa=0.99) == ([0.9, 0.995], 0.995)
    with pytest.raises(ValueError, match="levels must be sparsities"):
        chapter_levels("cpu", [1.5])
    assert attack_budget("smoke").images < attack_budget("cpu").images


def test_a_lambda_method_is_represented_by_the_lambda_run_closest_in_sparsity(tmp_path):
    store = ResultStore(tmp_path)
    lambdas = (1e-4, 1e-3, 1e-2)
    runs = lambda_configs("smoke", model="mlp5", dataset="mnist", methods=["hoyersquare"], lambdas=lambdas)
    assert [dict(c.criterion_options)["lam"] for c in runs] == list(lambdas)
    with pytest.raises(ValueError, match=r"λ = \[0.0001, 0.001, 0.01\].*sweep lambda_configs"):
        checkpoint_configs(store, "smoke", model="mlp5", dataset="mnist", levels=[0.99], methods=["hoyersquare"],
                           lambdas=lambdas)
    for config, sparsity in zip(runs, (0.9, 0.985, 0.9884)):
        store.put(fake_record(config, weight_sparsity=sparsity))
    chosen = checkpoint_configs(store, "smoke", model="mlp5", dataset="mnist", levels=[0.98, 0.99, 0.995],
                                methods=["hoyersquare", "snip"], lambdas=lambdas)
    assert chosen[("hoyersquare", 0.98)] == runs[1] and chosen[("hoyersquare", 0.99)] == runs[2]
    assert chosen[("hoyersquare", 0.995)] == runs[2]  # no λ reaches 99.5 %: the closest one stands in
    assert chosen[("snip", 0.99)] == method_configs("snip", "smoke", model="mlp5", dataset="mnist", seeds=[0],
                                                    sparsities=[0.99])[0]
    with pytest.raises(ValueError, match="has no record"):
        checkpoint_table(store, chosen)
    table = checkpoint_table(store, {k: v for k, v in chosen.items() if k[0] == "hoyersquare"})
    assert table["weight_sparsity"].tolist() == [0.985, 0.9884, 0.9884] and table["lam"].tolist() == [1e-3, 1e-2, 1e-2]


def test_concentration_is_the_mean_top_share_of_each_networks_maps():
    networks = {("snip", 0.99): tiny_mlp(0).eval(), ("snip-it", 0.99): tiny_mlp(1).eval()}
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    table = concentration_table(networks, x).set_index("method")
    expected = top_share(saliency_maps(networks[("snip-it", 0.99)], x))
    assert table.loc["snip-it", "top_share"] == pytest.approx(float(expected.mean()))
    assert (table["n"] == 5).all() and (table["blind"] == 0).all()


def test_blank_share_is_the_saliency_on_pixels_zero_in_every_image():
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    images[:, :, :, 0] = 0.0  # the first column is blank in every image
    images[0, 0, 3, 3] = 0.0  # blank in one image only
    blank = blank_pixels(images)
    assert blank.shape == (8, 8) and int(blank.sum()) == 8 and bool(blank[:, 0].all())
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)).eval()
    with torch.no_grad():
        model[1].weight.fill_(1.0)  # every pixel equally salient
        model[1].weight[:, 1:8].zero_()  # but the rest of the first row sees nothing
    row = concentration_table({("snip", 0.99): model}, images, blank=blank).iloc[0]
    assert row["blank_share"] == pytest.approx(8 / 57)


def test_inputs_whose_class_score_ignores_the_input_are_counted_apart():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)).eval()
    with torch.no_grad():
        model[1].weight[1].zero_()  # class 1 sees no pixel
        model[1].bias.copy_(torch.tensor([0.0, 100.0]))  # and wins unless class 0's score is large
        model[1].weight[0].fill_(1.0)
    x = torch.cat([torch.full((2, 1, 8, 8), 2.0), torch.zeros(3, 1, 8, 8)])  # the first two are class 0
    row = concentration_table({("snip", 0.99): model}, x).iloc[0]
    assert row["n"] == 2 and row["blind"] == 3
    assert row["top_share"] == pytest.approx(4 / 64)  # ceil(5 % of 64) = 4 pixels of a uniform map


def test_attack_checkpoints_labels_rows_by_method_and_level():
    networks = {(m, level): tiny_mlp().eval() for m in ("snip", "grasp") for level in (0.98, 0.99)}
    images = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = torch.zeros(8, dtype=torch.long)
    frame = attack_checkpoints(networks, images, labels, [0.0, 1.0], SPEC, FoolsFirst(4))
    assert sorted(set(zip(frame["method"], frame["level"]))) == sorted(networks)
    assert frame[frame["epsilon"] == 1.0]["success_rate"].tolist() == [0.5] * 4
    assert set(at_level(networks, 0.98)) == {"snip", "grasp"}
    with pytest.raises(ValueError, match="no checkpoint at level 0.5"):
        at_level(networks, 0.5)


def test_per_image_outcomes_add_up_to_the_success_frame():
    networks = {(m, level): tiny_mlp().eval() for m in ("snip", "grasp") for level in (0.98, 0.99)}
    images = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = torch.zeros(8, dtype=torch.long)
    fooled = fooled_per_image(networks, images, labels, [0.0, 0.5, 1.0], SPEC, FoolsFirst(4))
    assert fooled[("snip", 0.99)].tolist() == [[0] * 8, [1, 1] + [0] * 6, [1] * 4 + [0] * 4]
    frame = success_frame(fooled, [0.0, 0.5, 1.0])
    assert frame.equals(attack_checkpoints(networks, images, labels, [0.0, 0.5, 1.0], SPEC, FoolsFirst(4)))
    assert frame[frame["epsilon"] == 0.5]["fooled"].tolist() == [2] * 4


def test_unit_entries_hold_one_value_per_image_and_leave_blind_maps_out():
    network = tiny_mlp().eval()
    networks = {("snip", 0.99): network}
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    fooled = fooled_per_image(networks, images, torch.zeros(5, dtype=torch.long), [0.25, 1.0], SPEC, FoolsFirst(4))
    configs = {("snip", 0.99): method_configs("snip", "smoke", model="mlp5", dataset="mnist", seeds=[0],
                                              sparsities=[0.99])[0]}
    entries = unit_entries(fooled, networks, images, configs, [0.25, 1.0], model="mlp5", dataset="mnist")
    attack = [e for e in entries if e["metric"] == "attack_success"]
    assert [(e["epsilon"], e["values"]) for e in attack] == [(0.25, [1, 0, 0, 0, 0]), (1.0, [1, 1, 1, 1, 0])]
    (share,) = [e for e in entries if e["metric"] == "top_share"]
    assert share["values"] == pytest.approx(top_share(saliency_maps(network, images)).tolist())
    assert share["key"] == configs[("snip", 0.99)].key and share["level"] == 0.99 and share["seed"] == 0
    with torch.no_grad():
        network[-1].weight.zero_()  # every class score is constant: all maps are zero, no share to record
    blind = unit_entries(fooled, networks, images, configs, [0.25, 1.0], model="mlp5", dataset="mnist")
    assert [e["values"] for e in blind if e["metric"] == "top_share"] == [[]]
