import numpy as np
import pytest

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.profiles import PROFILES
from bench.api.spec import RunSpec
from bench.data import demo, demo_mnist, galaxy_mnist
from bench.run.runner import Runner, RunSettings
from methods.galaxalign.prompts import class_prompts
from methods.galaxalign.symbols import symbol_kind


def test_it_has_galaxy_mnists_classes_drawn_from_the_matching_demo_classes() -> None:
    splits = registry.load_dataset("demo_mnist:3", DataOptions())
    assert splits.class_names == galaxy_mnist.CLASS_NAMES == ("smooth_round", "smooth_cigar", "edge_on_disk",
                                                              "unbarred_spiral")
    assert PROFILES["demo"].dataset_for("galaxy_mnist") == "demo_mnist:150"
    images, labels = demo.make_images(
        [[demo.CLASS_NAMES.index(name) for name in demo_mnist.SOURCES[c]] for c in demo_mnist.CLASS_NAMES], 3, seed=1
    )
    assert list(labels) == [0, 1, 2, 3] * 3
    expected = {  # image index -> the demo class it must be rendered as
        0: "Round Smooth", 1: "Cigar Shaped Smooth", 2: "Edge-on without Bulge", 3: "Unbarred Tight Spiral",
        6: "Edge-on with Bulge", 7: "Unbarred Loose Spiral", 10: "Edge-on without Bulge",
    }
    for index, name in expected.items():
        alone = demo.render_galaxy(demo.CLASS_NAMES.index(name), 64, np.random.default_rng([1, index]))
        assert np.array_equal(images[index], alone), (index, name)
    assert splits.train.read(np.arange(2)).shape == (2, 64, 64, 3)


@pytest.mark.parametrize("name", ["demo_mnist:10", "demo:5"])
def test_declared_sizes_match_the_loaded_splits(name: str) -> None:
    splits = registry.load_dataset(name, DataOptions())
    declared = registry.dataset_info(name).sizes
    assert declared is not None
    sizes = declared(registry.dataset_options(name, DataOptions()))
    assert (sizes.train, sizes.val, sizes.test) == (len(splits.train), len(splits.val), len(splits.test))


def test_default_size_is_about_the_demo_sets() -> None:
    mnist, demo_set = (info.sizes(DataOptions()) for info in (demo_mnist.DATASET, demo.DATASET) if info.sizes)
    assert sum(vars(mnist).values()) == sum(vars(demo_set).values()) == 1200
    assert (mnist.train, mnist.val, mnist.test) == (840, 180, 180)  # 70 / 15 / 15


def test_galaxalign_has_prompts_and_symbols_for_its_classes() -> None:
    prompts = class_prompts(demo_mnist.CLASS_NAMES)
    assert len(set(prompts)) == 4 and "cigar round smooth galaxy" in prompts[1]
    assert [symbol_kind(name) for name in demo_mnist.CLASS_NAMES] == ["smooth_round", "smooth_cigar", "edge_on",
                                                                       "spiral"]


@pytest.mark.slow
def test_resnet18_runs_on_it(tmp_path) -> None:
    fast = (("batch_size", 16), ("epochs", 1))
    [run] = Runner(RunSettings(results=tmp_path)).run([RunSpec("resnet18", "demo_mnist:10", overrides=fast)])
    record = run.to_dict()
    assert record["status"] == "ok", record.get("error")
    assert record["data"]["class_names"] == list(galaxy_mnist.CLASS_NAMES) and record["data"]["test"] == 8
    assert 0 <= record["metrics"]["classify"]["macro_f1"] <= 1 and 0 <= record["metrics"]["retrieve"]["map"] <= 1
