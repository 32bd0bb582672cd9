import itertools
from pathlib import Path

import pytest

from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.grid import files as grids
from bench.grid.expand import deduplicate

NATURAL = ["mae", "dinov2", "msn", "vit16", "resnet18", "resnet50", "galaxalign-vit16", "galaxalign-convnext"]
EVERY = [*NATURAL, "zoobot-maxvit", "zoobot-convnext"]
PAPER_DATASETS = {"galaxy10_decals", "galaxy_mnist_224"}  # under the paper profile: GalaxyMNIST at 224 px
FRACTIONS = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0}


def cells(specs: list[RunSpec]) -> set[tuple[str, str, str, float, int]]:
    return {(s.method, s.dataset, s.variant, s.fraction, s.seed) for s in specs}


def adaptations(specs: list[RunSpec]) -> dict[str, set[str]]:
    """Each method's adaptations in ``specs``."""
    found: dict[str, set[str]] = {}
    for spec in specs:
        found.setdefault(spec.method, set()).add(spec.adapt)
    return found


def test_shipped_grids_hold_the_papers_cells() -> None:
    assert set(grids.shipped()) == {"table2", "table3", "fig6", "table4", "vlm", "paper"}
    table2 = grids.load("table2").specs("paper")
    default = {m: "full" if m.startswith("galaxalign") else "default" for m in EVERY}
    assert cells(table2) == {(m, d, default[m], 1.0, s) for m in EVERY for d in PAPER_DATASETS for s in (0, 1, 2)}
    # Every baseline frozen and fine-tuned, Zoobot also by zoobot's recipe, GalaxAlign fine-tuned.
    frozen_and_full = {"linear", "full"}
    zoobot = {*frozen_and_full, "zoobot"}
    galaxalign = {"galaxalign-vit16": {"full"}, "galaxalign-convnext": {"full"}}
    assert adaptations(table2) == {**{m: frozen_and_full for m in NATURAL[:6]}, "zoobot-maxvit": zoobot,
                                   "zoobot-convnext": zoobot, **galaxalign}
    assert len(table2) == 2 * 3 * (6 * 2 + 2 * 3 + 2)
    assert grids.load("table3").specs("paper") == table2  # one fine-tuned model serves both tables
    fig6 = grids.load("fig6").specs("paper")
    assert {(m, d, f, s) for m, d, _, f, s in cells(fig6)} == set(
        itertools.product(NATURAL, PAPER_DATASETS, FRACTIONS, (0, 1, 2))
    )
    assert adaptations(fig6) == {**{m: frozen_and_full for m in NATURAL[:6]},
                                 "galaxalign-vit16": {"full"}, "galaxalign-convnext": {"full"}}
    table4 = grids.load("table4").specs("paper")
    assert {(m, d, v, s) for m, d, v, _, s in cells(table4)} == set(
        itertools.product(
            ["galaxalign-vit16", "galaxalign-convnext"], PAPER_DATASETS,
            ["full", "clip", "v1", "v2", "v3", "scratch"], (0, 1, 2),
        )
    )
    vlm = grids.load("vlm").specs("paper")
    text_methods = {("clip-vit16", "zeroshot"), ("clip-vit16", "finetune"), ("paperclip-vit16", "default"),
                    ("cosmoclip-vit16", "default"), ("galaxalign-vit16", "full"), ("galaxalign-convnext", "full")}
    assert {(m, d, v, s) for m, d, v, _, s in cells(vlm)} == {
        (m, d, v, s) for (m, v), d, s in itertools.product(text_methods, PAPER_DATASETS, (0, 1, 2))
    }
    assert all(spec.tasks == ("zeroshot", "text2image", "image2text") for spec in vlm)
    paper = grids.load("paper").specs("paper")
    identities = {(s.method, s.dataset, s.variant, s.adapt, s.fraction, s.seed) for s in paper}
    assert len(paper) == len(identities) == len(deduplicate([*table2, *fig6, *table4, *vlm])) == 600 + 36 - 12
    assert all(spec.init == "pretrained" for spec in paper)
    # GalaxAlign's cells of Table 2 also serve the vision-language tasks: trained once for all five
    assert {spec.tasks for spec in paper if spec.method.startswith("galaxalign") and spec.variant == "full"
            and spec.fraction == 1.0} == {("classify", "retrieve", "zeroshot", "text2image", "image2text")}


