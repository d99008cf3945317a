"""The one criterion registry: weight and node criteria under (granularity, name), one module per method."""

import importlib
import inspect
import pkgutil

import pytest
import torch

import prunekit.criteria.node as node_package
import prunekit.criteria.weight as weight_package
from prunekit.criteria import base
from prunekit.criteria import Criterion, available_criteria, criterion_class, get_criterion, register
from prunekit.structured import NodeCriterion, available_node_criteria, get_node_criterion, register_node_criterion


def _defined_criteria(package) -> list[type[Criterion]]:
    """Named concrete criterion classes defined in the package's modules (not imported into them)."""
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, Criterion) and cls.__module__ == module.__name__ and cls.name
                  and not inspect.isabstract(cls)]
    return found


@pytest.mark.parametrize("package, granularity", [(weight_package, "weight"), (node_package, "node")])
def test_every_criterion_module_of_a_package_registers_its_criteria_under_the_package_granularity(package, granularity):
    classes = _defined_criteria(package)
    assert classes
    for cls in classes:
        assert cls.granularity == granularity
        assert criterion_class(cls.name, granularity=granularity) is cls


def test_a_name_may_be_a_weight_and_a_node_criterion_and_each_granularity_gets_its_own():
    assert "random" in available_criteria() and "random" in available_node_criteria()
    assert get_criterion("random").granularity == "weight"
    assert get_node_criterion("random").granularity == "node"
    assert type(get_criterion("random", granularity="node")) is type(get_node_criterion("random"))


def test_the_node_names_are_the_registry_at_node_granularity():
    assert available_node_criteria() == available_criteria("node")
    assert set(available_criteria("weight")).isdisjoint({"snap-it", "cnip-it", "l0"})


def test_a_name_of_the_other_granularity_is_rejected_with_what_it_is_and_what_is_accepted():
    with pytest.raises(ValueError, match=r"unknown criterion 'snap-it' \('snap-it' is a node criterion.*snip-it"):
        get_criterion("snap-it")
    with pytest.raises(ValueError, match=r"unknown node criterion 'snip-it' \('snip-it' is a weight criterion.*snap-it"):
        get_node_criterion("snip-it")
    with pytest.raises(TypeError, match="must be a name or a Criterion, got a node criterion"):
        get_criterion(get_node_criterion("snap"))


def test_an_unknown_granularity_is_rejected_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"granularity must be one of 'weight', 'node', got 'edge'"):
        available_criteria("edge")


def test_registering_two_classes_under_one_name_of_one_granularity_is_refused(monkeypatch):
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))

    class Nodes(NodeCriterion):
        name = "snap-it"

        def score(self, ctx):
            return {n: torch.ones(s.size) for n, s in ctx.sites.items()}

    with pytest.raises(ValueError, match="a node criterion named 'snap-it' is already registered"):
        register_node_criterion(Nodes)
    with pytest.raises(TypeError, match="NodeCriterion subclass"):
        register_node_criterion(type(get_criterion("snip")))
    with pytest.raises(TypeError, match="only Criterion subclasses"):
        register(int)


def test_a_registered_node_criterion_is_found_by_name_at_node_granularity_only(monkeypatch):
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))

    @register_node_criterion
    class Widest(NodeCriterion):
        name = "widest"
        needs_data = False

        def score(self, ctx):
            return {n: torch.arange(s.size, dtype=torch.float) for n, s in ctx.sites.items()}

    assert isinstance(get_node_criterion("Widest"), Widest)
    assert "widest" not in available_criteria()
