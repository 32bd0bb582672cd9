"""The paper's baselines: real checkpoint layouts loaded offline through each library's own loader,
tiny demo variants run end to end, and the shared head-dropout and layer-decay code."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from baselines.msn import MSN
from baselines.resnet import ResNet18, ResNet50
from baselines.vit import MAE, DINOv2, ViT16
from baselines.zoobot import LEAKAGE_NOTE, ZoobotConvNeXt, ZoobotMaxViT
from bench.api import registry
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import PROFILES
from bench.api.spec import RunSpec
from bench.run.runner import Runner, RunSettings
from bench.train.classifier import BackboneClassifier, Classifier, parameter_groups
from bench.train.loop import warmup_cosine

BASELINES = ("mae", "dinov2", "msn", "vit16", "resnet18", "resnet50", "zoobot-maxvit", "zoobot-convnext")
REVISION = "0123456789abcdef0123456789abcdef01234567"


def snapshot(cache: Path, repo: str) -> Path:
    """The snapshot folder of ``repo`` in a hand-built Hugging Face cache, with refs/main."""
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(REVISION)
    folder = repo_dir / "snapshots" / REVISION
    folder.mkdir(parents=True)
    return folder


def build_paper(method: BackboneClassifier, **context: Any) -> Any:
    ctx = BuildContext(tuple("abcd"), PROFILES["paper"], "pretrained", torch.device("cpu"), **context)
    return method.build(ctx)


@torch.inference_mode()
def embed_one(method: BackboneClassifier) -> torch.Tensor:
    size = method.prep.image_size
    return method.model.backbone(torch.rand(1, 3, size, size))


# --- pretrained weights in their published layout, loaded offline -------------------------------

TIMM_CASES = [
    # plugin, timm architecture as published, a parameter to compare, embedding size
    (ViT16, "vit_base_patch16_224", "blocks.11.mlp.fc2.weight", 768),
    (MAE, "vit_base_patch16_224", "blocks.7.attn.qkv.weight", 768),
    (ResNet18, "resnet18", "layer4.1.conv2.weight", 512),
    (ResNet50, "resnet50", "layer4.2.conv3.weight", 2048),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plugin", "arch", "parameter", "features"), TIMM_CASES, ids=["vit16", "mae", "resnet18", "resnet50"]
)
def test_timm_checkpoint_loads_from_the_hub_cache(
    hub_cache: Path, plugin: type[BackboneClassifier], arch: str, parameter: str, features: int
) -> None:
    """timm's model.safetensors (classifier included where timm publishes one) in the cache's layout."""
    method = plugin()
    spec = method.weights_spec(PROFILES["paper"])
    assert spec is not None
    published = timm.models.get_pretrained_cfg(plugin.paper_model)
    assert published is not None
    reference = timm.create_model(arch, num_classes=published.num_classes).state_dict()
    checkpoint = snapshot(hub_cache, spec.hub_repo) / "model.safetensors"
    save_file({k: v.contiguous() for k, v in reference.items()}, str(checkpoint))

    weights = build_paper(method)

    assert (weights.source, weights.identifier) == ("cache", f"timm/{plugin.paper_model}")
    assert torch.equal(method.model.backbone.state_dict()[parameter], reference[parameter])
    assert embed_one(method).shape == (1, features)
    assert (method.prep.image_size, method.prep.mean, method.prep.std) == (224, published.mean, published.std)


@pytest.mark.slow
def test_dinov2_checkpoint_at_518_px_is_resampled_to_224(hub_cache: Path) -> None:
    """DINOv2's published position embeddings are for 518 px (37 x 37 patches); built at 224 px
    timm resamples them to 16 x 16, and every other weight arrives as saved."""
    method = DINOv2()
    spec = method.weights_spec(PROFILES["paper"])
    assert spec is not None and spec.hub_repo == "timm/vit_base_patch14_dinov2.lvd142m"
    reference = timm.create_model("vit_base_patch14_dinov2", num_classes=0).state_dict()
    assert reference["pos_embed"].shape == (1, 1 + 37 * 37, 768)
    save_file(reference, str(snapshot(hub_cache, spec.hub_repo) / "model.safetensors"))

    weights = build_paper(method)

    backbone = method.model.backbone
    assert weights.source == "cache"
    assert torch.equal(backbone.blocks[5].ls1.gamma, reference["blocks.5.ls1.gamma"])  # LayerScale
    assert backbone.pos_embed.shape == (1, 1 + 16 * 16, 768)
    assert torch.equal(backbone.pos_embed[0, 0], reference["pos_embed"][0, 0])  # the CLS position is kept
    assert method.prep.image_size == 224 and embed_one(method).shape == (1, 768)


@pytest.mark.slow
def test_msn_checkpoint_loads_through_transformers(hub_cache: Path) -> None:
    """facebook/vit-msn-base's layout: config.json, preprocessor_config.json and pytorch_model.bin
    with the 2022 key names (``encoder.layer.N.attention.attention.query``)."""
    from transformers import ViTMSNConfig, ViTMSNModel

    folder = snapshot(hub_cache, "facebook/vit-msn-base")
    config = ViTMSNConfig(  # the published config.json's architecture
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        image_size=224, patch_size=16, layer_norm_eps=1e-6, qkv_bias=True,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    ViTMSNModel(config).save_pretrained(folder)  # writes the original key names
    published = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(published, folder / "pytorch_model.bin")  # the repo ships a pickle, not safetensors
    # The real file says how MSN was trained to see images; these values are distinctive so that
    # the test shows they are read from the file and not assumed.
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_resize": True, "feature_extractor_type": "ViTFeatureExtractor",
        "image_mean": [0.4, 0.45, 0.5], "image_std": [0.2, 0.25, 0.3], "resample": 3, "size": 224,
    }))
    assert "encoder.layer.3.attention.attention.query.weight" in published

    method = MSN()
    weights = build_paper(method)

    assert (weights.source, weights.path, weights.identifier) == ("cache", str(folder), "facebook/vit-msn-base")
    layer = method.model.backbone.model.layers[3]
    assert torch.equal(layer.attention.q_proj.weight, published["encoder.layer.3.attention.attention.query.weight"])
    assert torch.equal(method.model.backbone.model.layernorm.weight, published["layernorm.weight"])
    assert method.prep.mean == (0.4, 0.45, 0.5) and method.prep.std == (0.2, 0.25, 0.3)
    assert method.prep.image_size == 224 and embed_one(method).shape == (1, 768)


ZOOBOT_CASES = [
    # plugin, the repo's config.json as mwalmsley published it, a parameter, embedding size
    (ZoobotConvNeXt, {
        "architecture": "convnext_base", "num_classes": 0, "num_features": 1024,
        "pretrained_cfg": {
            "tag": "fb_in22k_ft_in1k", "custom_load": False, "input_size": [3, 224, 224],
            "test_input_size": [3, 288, 288], "fixed_input_size": False, "interpolation": "bicubic",
            "crop_pct": 0.875, "test_crop_pct": 1.0, "crop_mode": "center",
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "num_classes": 1000,
            "pool_size": [7, 7], "first_conv": "stem.0", "classifier": "head.fc",
        },
    }, "stages.2.blocks.20.conv_dw.weight", 1024),
    (ZoobotMaxViT, {
        "architecture": "maxvit_rmlp_base_rw_224", "num_classes": 0, "num_features": 768, "global_pool": "avg",
        "pretrained_cfg": {
            "tag": "sw_in12k_ft_in1k", "custom_load": False, "input_size": [3, 224, 224],
            "fixed_input_size": True, "interpolation": "bicubic", "crop_pct": 0.95, "crop_mode": "center",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": 1000, "pool_size": [7, 7],
            "first_conv": "stem.conv1", "classifier": "head.fc",
        },
    }, "stages.2.blocks.13.attn_grid.attn.qkv.weight", 768),
]


@pytest.mark.slow
@pytest.mark.parametrize(("plugin", "config", "parameter", "features"), ZOOBOT_CASES, ids=["convnext", "maxvit"])
def test_zoobot_hub_repo_loads_from_the_hub_cache(
    hub_cache: Path, plugin: type[BackboneClassifier], config: dict[str, Any], parameter: str, features: int
) -> None:
    """mwalmsley's repo layout: config.json beside pytorch_model.bin (an encoder saved with
    num_classes=0), in the snapshot folder of a hand-built cache, read with HF_HUB_OFFLINE=1."""
    method = plugin()
    spec = method.weights_spec(PROFILES["paper"])
    assert spec is not None and spec.identifier == plugin.paper_model  # type: ignore[attr-defined]
    folder = snapshot(hub_cache, spec.hub_repo)
    (folder / "config.json").write_text(json.dumps(config))
    reference = timm.create_model(config["architecture"], num_classes=0).state_dict()
    torch.save(reference, folder / "pytorch_model.bin")

    weights = build_paper(method)

    assert (weights.source, weights.path, weights.identifier) == ("cache", str(folder), plugin.paper_model)  # type: ignore[attr-defined]
    assert torch.equal(method.model.backbone.state_dict()[parameter], reference[parameter])
    assert embed_one(method).shape == (1, features)
    assert method.prep.mean == tuple(config["pretrained_cfg"]["mean"]) and method.prep.image_size == 224


def test_zoobot_folder_of_another_architecture_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "zoobot-convnext"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architecture": "resnet18", "num_classes": 0}))
    torch.save(timm.create_model("resnet18", num_classes=0).state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(BenchError, match="builds resnet18, not convnext_base"):
        build_paper(ZoobotConvNeXt(), weights_dir=str(tmp_path))


def test_zoobot_plugins_carry_the_leakage_note() -> None:
    import baselines.zoobot

    assert "test splits may have" in (baselines.zoobot.__doc__ or "")
    for plugin in (ZoobotConvNeXt, ZoobotMaxViT):
        assert plugin.notes == LEAKAGE_NOTE and "\n" not in plugin.notes
        assert all(word in plugin.notes for word in ("DECaLS", "Galaxy10", "GalaxyMNIST", "test"))


# --- no weights anywhere: one line naming every place looked ---------------------------------


@pytest.mark.parametrize("name", BASELINES)
def test_missing_paper_weights_name_every_place_looked(name: str, hub_cache: Path, tmp_path: Path) -> None:
    method = registry.create_method(name)
    spec = method.weights_spec(PROFILES["paper"])
    assert spec is not None
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    with pytest.raises(BenchError) as error:
        build_paper(method, weights_dir=str(weights_dir))  # type: ignore[arg-type]
    message = str(error.value)
    assert "\n" not in message
    for expected in (name, spec.identifier, f"--weights {name}=PATH", str(weights_dir), *spec.local_names,
                     "Hugging Face cache", spec.hub_repo, "offline", f"bench weights fetch --methods {name}"):
        assert expected in message, expected


# --- tiny demo variants, end to end through the Runner -----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", BASELINES)
def test_tiny_variant_trains_through_the_runner(name: str, tmp_path: Path) -> None:
    spec = RunSpec(name, "demo:20", overrides=(("epochs", 1),))
    [record] = [run.to_dict() for run in Runner(RunSettings(results=tmp_path)).run([spec])]
    assert record["status"] == "ok", record.get("error")
    assert record["weights"]["init"] == "random" and record["spec"]["profile"] == "demo"
    assert set(record["metrics"]) == {"classify", "retrieve"}
    scores = [*record["metrics"]["classify"].items(), *record["metrics"]["retrieve"].items()]
    assert all(0.0 <= value <= 1.0 for key, value in scores if key in ("accuracy", "macro_f1", "map@5", "map"))
    expected = registry.create_method(name).default_config(PROFILES["demo"]).to_dict()
    floor = math.ceil(PROFILES["demo"].fraction_epoch_share * record["data"]["train_full"])
    assert record["config"] == {**expected, "epochs": 1, "min_epoch_images": floor}
    assert record["fit"]["epochs_run"] == 1 and record["train_images_per_s"] > 0


def test_tiny_dinov2_keeps_patch_14_and_layer_scale() -> None:
    method = DINOv2()
    method.build(BuildContext(tuple("ab"), PROFILES["demo"], "random", torch.device("cpu")))
    backbone = method.model.backbone
    assert method.prep.image_size == 70 and backbone.patch_embed.patch_size == (14, 14)
    assert backbone.num_prefix_tokens == 1 and float(backbone.blocks[0].ls1.gamma[0].detach()) == pytest.approx(1e-5)


# --- head dropout -------------------------------------------------------------------------------


def test_head_dropout_acts_in_training_mode_only() -> None:
    torch.manual_seed(0)
    model = Classifier(nn.Flatten(), 48, 3, head_dropout=0.5)
    seen: list[torch.Tensor] = []
    model.head.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    images = torch.rand(8, 3, 4, 4) + 0.1
    model.train()
    model(images)
    zeroed = float((seen[-1] == 0).float().mean())
    assert 0.3 < zeroed < 0.7
    assert torch.allclose(seen[-1][seen[-1] != 0], images.flatten(1)[seen[-1] != 0] * 2)  # kept ones rescaled
    model.eval()
    assert torch.equal(model(images), model.head(images.flatten(1)))


@pytest.mark.slow
def test_finetune_sets_the_configs_head_dropout() -> None:
    splits = registry.load_dataset("demo:3", DataOptions())
    method = ZoobotConvNeXt()
    method.build(BuildContext(splits.class_names, PROFILES["demo"], "random", torch.device("cpu")))
    assert method.model.dropout.p == 0.0
    cfg = method.default_config(PROFILES["demo"])
    assert cfg.head_dropout == 0.5
    method.finetune(splits.train, None, replace(cfg, epochs=1))
    assert method.model.dropout.p == 0.5


# --- layer-wise learning-rate decay -------------------------------------------------------------


def lrs_by_parameter(model: Classifier, groups: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """parameter name -> (lr, weight decay) of the group holding it."""
    ids = {id(p): name for name, p in model.named_parameters()}
    found = {ids[id(p)]: (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    assert len(found) == len(ids), "every parameter in exactly one group"
    return found


def tiny(name: str) -> BackboneClassifier:
    method: BackboneClassifier = registry.create_method(name)  # type: ignore[assignment]
    method.build(BuildContext(tuple("abc"), PROFILES["demo"], "random", torch.device("cpu")))
    return method


@pytest.mark.parametrize(
    ("name", "stem", "block", "final_norm"),
    [
        ("vit16", "backbone.pos_embed", "backbone.blocks.{}.attn.qkv.weight", "backbone.norm.weight"),
        ("msn", "backbone.model.embeddings.position_embeddings",
         "backbone.model.layers.{}.attention.q_proj.weight", "backbone.model.layernorm.weight"),
    ],
)
def test_layer_decay_scales_each_depth(name: str, stem: str, block: str, final_norm: str) -> None:
    """timm's ViT grouping: embeddings, then one layer per block, the final norm joining the last
    block; with 3 blocks layer i of 4 gets lr * 0.5**(3 - i). The transformers MSN model, through
    its wrapper's group_matcher, gets exactly the groups of the timm ViT."""
    method = tiny(name)
    cfg = replace(method.default_config(PROFILES["demo"]), lr=1.0, weight_decay=0.1, layer_decay=0.5)
    lrs = lrs_by_parameter(method.model, parameter_groups(method.model, cfg))
    assert lrs[stem] == (0.5**3, 0.0)  # position embeddings: bottom layer, no weight decay
    for depth in range(3):
        assert lrs[block.format(depth)] == (0.5 ** (2 - depth), 0.1)
    assert lrs[final_norm] == (1.0, 0.0)
    assert lrs["head.weight"] == (1.0, 0.1) and lrs["head.bias"] == (1.0, 0.0)


