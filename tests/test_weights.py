from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save_file

from baselines.resnet import ResNet18
from bench.api import registry
from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import PROFILES
from bench.api.spec import RunSpec
from bench.api.weights import WeightsSpec
from bench.run.runner import RunSettings, missing_weights
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


# --- which weights each method names, and the --option settings that pick others ---------------

PAPER = PROFILES["paper"]
TAGGED = ("resnet18", "resnet50", "vit16", "mae", "dinov2")  # the timm ``arch.tag`` baselines
LASTUFKA = {  # Lastufka et al.'s (fm4astro) choices, which the paper follows for its baselines
    "vit16": "timm/vit_base_patch16_224.orig_in21k_ft_in1k",  # google/vit-base-patch16-224
    "resnet50": "timm/resnet50.tv2_in1k",  # torchvision weights='DEFAULT': IMAGENET1K_V2
    "resnet18": "timm/resnet18.tv_in1k",  # torchvision weights='DEFAULT': IMAGENET1K_V1
}


def paper_spec(name: str, **options: str) -> WeightsSpec:
    spec = registry.create_method(name).weights_spec(PAPER, options)
    assert spec is not None
    return spec


def build_with(name: str, profile: str = "paper", **options: str) -> None:
    ctx = BuildContext(tuple("ab"), PROFILES[profile], "random", torch.device("cpu"), options=options)
    registry.create_method(name).build(ctx)


@pytest.mark.parametrize("name", registry.method_names())
def test_every_paper_default_is_published_in_its_librarys_own_table(name: str) -> None:
    """Offline: the identifier is a pretrained entry of the installed library's registry."""
    identifier = paper_spec(name).identifier
    kind, _, model = identifier.partition("/")
    if kind == "timm":
        assert model in timm.list_pretrained()
    elif kind == "open_clip":
        import open_clip

        assert tuple(model.split(".", 1)) in open_clip.list_pretrained()
    elif identifier.startswith("hf_hub:mwalmsley/zoobot-encoder-"):
        # zoobot 2.9.0 ships no table of its published encoders (its docs only name examples in this
        # pattern), so that the Hub repo exists cannot be checked offline; the timm architecture
        # its config.json builds can.
        assert registry.method_class(name).architecture in timm.list_models()  # type: ignore[attr-defined]
    elif identifier == "facebook/vit-msn-base":
        # transformers 5 keeps no list of published checkpoints; what can be checked offline is that
        # ViTMSNConfig's defaults, which its docstring gives as facebook/vit_msn_base's, are ViT-B/16.
        from transformers import ViTMSNConfig

        config = ViTMSNConfig()
        assert (config.hidden_size, config.num_hidden_layers, config.patch_size) == (768, 12, 16)
    else:
        pytest.fail(f"{name}: no offline check for {identifier}")
    assert LASTUFKA.get(name, identifier) == identifier


@pytest.mark.parametrize(("name", "tag"), [("vit16", "augreg_in1k"), ("resnet50", "tv_in1k"), ("mae", "dino")])
def test_weights_tag_selects_the_spec(name: str, tag: str) -> None:
    arch = paper_spec(name).identifier.removeprefix("timm/").partition(".")[0]
    spec = paper_spec(name, weights_tag=tag)
    assert (spec.identifier, spec.hub_repo) == (f"timm/{arch}.{tag}", f"timm/{arch}.{tag}")


def test_galaxalign_clip_tag_selects_the_spec() -> None:
    spec = paper_spec("galaxalign-vit16", clip_tag="datacomp_xl_s13b_b90k")
    assert spec.identifier == "open_clip/ViT-B-16.datacomp_xl_s13b_b90k"
    assert spec.hub_repo == "laion/CLIP-ViT-B-16-DataComp.XL-s13B-b90K"


def one_line_error(call: Callable[[], object]) -> str:
    with pytest.raises(BenchError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", TAGGED)
def test_an_unknown_weights_tag_lists_the_published_ones(name: str) -> None:
    message = one_line_error(lambda: paper_spec(name, weights_tag="in1k_typo"))
    arch = paper_spec(name).identifier.removeprefix("timm/").partition(".")[0]
    assert f"timm has no pretrained tag 'in1k_typo' for {arch}" in message
    assert all(tag.partition(".")[2] in message for tag in timm.list_pretrained(f"{arch}.*"))


@pytest.mark.parametrize("name", TAGGED)
def test_weights_tag_under_the_demo_profile_names_the_paper_profile(name: str) -> None:
    message = one_line_error(lambda: build_with(name, "demo", weights_tag="tv_in1k"))
    assert "tiny model has none" in message and "--profile paper" in message


@pytest.mark.parametrize("name", [n for n in registry.method_names()
                                  if registry.method_card(n).implementation.startswith("baselines.")])
def test_an_unknown_option_fails_every_baseline(name: str) -> None:
    message = one_line_error(lambda: build_with(name, "demo", colour="red"))
    assert name in message and "['colour']" in message
    expected = "weights_tag" if name in TAGGED else "takes no --option"
    assert expected in message


def test_preflight_checks_the_tag_the_run_asks_for(hub_cache: Path, tmp_path: Path) -> None:
    hub_cache_file("timm/resnet50.tv2_in1k", "model.safetensors")  # only the default is here
    settings = RunSettings(results=tmp_path)
    default = RunSpec("resnet50", "demo", profile="paper", init="pretrained")
    v1 = replace(default, options=(("weights_tag", "tv_in1k"),))
    typo = replace(default, options=(("weights_tag", "tv3"),))
    assert missing_weights([default], settings) == []
    [error] = missing_weights([default, v1, v1, replace(v1, seed=1)], settings)
    assert "timm/resnet50.tv_in1k" in error
    [error] = missing_weights([typo], settings)
    assert "no pretrained tag 'tv3'" in error


def test_a_weights_tag_loads_its_own_file_and_is_recorded(hub_cache: Path) -> None:
    """A random state_dict in timm's layout, cached as the chosen tag's file, through the real loader."""
    reference = timm.create_model("resnet18", num_classes=1000)
    path = hub_cache_file("timm/resnet18.a1_in1k", "model.safetensors")
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    method = ResNet18()
    ctx = BuildContext(tuple("abcd"), PAPER, "pretrained", torch.device("cpu"), options={"weights_tag": "a1_in1k"})
    weights = method.build(ctx)
    assert (weights.source, weights.identifier) == ("cache", "timm/resnet18.a1_in1k")
    assert torch.equal(method.model.backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    published = timm.models.get_pretrained_cfg("resnet18.a1_in1k")
    assert published is not None and method.model.backbone.pretrained_cfg["tag"] == "a1_in1k"
    assert (method.prep.mean, method.prep.std) == (published.mean, published.std)
