"""A weights file that does not hold the model's weights is a one-line error, never "pretrained":
for timm ``arch.tag`` files, Zoobot's hub folders (timm ``local-dir:``), MSN's transformers folder
and GalaxAlign's open_clip checkpoints. Each loader is given a foreign state_dict, random bytes, a
file with one tensor of another shape and one lacking a tensor; the correct file still loads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from test_weights import one_line_error
from test_zoobot_recipe import hub_folder
from torch import nn
from typer.testing import Result

from baselines.msn import MSN
from baselines.resnet import ResNet18
from baselines.zoobot import ZoobotConvNeXt
from bench.api.method import BuildContext
from bench.api.profiles import PROFILES
from bench.api.weights import ResolvedWeights
from bench.train.checkpoint import differences
from methods.clip.model import create_clip
from methods.galaxalign.model import VIT16

State = dict[str, torch.Tensor]
Spoil = Callable[[State, Path], None]  # writes a wrong weights file at the path, given the right state


def foreign(state: State, path: Path) -> None:
    torch.save(nn.Linear(10, 3).state_dict(), path)


def random_bytes(state: State, path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def reshaped(key: str) -> Spoil:
    def spoil(state: State, path: Path) -> None:
        torch.save({**state, key: torch.zeros(*state[key].shape[:-1], state[key].shape[-1] + 1)}, path)
    return spoil


def lacking(key: str) -> Spoil:
    def spoil(state: State, path: Path) -> None:
        torch.save({name: value for name, value in state.items() if name != key}, path)
    return spoil


def expected_messages(path: Path, state: State, key: str) -> dict[str, list[str]]:
    """What the error says about each wrong file, ``key`` being the tensor reshaped or left out."""
    shape = tuple(state[key].shape)
    wrong = (*shape[:-1], shape[-1] + 1)
    return {
        "foreign": [f"{path} does not hold this model's weights", f"{len(state)} of the model's {len(state)} "
                    "tensors missing"],
        "random_bytes": [f"{path} is not a torch or safetensors checkpoint"],
        "reshaped": [f"1 of another shape (first {key}: file {wrong}, model {shape})"],
        "lacking": [f"1 of the model's {len(state)} tensors missing ({key})"],
    }


def spoilers(key: str) -> dict[str, Spoil]:
    return {"foreign": foreign, "random_bytes": random_bytes, "reshaped": reshaped(key), "lacking": lacking(key)}


KINDS = ("foreign", "random_bytes", "reshaped", "lacking")


def check_refused(build: Callable[[], object], path: Path, state: State, key: str, kind: str, fix: str) -> None:
    message = one_line_error(build)
    for expected in (*expected_messages(path, state, key)[kind], fix):
        assert expected in message, message


def paper_context(**fields: str) -> BuildContext:
    return BuildContext(tuple("abcd"), PROFILES["paper"], "pretrained", torch.device("cpu"), **fields)


# --- timm arch.tag: resnet18 ---------------------------------------------------------------------

RESNET_KEY = "layer4.1.conv2.weight"
RESNET_FIX = "point --weights resnet18= / BENCH_WEIGHTS_DIR at the files of timm/resnet18.tv_in1k"


@pytest.fixture(scope="module")
def resnet_backbone() -> State:
    """resnet18's backbone tensors (``num_classes=0``: what the run builds and must fill)."""
    return timm.create_model("resnet18", num_classes=0).state_dict()


@pytest.mark.parametrize("kind", KINDS)
def test_resnet18_refuses_a_file_without_its_weights(kind: str, resnet_backbone: State, tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    spoilers(RESNET_KEY)[kind](resnet_backbone, path)
    build = partial(ResNet18().build, paper_context(weights_file=str(path)))
    check_refused(build, path, resnet_backbone, RESNET_KEY, kind, RESNET_FIX)


def test_random_bytes_named_safetensors_are_no_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.safetensors"
    path.write_bytes(os.urandom(4096))
    message = one_line_error(lambda: ResNet18().build(paper_context(weights_file=str(path))))
    assert f"{path} is not a torch or safetensors checkpoint" in message and RESNET_FIX in message


def test_the_cli_run_of_a_foreign_file_fails_in_one_line(
    tmp_path: Path, run_bench: Callable[[list[str]], Result]
) -> None:
    weights = tmp_path / "w.pth"
    torch.save(nn.Linear(10, 3).state_dict(), weights)
    result = run_bench(["run", "--profile", "paper", "--methods", "resnet18", "--weights", f"resnet18={weights}",
                        "--datasets", "demo:6", "--epochs", "1", "--device", "cpu",
                        "--results", str(tmp_path / "results")])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if str(weights) in line]
    assert len(lines) == 1 and "does not hold this model's weights" in lines[0] and RESNET_FIX in lines[0]


# --- timm local-dir: a Zoobot hub folder ---------------------------------------------------------