def test_a_profile_replaces_each_dataset_by_its_stand_in() -> None:
    demo = grids.load("paper").specs("demo", all_seeds=True)
    assert {spec.dataset for spec in demo} == {"demo:60", "demo_mnist:150"}
    # Table 4's scratch variant is full under random init: 12 cells run once for both.
    assert len(demo) == 624 - 12 and all(spec.init == "random" and spec.profile == "demo" for spec in demo)
    assert not any(spec.variant == "scratch" for spec in demo)


def test_command_line_settings_apply_to_every_cell(tmp_path: Path) -> None:
    path = write(tmp_path, BLOCK + 'overrides = { epochs = 2, lr = 0.1 }\noptions = { a = "b" }\n')
    specs = grids.load(str(path)).specs("demo", "random", {"epochs": 1}, {"c": "d"})
    assert specs and all(dict(s.overrides) == {"epochs": 1, "lr": 0.1} for s in specs)
    assert all(dict(s.options) == {"a": "b", "c": "d"} for s in specs)


def test_duplicate_cells_become_one_asking_for_every_task() -> None:
    classify = RunSpec("resnet18", "demo", tasks=("classify",))
    retrieve = RunSpec("resnet18", "demo", tasks=("retrieve",))
    assert deduplicate([classify, RunSpec("vit16", "demo"), retrieve]) == [
        RunSpec("resnet18", "demo", tasks=("classify", "retrieve")), RunSpec("vit16", "demo")
    ]


BLOCK = '[[cells]]\nmethods = ["resnet18"]\ndatasets = ["demo:6"]\nseeds = [0, 1]\n'


def write(folder: Path, body: str, name: str = "grid.toml", description: str = "a test grid") -> Path:
    path = folder / name
    path.write_text(f'description = "{description}"\n{body}' if description else body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BLOCK + "seeds = [0]\n", "not valid TOML"),
        (BLOCK + "sedes = [0]\n", "block 1: unknown key 'sedes'"),
        ('colour = "red"\n' + BLOCK, "unknown key 'colour'"),
        ('[[cells]]\ndatasets = ["demo"]\n', "block 1: 'methods' is missing"),
        (BLOCK.replace("[0, 1]", '["zero"]'), "block 1: seeds = ['zero'] is not valid"),
        (BLOCK + "fractions = [0.0]\n", "fractions = [0.0] is not valid"),
        (BLOCK + 'tasks = ["segment"]\n', "tasks = ['segment'] is not valid"),
        (BLOCK + 'adapt = "lora"\n', "adapt = 'lora' is not valid"),
        (BLOCK + "overrides = { epoch = 3 }\n", "overrides = {'epoch': 3} is not valid"),
        (BLOCK.replace("resnet18", "resnet19"), "block 1: unknown method 'resnet19'"),
        (BLOCK.replace("demo:6", "sdss"), "block 1: unknown dataset 'sdss'"),
        (BLOCK.replace("demo:6", "galaxy_mnist:6"), "block 1: dataset 'galaxy_mnist:6' takes no such argument"),
        (BLOCK + 'variants = ["clip"]\n', "block 1: no selected method has variant(s) ['clip']"),
        ('include = ["nope"]\n', "no shipped grid 'nope'"),
        ('include = ["grid.toml"]\n', "include each other in a cycle"),
        ("", "has no cells"),
    ],
)
def test_bad_grid_files_fail_with_one_line_naming_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(BenchError) as error:
        grids.load(str(path)).specs("demo")
    assert message in str(error.value) and str(path) in str(error.value) and "Fix:" in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_description_and_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="'description' is missing"):
        grids.load(str(write(tmp_path, BLOCK, description="")))
    with pytest.raises(BenchError, match=r"no shipped grid 'tabel2'\. Fix: use one of fig6, paper, table2"):
        grids.load("tabel2")
    with pytest.raises(BenchError, match="does not exist"):
        grids.load(str(tmp_path / "absent.toml"))


def test_includes_are_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, BLOCK, name="small.toml")
    combined = write(tmp_path, 'include = ["small.toml", "table2"]\n', name="both.toml")
    specs = grids.load(str(combined)).specs("demo")
    assert len(specs) == 2 + 120