def test_layer_decay_for_zoobot_convnext_follows_timm_groups() -> None:
    method = tiny("zoobot-convnext")
    cfg = method.default_config(PROFILES["demo"])
    assert cfg.layer_decay == 0.75
    lrs = lrs_by_parameter(method.model, parameter_groups(method.model, cfg))
    by_depth = [lrs[name][0] for name in (
        "backbone.stem.0.weight", *(f"backbone.stages.{i}.blocks.0.conv_dw.weight" for i in range(4)),
        "backbone.head.norm.weight", "head.weight",
    )]
    assert by_depth == sorted(by_depth) and by_depth[0] < by_depth[1] < by_depth[4] < cfg.lr
    assert by_depth[-2:] == [cfg.lr, cfg.lr]  # the final norm and the head train at the full rate
    for lr, _ in lrs.values():  # every rate is lr * 0.75**k
        k = math.log(lr / cfg.lr, 0.75)
        assert abs(k - round(k)) < 1e-9
    no_decay = lrs_by_parameter(method.model, parameter_groups(method.model, replace(cfg, layer_decay=None)))
    assert {lr for lr, _ in no_decay.values()} == {cfg.lr}


def test_schedule_keeps_the_per_layer_ratios() -> None:
    """The fit loop's AdamW + warm-up/cosine schedule scales every group by the same factor."""
    method = tiny("vit16")
    cfg = replace(method.default_config(PROFILES["demo"]), lr=1e-3, layer_decay=0.5)
    groups = parameter_groups(method.model, cfg)
    assert sorted({g["lr"] for g in groups}) == [cfg.lr * 0.5**k for k in (3, 2, 1, 0)]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(10, 2))
    for _ in range(5):
        optimizer.step()
        schedule.step()
    factors = {round(g["lr"] / g["initial_lr"], 12) for g in optimizer.param_groups}
    assert factors == {round(warmup_cosine(10, 2)(5), 12)}


def test_layer_decay_needs_a_backbone_that_states_its_layers(plugin_methods: None) -> None:
    method = registry.create_method("tiny-convnet")
    method.build(BuildContext(tuple("ab"), PROFILES["demo"], "random", torch.device("cpu")))
    cfg = replace(method.default_config(PROFILES["demo"]), layer_decay=0.7)
    with pytest.raises(BenchError, match="layer-wise lr decay needs a backbone"):
        parameter_groups(method.model, cfg)  # type: ignore[attr-defined]