ZOOBOT_KEY = "stages.2.blocks.0.conv_dw.weight"
ZOOBOT_FIX = ("point --weights zoobot-convnext= / BENCH_WEIGHTS_DIR at the files of "
              "hf_hub:mwalmsley/zoobot-encoder-convnext_base")


@pytest.mark.parametrize("kind", KINDS)
def test_zoobot_refuses_a_folder_without_its_weights(kind: str, tmp_path: Path) -> None:
    folder = tmp_path / "zoobot-convnext"
    state = hub_folder(folder)
    path = folder / "pytorch_model.bin"
    spoilers(ZOOBOT_KEY)[kind](state, path)
    build = partial(ZoobotConvNeXt().build, paper_context(weights_dir=str(tmp_path)))
    check_refused(build, path, state, ZOOBOT_KEY, kind, ZOOBOT_FIX)


def test_zoobot_loads_its_own_folder(tmp_path: Path) -> None:
    state = hub_folder(tmp_path / "zoobot-convnext")
    method = ZoobotConvNeXt()
    method.build(paper_context(weights_dir=str(tmp_path)))
    assert all(torch.equal(method.model.backbone.state_dict()[key], value) for key, value in state.items())


# --- transformers: MSN ---------------------------------------------------------------------------

MSN_KEY = "encoder.layer.0.attention.attention.query.weight"
MSN_FIX = "point --weights msn= / BENCH_WEIGHTS_DIR at the files of facebook/vit-msn-base"


def msn_folder(folder: Path) -> State:
    """facebook/vit-msn-base's layout (config.json, preprocessor_config.json, pytorch_model.bin) for
    a one-layer ViT; returns the weights saved, under the file's key names."""
    from transformers import ViTMSNConfig, ViTMSNModel

    torch.manual_seed(2)
    config = ViTMSNConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64)
    ViTMSNModel(config).save_pretrained(folder)
    from safetensors.torch import load_file

    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "ViTImageProcessor", "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "size": 32,
    }))
    return state


@pytest.mark.parametrize("kind", KINDS)
def test_msn_refuses_a_folder_without_its_weights(kind: str, tmp_path: Path) -> None:
    folder = tmp_path / "msn"
    state = msn_folder(folder)
    path = folder / "pytorch_model.bin"
    spoilers(MSN_KEY)[kind](state, path)
    message = one_line_error(lambda: MSN().build(paper_context(weights_dir=str(tmp_path))))
    expected = expected_messages(path, state, MSN_KEY)[kind]
    if kind != "random_bytes":  # transformers reports its own (renamed) keys
        shown = {"foreign": f"{len(state)} of the model's {len(state)} tensors missing",
                 "lacking": f"1 of the model's {len(state)} tensors missing", "reshaped": "1 of another shape (first "}
        expected = [f"{path} does not hold this model's weights", shown[kind]]
    for part in (*expected, MSN_FIX):
        assert part in message, message


# --- open_clip: GalaxAlign's CLIP ----------------------------------------------------------------

CLIP_MODEL = VIT16.tiny_model  # open_clip's ViT CLIP at a few layers: the loader is the same
CLIP_KEY = "visual.transformer.resblocks.0.mlp.c_fc.weight"
CLIP_IDENTIFIER = "open_clip/ViT-B-16.laion2b_s34b_b88k"
CLIP_FIX = f"point --weights galaxalign-vit16= / BENCH_WEIGHTS_DIR at the files of {CLIP_IDENTIFIER}"


def load_clip(path: Path) -> nn.Module:
    weights = ResolvedWeights("pretrained", "explicit", str(path), CLIP_IDENTIFIER)
    model: nn.Module = create_clip(CLIP_MODEL, 64, "galaxalign-vit16", weights)
    return model


@pytest.fixture(scope="module")
def clip_state() -> State:
    return create_clip(CLIP_MODEL, 64, "galaxalign-vit16").state_dict()  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", KINDS)
def test_clip_refuses_a_file_without_its_weights(kind: str, clip_state: State, tmp_path: Path) -> None:
    path = tmp_path / "clip.bin"
    spoilers(CLIP_KEY)[kind](clip_state, path)
    check_refused(lambda: load_clip(path), path, clip_state, CLIP_KEY, kind, CLIP_FIX)


def test_clip_loads_its_own_file(clip_state: State, tmp_path: Path) -> None:
    path = tmp_path / "clip.safetensors"
    save_file({key: value.contiguous() for key, value in clip_state.items()}, str(path))
    loaded = load_clip(path).state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in clip_state.items())


# --- the shared comparison -----------------------------------------------------------------------


def test_differences_name_missing_and_reshaped_keys_and_ignore_extra_ones() -> None:
    expected = {"a": torch.zeros(2), "b": torch.zeros(2, 3), "c": torch.zeros(1)}
    loaded = {"b": torch.zeros(3, 2), "c": torch.ones(1), "head.weight": torch.zeros(5)}
    assert differences(expected, loaded) == (["a"], ["b: file (3, 2), model (2, 3)"])
    assert differences(expected, {**expected, "head.bias": torch.zeros(1)}) == ([], [])
