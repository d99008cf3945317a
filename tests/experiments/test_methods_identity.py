"""A method's identity lives in experiments/methods.py: labels, colours and orders as the book showed them."""

import pytest

from prunekit.experiments import methods
from prunekit.experiments.methods import (
    STRUCTURED_METHODS,
    STRUCTURED_TIMINGS,
    UNSTRUCTURED_METHODS,
    method_color,
    method_label,
    method_order,
    structured_label,
    structured_order,
    structured_timing,
    sweeps_lambda,
)
from prunekit.structured import available_node_criteria, get_node_criterion

# Label and colour of every method the book showed before the identity moved here (issue #14): they must not change.
BOOK_LOOKS = {
    "baseline": ("dense", "#000000"),
    "cnip-it": ("CNIP-it", "#6baed6"),
    "efficientconvnets": ("EfficientConvNets", "#9467bd"),
    "force": ("FORCE", "#e377c2"),
    "gatedecorators": ("GateDecorators", "#17becf"),
    "grasp": ("GraSP", "#2ca02c"),
    "grasp-it": ("GraSP-it", "#74c476"),
    "group-hs": ("Group-HS", "#2ca02c"),
    "hoyersquare": ("HoyerSquare", "#8c564b"),
    "imp-global": ("IMP-global", "#9467bd"),
    "iter-snip": ("Iter-SNIP", "#393b79"),
    "l0": ("L0", "#d62728"),
    "magnitude": ("Magnitude", "#bcbd22"),
    "none": ("dense", "#000000"),
    "random": ("Random", "#7f7f7f"),
    "snap": ("SNAP", "#fdae6b"),
    "snap-it": ("SNAP-it", "#ff7f0e"),
    "snap-it-during": ("SNAP-it (during)", "#a63603"),
    "snip": ("SNIP", "#1f77b4"),
    "snip-it": ("SNIP-it", "#d62728"),
    "snip-it-during": ("SNIP-it (during)", "#8b0000"),
    "synflow": ("SynFlow", "#17becf"),
}


@pytest.mark.parametrize("key", sorted(BOOK_LOOKS))
def test_every_method_keeps_the_label_and_colour_the_book_showed(key):
    assert (method_label(key), method_color(key)) == BOOK_LOOKS[key]
    assert (method_label(key.upper()), method_color(key.upper())) == BOOK_LOOKS[key]


def test_the_book_orders_keep_their_sequence():
    assert method_order(reversed(methods.METHOD_ORDER)) == list(methods.METHOD_ORDER)
    assert methods.METHOD_ORDER[:8] == ("none", "baseline", "snip", "snip-it", "grasp", "random", "imp-global",
                                        "hoyersquare")
    assert structured_order(["cnip-it", "snap-it", "random", "l0", "group-hs", "gatedecorators", "efficientconvnets"]) \
        == ["efficientconvnets", "gatedecorators", "group-hs", "l0", "random", "snap-it", "cnip-it"]
    assert method_order(["zeta", "snip", "alpha"]) == ["snip", "zeta", "alpha"]  # unknown methods keep their order


def test_every_sweep_method_has_a_label_and_colour_of_its_own():
    for key, method in {**UNSTRUCTURED_METHODS, **STRUCTURED_METHODS}.items():
        assert key in methods.LOOKS
        assert (method.label, method.color) == (method_label(key), method_color(key))


def test_when_a_node_criterion_prunes_is_read_off_the_criterion():
    assert dict(STRUCTURED_TIMINGS) == {name: get_node_criterion(name).timings[0] for name in available_node_criteria()}
    assert structured_timing("l0") == "during" and structured_timing("snip-it") is None
    assert structured_label("gatedecorators") == "GateDecorators (after)"
    assert structured_label("snap-it-during") == "SNAP-it (during)"  # a method key, no node criterion: no suffix
    assert structured_label("efficientconvnets", timing=False) == "EfficientConvNets"


def test_lambda_methods_are_the_criteria_that_do_not_target_a_sparsity():
    assert set(methods.LAMBDA_CRITERIA) == {"hoyersquare", "group-hs", "l0"}
    assert sweeps_lambda("Group-HS") and not sweeps_lambda("snip-it") and not sweeps_lambda("none")
    assert [m.key for m in UNSTRUCTURED_METHODS.values() if m.sweeps_lambda] == ["hoyersquare"]
