"""The files a user hands a run are part of its identity: a changed file is a new run, not "already done"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.run import inputs as inputs_module
from bench.run.inputs import fingerprint, with_inputs
from bench.run.record import RunData, RunRecord
from bench.run.runner import RunSettings
from bench.run.store import ResultStore


@pytest.fixture(autouse=True)
def fresh_fingerprints() -> None:
    fingerprint.cache_clear()  # files are rewritten within one test


def settings(tmp_path: Path, **fields: object) -> RunSettings:
    return RunSettings(results=tmp_path / "results", **fields)  # type: ignore[arg-type]


def weights_run(tmp_path: Path) -> tuple[Path, RunSpec, RunSettings]:
    """A paper-profile resnet18 spec, a --weights file for it (content "first") and the settings naming it."""
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"first")
    spec = RunSpec("resnet18", "galaxy10_decals", init="pretrained", profile="paper")
    return weights, spec, settings(tmp_path, weights_files={"resnet18": str(weights)})


def test_a_changed_weights_file_is_another_run(tmp_path: Path) -> None:
    weights, spec, chosen = weights_run(tmp_path)
    [first] = with_inputs([spec], chosen)
    assert dict(first.inputs)["weights"].startswith("sha256 ") and first.run_id != spec.run_id
    weights.write_bytes(b"second")
    fingerprint.cache_clear()
    [second] = with_inputs([spec], chosen)
    assert second.run_id != first.run_id
    [plain] = with_inputs([spec], settings(tmp_path))
    assert plain == spec and plain.run_id == spec.run_id  # nothing handed over: the name is unchanged


def test_an_option_file_and_a_data_path_count_but_not_for_synthetic_sets(tmp_path: Path) -> None:
    prompts, folder = tmp_path / "prompts.json", tmp_path / "cutouts"
    prompts.write_text('{"a": "a smooth galaxy"}')
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.png").write_bytes(b"x")
    galaxalign = RunSpec("galaxalign-vit16", "folder", options=(("clip_tag", "laion2b_s34b_b88k"),
                                                                ("prompts", str(prompts))))
    chosen = settings(tmp_path, data=DataOptions(path=str(folder)))
    [before] = with_inputs([galaxalign], chosen)
    assert set(dict(before.inputs)) == {"data cutouts", "option prompts"}  # clip_tag is no file
    (folder / "a" / "2.png").write_bytes(b"y")
    fingerprint.cache_clear()
    [more_images] = with_inputs([galaxalign], chosen)
    assert dict(more_images.inputs)["data cutouts"] != dict(before.inputs)["data cutouts"]
    prompts.write_text('{"a": "a round galaxy"}')
    fingerprint.cache_clear()
    [new_prompts] = with_inputs([galaxalign], chosen)
    assert dict(new_prompts.inputs)["option prompts"] != dict(before.inputs)["option prompts"]
    [demo] = with_inputs([RunSpec("resnet18", "demo:6")], chosen)
    assert demo.inputs == ()  # the synthetic set reads no file


def test_a_changed_dataset_file_in_the_data_folder_is_another_run(tmp_path: Path) -> None:
    """Galaxy10's file found in the data folder (no --data-path): its fingerprint is in the identity."""
    (tmp_path / "Galaxy10_DECals.h5").write_bytes(b"first version")
    chosen = settings(tmp_path, data=DataOptions(data_dir=str(tmp_path)))
    spec = RunSpec("resnet18", "galaxy10_decals")
    [first] = with_inputs([spec], chosen)
    assert set(dict(first.inputs)) == {"data Galaxy10_DECals.h5"}
    (tmp_path / "Galaxy10_DECals.h5").write_bytes(b"second version")
    fingerprint.cache_clear()
    [second] = with_inputs([spec], chosen)
    assert second.run_id != first.run_id
    [absent] = with_inputs([spec], settings(tmp_path, data=DataOptions(data_dir=str(tmp_path / "none"))))
    assert absent.inputs == ()  # not found: the loader names the fix when the run starts


def test_large_files_are_fingerprinted_by_size_mtime_and_their_ends(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs_module, "WHOLE_FILE_LIMIT", 4)
    big = tmp_path / "big.h5"
    big.write_bytes(b"0123456789")
    first = fingerprint(str(big), "--data-path")
    assert first.startswith("size 10, mtime ")
    os.utime(big, ns=(1, 1))
    fingerprint.cache_clear()
    assert fingerprint(str(big), "--data-path") != first
    with pytest.raises(BenchError, match=r"--weights .*missing.pth does not exist\. Fix: check the path"):
        fingerprint(str(tmp_path / "missing.pth"), "--weights")


def test_a_record_of_the_old_file_is_not_done_for_the_new_one(tmp_path: Path) -> None:
    weights, spec, chosen = weights_run(tmp_path)
    [old] = with_inputs([spec], chosen)
    store = ResultStore(chosen.results)
    data = RunData(protocol="p", train=1, train_full=1, val=1, test=1)
    store.write(RunRecord(run_id=old.run_id, spec=old, status="ok", data=data,
                          metrics={"classify": {}, "retrieve": {}}))
    assert store.is_done(old) and store.load(old) is not None
    assert dict(store.load(old).spec.inputs) == dict(old.inputs)  # the record keeps the fingerprints
    weights.write_bytes(b"second")
    fingerprint.cache_clear()
    [new] = with_inputs([spec], chosen)
    assert not store.is_done(new)
