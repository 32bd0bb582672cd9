import pytest

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.method import Method


def test_builtin_methods_and_datasets_are_registered() -> None:
    assert "resnet18" in registry.method_names()
    assert {"demo", "galaxy10_decals", "galaxy_mnist", "folder"} <= set(registry.dataset_names())
    assert isinstance(registry.create_method("resnet18"), Method)


def test_third_party_package_adds_a_method(plugin_methods: None) -> None:
    assert "tiny-convnet" in registry.method_names()
    assert registry.create_method("tiny-convnet").name == "tiny-convnet"


def test_unknown_method_lists_the_known_ones() -> None:
    with pytest.raises(BenchError, match=r"unknown method 'nope'.*resnet18"):
        registry.create_method("nope")


def test_demo_size_argument() -> None:
    splits = registry.load_dataset("demo:5", DataOptions())
    assert len(splits.train) + len(splits.val) + len(splits.test) == 50
    with pytest.raises(BenchError, match="demo:N"):
        registry.load_dataset("galaxy_mnist:5", DataOptions())

