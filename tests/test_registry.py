from collections.abc import Callable

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


def test_a_plugin_missing_an_abstract_member_fails_in_one_line(
    install_plugin: Callable[[dict[str, str]], None],
) -> None:
    install_plugin({"no-backbone": "plugins:NoBackbone"})
    with pytest.raises(BenchError) as failed:
        registry.create_method("no-backbone")
    message = str(failed.value)
    assert "method 'no-backbone' (plugins:NoBackbone) does not implement create_backbone" in message
    assert "\n" not in message


def test_capabilities_are_found_by_protocol() -> None:
    from bench.api.capabilities import EmbedsText, SavesModel
    from bench.train.loop import TrainsObjectives

    assert registry.methods_with(EmbedsText) == registry.methods_with(SavesModel) == [
        "clip-vit16", "cosmoclip-vit16", "galaxalign-convnext", "galaxalign-vit16", "paperclip-vit16"]
    assert set(registry.methods_with(TrainsObjectives)) == set(registry.method_names())


def test_unknown_method_lists_the_known_ones() -> None:
    with pytest.raises(BenchError, match=r"unknown method 'nope'.*resnet18"):
        registry.create_method("nope")


def test_demo_size_argument() -> None:
    splits = registry.load_dataset("demo:5", DataOptions())
    assert len(splits.train) + len(splits.val) + len(splits.test) == 50
    with pytest.raises(BenchError, match="demo:N"):
        registry.load_dataset("galaxy_mnist:5", DataOptions())

