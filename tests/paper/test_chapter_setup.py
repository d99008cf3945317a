"""Facts of the setup chapter's page functions (Section 4, Appendices J and L), on small hand-built tables."""

from __future__ import annotations

import pandas as pd
import pytest

from prunekit.models import available_models
from prunekit.paper.chapters import setup as chapter

MNIST, IMAGENETTE = (1, 28, 28), (3, 128, 128)


def _pair(model, shape, parameters, flops, *, paper_parameters=None, match=True, last_map=None, positions=None):
    paper = parameters if paper_parameters is None else paper_parameters
    return {"model": model, "label": model.upper(), "datasets": "mnist", "input_shape": shape, "layers": 3,
            "weights": parameters, "paper_weights": paper, "parameters": parameters, "paper_parameters": paper,
            "parameters_diff_pct": 100.0 * (parameters - paper) / paper, "layers_match": match, "flops": flops,
            "counted_flops": flops, "last_feature_map": last_map, "head_positions": positions}


def _summary(**changes):
    rows = [_pair("mlp5", MNIST, 1_000_000, 2_000_000), _pair("lenet5", MNIST, 100_000, 500_000, last_map=(1, 1),
                                                               positions=9),
            _pair("mlp5", IMAGENETTE, 20_000_000, 40_000_000), _pair("lenet5", IMAGENETTE, 100_200, 50_000_000)]
    for index, row in changes.items():
        rows[int(index[1:])] |= row
    return pd.DataFrame(rows).astype({"head_positions": "Int64"})


def _training(cpu_epochs=6, cpu_lr=0.002):
    return pd.DataFrame({
        "setting": ["learning rate", "epochs", "mixed precision"],
        "the paper": [0.002, 80, None],
        "cpu profile": [cpu_lr, cpu_epochs, "fp32"],
        "differs in": ["" if cpu_lr == 0.002 else "cpu", "" if cpu_epochs == 80 else "cpu", ""],
    })


def _data_facts(on_disk=(True, False)):
    return pd.DataFrame({"dataset": ["mnist", "cifar10"], "on disk": list(on_disk),
                         "missing": ["" if d else "No CIFAR10 under /data/cifar10" for d in on_disk],
                         "differs from paper": ["", ""]})


def test_a_matching_summary_says_appendix_l_holds_for_every_pair():
    text = chapter.observations(_summary(), _data_facts(), _training(), "cpu")
    assert "In all 4 network/input-shape pairs (2 networks × 2 input shapes)" in text


def test_a_pair_off_appendix_l_is_named_with_its_parameter_difference():
    summary = _summary(r3={"paper_parameters": 100_000, "parameters_diff_pct": 0.2})
    text = chapter.observations(summary, _data_facts(), _training(), "cpu")
    assert "**1 pair(s) differ from Appendix L:** LENET5 at 3×128×128 (+0.20 % parameters)." in text
    assert "holds layer for layer" not in text


def test_sizes_span_the_smallest_and_largest_network_at_the_first_input():
    text = chapter.observations(_summary(), _data_facts(), _training(), "cpu")
    assert ("At 1×28×28 the networks range from 0.10 M parameters (LeNet5) to 1.0 M (MLP5), and from 0.5 to 2 "
            "MFLOPs per sample.") in text


def test_input_size_compares_convolutional_growth_with_mlp5s():
    text = chapter.observations(_summary(), _data_facts(), _training(), "cpu")
    assert "parameters change by at most 0.20 %" in text and "FLOPs grow 100× to 100× (LeNet5 to LeNet5)" in text
    assert "MLP5 grows the other way: 1.0 M → 20.0 M parameters" in text


def test_input_size_is_left_out_without_mlp5_or_a_second_shape():
    without_mlp5 = _summary()[lambda s: s["model"] != "mlp5"]
    one_shape = _summary()[lambda s: s["input_shape"] == MNIST]
    for summary in (without_mlp5, one_shape):
        assert "**Input size.**" not in chapter.observations(summary, _data_facts(), _training(), "cpu")


def test_only_networks_ending_in_one_pixel_are_listed_with_their_head_positions():
    text = chapter.observations(_summary(), _data_facts(), _training(), "cpu")
    assert "In LENET5 at 1×28×28 (×9) the last convolution" in text
    assert "3×128×128 (×" not in text
    no_pixel = _summary(r1={"last_feature_map": (4, 4)})
    assert "1×1 feature maps" not in chapter.observations(no_pixel, _data_facts(), _training(), "cpu")


