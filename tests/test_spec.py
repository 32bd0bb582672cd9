from pathlib import Path

import pytest

from bench.api.spec import RunSpec
from bench.grid.expand import expand
from bench.run.store import ResultStore


def test_run_id_is_readable_and_changes_with_hand_set_settings() -> None:
    plain = RunSpec("resnet18", "demo", fraction=0.1, seed=2)
    assert plain.run_id == "demo-default-full-random-f0.1-s2"
    tuned = RunSpec("resnet18", "demo", fraction=0.1, seed=2, overrides=(("epochs", 3),))
    optioned = RunSpec("resnet18", "demo", fraction=0.1, seed=2, options=(("clip_tag", "x"),))
    assert len({plain.run_id, tuned.run_id, optioned.run_id}) == 3
    assert tuned.run_id.startswith(plain.run_id)


def test_spec_round_trips_through_its_record_form() -> None:
    spec = RunSpec("resnet18", "demo:20", 0.25, 1, tasks=("classify",), overrides=(("lr", 0.1),),
                   options=(("k", "v"),))
    assert RunSpec.from_dict(spec.to_dict()) == spec


def test_grid_expands_every_cell_once() -> None:
    specs = expand(["resnet18"], ["demo", "demo:20"], fractions=[0.1, 1.0], seeds=[0, 1, 2])
    assert len(specs) == len({s.run_id + s.dataset for s in specs}) == 12
    assert {s.init for s in specs} == {"random"}  # the demo profile's default, recorded in every spec
    assert {s.init for s in expand(["resnet18"], ["demo"], profile="paper")} == {"pretrained"}


@pytest.mark.parametrize("fields", [
    {"dataset": "../../x"}, {"dataset": "/tmp/x"}, {"profile": "../../../y"}, {"method": "../m"},
    {"dataset": ".."}, {"dataset": ""},
])
def test_every_record_path_stays_under_the_results_directory(tmp_path: Path, fields: dict[str, str]) -> None:
    spec = RunSpec(**{"method": "resnet18", "dataset": "demo", **fields})  # type: ignore[arg-type]
    root = tmp_path / "results"
    path = ResultStore(root).path_for(spec)
    assert path.resolve().is_relative_to(root.resolve()) and len(path.relative_to(root).parts) == 3
    assert not any(part.startswith(".") for part in path.relative_to(root).parts)


def test_record_paths_of_ordinary_names_are_unchanged(tmp_path: Path) -> None:
    spec = RunSpec("galaxalign-vit16", "demo_mnist:150", fraction=0.1)
    assert ResultStore(tmp_path).path_for(spec) == (
        tmp_path / "demo_mnist_150" / "galaxalign-vit16" / "demo-default-full-random-f0.1-s0.json")


def test_a_run_whose_task_the_data_cannot_define_is_done(tmp_path: Path) -> None:
    """Not rerun for ever: a task recorded as undefined on the test data counts as evaluated."""
    from bench.run.record import RunData, RunRecord

    spec = RunSpec("resnet18", "demo:6")
    data = RunData(protocol="p", train=40, train_full=40, val=10, test=10)
    store = ResultStore(tmp_path)
    store.write(RunRecord(run_id=spec.run_id, spec=spec, status="ok", data=data,
                          metrics={"classify": {"accuracy": 0.5}}, undefined_tasks={"retrieve": "undefined"}))
    assert store.is_done(spec)
    store.write(RunRecord(run_id=spec.run_id, spec=spec, status="ok", data=data, metrics={"classify": {}}))
    assert not store.is_done(spec)  # retrieval neither measured nor known to be undefined
