"""VGG19 as torchvision lays it out, frozen, truncated, and fed the input it expects."""

from __future__ import annotations

import pytest
import torch

from core.vgg import IMAGENET_MEAN, LAYER_NAMES, VGGFeatures, build_features, check_layers
from core.weights import load_features


def test_layers_are_named_like_the_paper_and_indexed_like_torchvision():
    assert len(LAYER_NAMES) == 37
    assert LAYER_NAMES[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert LAYER_NAMES[21] == "conv4_2" and LAYER_NAMES[-1] == "pool5"
    keys = list(build_features().state_dict())
    assert keys[0] == "0.weight" and keys[-1] == "34.bias" and len(keys) == 32


def test_unknown_layer_names_are_refused_by_name():
    with pytest.raises(ValueError, match="relu9_9"):
        check_layers(["relu1_1", "relu9_9"])


def test_weights_are_frozen_and_gradients_reach_the_image():
    net = VGGFeatures(load_features("random:0").features)
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(image, ["relu3_1"])["relu3_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())


def test_the_network_stops_at_the_deepest_layer_asked_for():
    net = VGGFeatures(load_features("random:0").features)
    ran = []
    for index, module in enumerate(net.features):
        module.register_forward_hook(lambda m, i, o, index=index: ran.append(index))
    net(torch.rand(1, 3, 32, 32), ["relu1_1", "relu2_1"])
    assert max(ran) == LAYER_NAMES.index("relu2_1")


def test_input_is_normalised_with_imagenet_statistics():
    """A picture of exactly the ImageNet mean reaches the first convolution as zeros."""
    net = VGGFeatures(load_features("random:0").features)
    seen = []
    net.features[0].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    image = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    net(image, ["conv1_1"])
    assert seen[0].abs().max() < 1e-6


def test_average_pooling_keeps_activations_at_the_scale_of_max_pooling(engine_fp32):
    image = torch.rand(1, 3, 64, 64)
    deep_max = engine_fp32.features(image, ["relu5_1"], "max")["relu5_1"].mean()
    deep_avg = engine_fp32.features(image, ["relu5_1"], "avg")["relu5_1"].mean()
    assert 0.3 < float(deep_avg / deep_max) < 3.0


def test_feature_sizes_are_known_without_running_the_network(engine_fp32):
    """Masks are resized to each layer from arithmetic alone, so no feature map of the
    content has to be kept just to learn its size."""
    from core.vgg import feature_size

    layers = ["relu1_1", "pool1", "relu3_1", "relu5_1", "pool5"]
    for size in [(37, 53), (48, 64)]:
        features = engine_fp32.features(torch.rand(1, 3, *size), layers)
        assert all(tuple(features[k].shape[-2:]) == feature_size(k, size) for k in layers)