def test_the_profile_bullet_lists_each_change_from_the_papers_value():
    text = chapter.observations(_summary(), _data_facts(), _training(), "cpu")
    assert "- **The `cpu` profile** keeps the paper's learning rate; it changes epochs (80 → 6)." in text
    same = chapter.observations(_summary(), _data_facts(), _training(cpu_epochs=80), "cpu")
    assert "keeps the paper's learning rate, epochs; it changes nothing else." in same


def test_changed_settings_are_those_whose_differs_in_names_the_profile():
    assert chapter.changed_settings(_training(cpu_lr=0.001), "cpu") == ["learning rate", "epochs"]
    assert chapter.changed_settings(_training(), "paper") == []


def test_the_cpu_profile_changes_budgets_and_nothing_the_paper_fixes():
    training = chapter.training_setup_table(["cpu", "paper"])
    assert set(chapter.changed_settings(training, "cpu")) == {
        "networks a results chapter sweeps", "epochs", "seeds per configuration",
        "τ: epochs between pruning steps (during)", "IMP rewind epoch",
        "HoyerSquare epochs (regularised + fine-tuning)"}
    assert set(chapter.SAME_IN_EVERY_PROFILE).isdisjoint(chapter.changed_settings(training, "cpu"))


def _fixed_settings(differs=""):
    return pd.DataFrame({"setting": list(chapter.SAME_IN_EVERY_PROFILE),
                         "differs in": [differs] + [""] * (len(chapter.SAME_IN_EVERY_PROFILE) - 1)})


def test_every_check_holds_on_a_summary_that_matches_the_paper():
    assert all(chapter.setup_checks(_summary(), _fixed_settings()).values())


@pytest.mark.parametrize("summary, training, failing", [
    (_summary(r0={"layers_match": False}), _fixed_settings(), "Appendix L's layers"),
    (_summary(r0={"paper_parameters": 999_000, "parameters_diff_pct": 0.1}), _fixed_settings(), "parameter counts"),
    (_summary(r2={"counted_flops": 1}), _fixed_settings(), "FLOP counts agree"),
    (_summary(), _fixed_settings("smoke"), "in every profile"),
])
def test_each_check_fails_on_the_fact_it_states(summary, training, failing):
    checks = chapter.setup_checks(summary, training)
    assert [name for name, holds in checks.items() if not holds] == [n for n in checks if failing in n]


def test_a_tolerance_admits_a_parameter_difference_within_it_and_a_negative_one_is_refused():
    summary = _summary(r0={"paper_parameters": 999_000, "parameters_diff_pct": 0.1})
    assert chapter.setup_checks(summary, _fixed_settings(), max_parameter_diff_pct=0.5)[
        "parameter counts equal the paper-derived ones within 0.5 %"]
    with pytest.raises(ValueError, match="max_parameter_diff_pct"):
        chapter.setup_checks(summary, _fixed_settings(), max_parameter_diff_pct=-1)


def test_missing_data_names_what_each_absent_dataset_lacks():
    text = chapter.missing_data_text(_data_facts())
    assert text.startswith("**On disk here:** mnist. Every other dataset")
    assert "- **cifar10**:\n\n  ```text\n  No CIFAR10 under /data/cifar10\n  ```" in text
    assert chapter.missing_data_text(_data_facts((True, True))) == "**On disk here:** mnist, cifar10. "
    assert chapter.missing_data_text(_data_facts((False, False))).startswith("**On disk here:** none.")


def test_the_architecture_view_colours_only_the_pairs_off_appendix_l():
    html = chapter.architecture_view(_summary(r1={"layers_match": False})).to_html()
    assert "row1_col0" in html and "row0_col0" not in html.split("</style>")[0]


def test_setting_values_print_floats_compactly_and_none_as_nothing():
    assert [chapter.setting_value(v) for v in (None, 5e-05, 0.3, 80, "Adam")] == ["", "5e-05", "0.3", "80", "Adam"]


def test_the_page_shows_every_registry_network_unless_told_otherwise():
    assert chapter.page_networks(None) == list(available_models())
    assert chapter.page_networks("mlp5") == ["mlp5"]
    with pytest.raises(ValueError, match="non-empty"):
        chapter.page_networks([])
