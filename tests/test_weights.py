from dataclasses import replace
from pathlib import Path

import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save_file

from baselines.resnet import ResNet18
from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import PROFILES
from bench.api.weights import WeightsSpec
from bench.train.weights import for_run, resolve

SPEC = WeightsSpec("toy", "timm/toy.tag", "timm/toy.tag", "model.safetensors", ("toy.safetensors",))


def write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    return path


def hub_cache_file(repo: str, filename: str) -> Path:
    """Lay out a file the way huggingface_hub caches a download."""
    repo_dir = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    write(repo_dir / "refs" / "main").write_text("abc123")
    return write(repo_dir / "snapshots" / "abc123" / filename)


def test_explicit_file_wins(tmp_path: Path) -> None:
    explicit = write(tmp_path / "mine.safetensors")
    write(tmp_path / "dir" / "toy.safetensors")
    found = resolve(SPEC, explicit, tmp_path / "dir")
    assert (found.source, found.path, found.init) == ("explicit", str(explicit), "pretrained")


def test_weights_dir_then_hub_cache(tmp_path: Path) -> None:
    spec = replace(SPEC, hub_repo="timm/cached.tag")
    cached = hub_cache_file("timm/cached.tag", "model.safetensors")
    local = write(tmp_path / "toy.safetensors")
    assert resolve(spec, None, tmp_path).source == "weights_dir"
    local.unlink()
    found = resolve(spec, None, tmp_path)
    assert (found.source, Path(found.path).resolve()) == ("cache", cached.resolve())


def test_missing_weights_name_every_place_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as error:
        resolve(SPEC, None, tmp_path)
    message = str(error.value)
    assert "\n" not in message
    for expected in ("toy", "timm/toy.tag", "--weights toy=PATH", str(tmp_path), "Hugging Face cache",
                     "offline", "bench weights fetch --methods toy", "--init random"):
        assert expected in message


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        resolve(SPEC, tmp_path / "absent.safetensors", None)


def test_random_init_is_only_explicit() -> None:
    assert for_run("toy", SPEC, "random", None, None).init == "random"
    with pytest.raises(BenchError, match="no published pretrained weights"):
        for_run("toy", None, "pretrained", None, None)


def test_resnet18_loads_a_saved_checkpoint_through_timm(tmp_path: Path) -> None:
    """A random state_dict in timm's layout, loaded offline through the real pretrained path."""
    reference = timm.create_model("resnet18", num_classes=1000)
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    method = ResNet18()
    ctx = BuildContext(tuple("abcd"), PROFILES["paper"], "pretrained", torch.device("cpu"), weights_file=str(path))
    weights = method.build(ctx)
    assert (weights.source, weights.identifier) == ("explicit", "timm/resnet18.tv_in1k")
    assert torch.equal(method.model.backbone.conv1.weight, reference.conv1.weight)
    with torch.no_grad():
        features = method.model.backbone(torch.zeros(1, 3, 224, 224))
    assert features.shape == (1, 512)
    assert method.prep.image_size == 224 and method.prep.mean == (0.485, 0.456, 0.406)
