"""The baselines as the registry sees them before importing any model code (or torch)."""

from bench.api.method import MethodCard

DEFAULT = ("default",)

RESNET18 = MethodCard("resnet18", "ResNet-18, supervised ImageNet-1k (torchvision V1 weights via timm)", DEFAULT,
                      "baselines.resnet:ResNet18")
RESNET50 = MethodCard("resnet50", "ResNet-50, supervised ImageNet-1k (torchvision V2 weights via timm)", DEFAULT,
                      "baselines.resnet:ResNet50")
VIT16 = MethodCard("vit16", "ViT-B/16, supervised ImageNet-21k then 1k (original Google weights via timm)", DEFAULT,
                   "baselines.vit:ViT16")
MAE = MethodCard("mae", "ViT-B/16, masked autoencoder on ImageNet-1k (timm weights of the MAE release)", DEFAULT,
                 "baselines.vit:MAE")
DINOV2 = MethodCard("dinov2", "ViT-B/14, DINOv2 self-supervised on LVD-142M (timm weights, no registers)", DEFAULT,
                    "baselines.vit:DINOv2")
MSN = MethodCard("msn", "ViT-B/16, MSN self-supervised on ImageNet-1k (transformers, facebook/vit-msn-base)", DEFAULT,
                 "baselines.msn:MSN")
ZOOBOT_CONVNEXT = MethodCard("zoobot-convnext", "ConvNeXt-Base, Zoobot encoder pretrained on Galaxy Zoo (GZ Evo)",
                             DEFAULT, "baselines.zoobot:ZoobotConvNeXt")
ZOOBOT_MAXVIT = MethodCard(
    "zoobot-maxvit", "MaxViT-Base (rw, rel-pos MLP), Zoobot encoder pretrained on Galaxy Zoo (GZ Evo)", DEFAULT,
    "baselines.zoobot:ZoobotMaxViT",
)
