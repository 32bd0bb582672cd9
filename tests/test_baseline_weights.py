"""Multi-file weights (a config.json beside the weights): resolved to one folder by the same path
as single files: explicit path, weights dir, Hugging Face cache, download."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import bench.train.weights
from bench.api.errors import BenchError
from bench.api.weights import WeightsSpec
from bench.train.weights import download, locate, resolve

FOLDER_SPEC = WeightsSpec(
    method="toy-hub",
    identifier="hf_hub:someone/toy-encoder",
    hub_repo="someone/toy-encoder",
    hub_filename="pytorch_model.bin",
    local_names=("toy-hub", "toy-encoder"),
    hub_config_files=("config.json",),
    weights_aliases=("model.safetensors",),
)
FILE_SPEC = WeightsSpec("toy", "timm/toy.tag", "timm/toy.tag", "model.safetensors", ("toy.safetensors",))


def files(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")
    return folder


def cached_snapshot(cache: Path, repo: str, *names: str) -> Path:
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    files(repo_dir / "refs")
    (repo_dir / "refs" / "main").write_text("rev1")
    return files(repo_dir / "snapshots" / "rev1", *names)


def test_weights_dir_folder_by_method_or_repo_name(tmp_path: Path, hub_cache: Path) -> None:
    folder = files(tmp_path / "toy-encoder", "config.json", "model.safetensors")  # the alias name counts
    found = resolve(FOLDER_SPEC, None, tmp_path)
    assert (found.source, found.path, found.identifier) == ("weights_dir", str(folder), FOLDER_SPEC.identifier)


def test_incomplete_weights_dir_folder_says_what_is_missing(tmp_path: Path, hub_cache: Path) -> None:
    files(tmp_path / "toy-hub", "config.json")
    with pytest.raises(BenchError, match=r"incomplete.*config.json \+ \(pytorch_model.bin or model.safetensors\)"):
        resolve(FOLDER_SPEC, None, tmp_path)


def test_cache_snapshot_resolves_to_its_folder(tmp_path: Path, hub_cache: Path) -> None:
    snapshot = cached_snapshot(hub_cache, FOLDER_SPEC.hub_repo, "config.json", "pytorch_model.bin")
    found = resolve(FOLDER_SPEC, None, tmp_path / "empty")
    assert (found.source, Path(found.path or "")) == ("cache", snapshot)


def test_cache_snapshot_without_its_config_is_not_weights(hub_cache: Path) -> None:
    cached_snapshot(hub_cache, FOLDER_SPEC.hub_repo, "pytorch_model.bin")
    assert locate(FOLDER_SPEC, None, None) is None


def test_explicit_folder_or_a_file_in_it(tmp_path: Path, hub_cache: Path) -> None:
    folder = files(tmp_path / "mine", "config.json", "pytorch_model.bin")
    assert locate(FOLDER_SPEC, folder, None) == ("explicit", folder)
    assert locate(FOLDER_SPEC, folder / "pytorch_model.bin", None) == ("explicit", folder)
    files(tmp_path / "half", "pytorch_model.bin")
    with pytest.raises(BenchError, match=r"--weights toy-hub=FOLDER must hold config\.json"):
        locate(FOLDER_SPEC, tmp_path / "half", None)


def test_missing_folder_weights_message(tmp_path: Path, hub_cache: Path) -> None:
    with pytest.raises(BenchError) as error:
        resolve(FOLDER_SPEC, None, tmp_path)
    message = str(error.value)
    assert "\n" not in message
    for expected in ("toy-hub", "hf_hub:someone/toy-encoder", "--weights toy-hub=PATH", str(tmp_path),
                     "folder toy-hub/, toy-encoder/ holding config.json", "Hugging Face cache for someone/toy-encoder",
                     "offline", "bench weights fetch --methods toy-hub", "--init random"):
        assert expected in message, expected


def test_download_fetches_every_file_and_returns_the_snapshot(
    monkeypatch: pytest.MonkeyPatch, hub_cache: Path
) -> None:
    fetched: list[tuple[str, str]] = []

    def fake_download(repo: str, filename: str) -> str:
        fetched.append((repo, filename))
        return str(cached_snapshot_file(hub_cache, repo, filename))

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_download)
    folder = download(FOLDER_SPEC)
    assert fetched == [("someone/toy-encoder", "config.json"), ("someone/toy-encoder", "pytorch_model.bin")]
    assert FOLDER_SPEC.complete_folder(folder) and locate(FOLDER_SPEC, None, None) == ("cache", folder)
    assert download(FILE_SPEC).name == "model.safetensors"


def test_a_failed_download_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(repo: str, filename: str) -> str:
        raise OSError("no route")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", failing)
    with pytest.raises(BenchError, match=r"download of someone/toy-encoder/config\.json failed"):
        download(FOLDER_SPEC)


def test_download_tries_weights_aliases_in_order(monkeypatch: pytest.MonkeyPatch, hub_cache: Path) -> None:
    """A repo may publish the weights under another name (open_clip: safetensors or .bin)."""
    spec = replace(
        FILE_SPEC, hub_filename="open_clip_model.safetensors", weights_aliases=("open_clip_pytorch_model.bin",)
    )
    tried: list[str] = []

    def only_the_bin(repo: str, filename: str) -> str:
        tried.append(filename)
        if filename.endswith(".safetensors"):
            raise OSError("404")
        return str(cached_snapshot_file(hub_cache, repo, filename))

    monkeypatch.setattr("huggingface_hub.hf_hub_download", only_the_bin)
    assert download(spec).name == "open_clip_pytorch_model.bin"
    assert tried == ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]

    def unreachable(repo: str, filename: str) -> str:
        raise OSError("no route")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", unreachable)
    with pytest.raises(BenchError, match=r"download of timm/toy\.tag/open_clip_pytorch_model\.bin failed"):
        download(spec)


def test_resolve_downloads_when_online(monkeypatch: pytest.MonkeyPatch, hub_cache: Path, tmp_path: Path) -> None:
    snapshot = cached_snapshot(hub_cache / "elsewhere", FOLDER_SPEC.hub_repo, "config.json", "pytorch_model.bin")
    monkeypatch.setattr(bench.train.weights, "is_online", lambda: True)
    monkeypatch.setattr(bench.train.weights, "download", lambda spec: snapshot)
    found = resolve(FOLDER_SPEC, None, tmp_path)
    assert (found.source, found.path) == ("download", str(snapshot))


def cached_snapshot_file(cache: Path, repo: str, filename: str) -> Path:
    folder = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / "rev1"
    refs = folder.parent.parent / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text("rev1")
    return files(folder, filename) / filename
