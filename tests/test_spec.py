from bench.api.spec import RunSpec
from bench.grid.expand import expand


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
