"""Loading VGG19's weights: torchvision's files load as they are; anything else is
refused with a message that says what is wrong and what to do."""

from __future__ import annotations

import pytest
import torch
from support.web import serving

import core.weights as weights_module
from core.vgg import build_features
from core.weights import TORCHVISION_FILE, WeightsError, hub_checkpoint_path, load_features


def _torchvision_state_dict(with_classifier: bool) -> dict[str, torch.Tensor]:
    """What torchvision.models.vgg19().state_dict() holds: the real key names and shapes."""
    gen = torch.Generator().manual_seed(7)
    state = {f"features.{k}": torch.randn(v.shape, generator=gen) * 0.05 for k, v in build_features().state_dict().items()}
    if with_classifier:
        state.update({
            "classifier.0.weight": torch.zeros(64, 25088), "classifier.0.bias": torch.zeros(64),
            "classifier.3.weight": torch.zeros(64, 64), "classifier.3.bias": torch.zeros(64),
            "classifier.6.weight": torch.zeros(1000, 64), "classifier.6.bias": torch.zeros(1000),
        })
    return state


@pytest.mark.parametrize("with_classifier", [True, False], ids=["full-file", "features-only"])
def test_a_torchvision_format_file_loads_as_it_is(tmp_path, with_classifier):
    state = _torchvision_state_dict(with_classifier)
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    loaded = load_features(str(path))
    assert torch.equal(loaded.features[0].weight, state["features.0.weight"])
    assert torch.equal(loaded.features[34].bias, state["features.34.bias"])
    assert str(path) in loaded.label and "random" not in loaded.label
    assert not any("classifier" in k for k in loaded.features.state_dict())


def test_random_weights_are_seeded_and_labelled_as_such():
    a, b, c = load_features("random:3"), load_features("random:3"), load_features("random:4")
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)
    assert "random" in a.label and "test" in a.label


def test_a_file_that_is_not_a_checkpoint_gets_a_clear_error(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights")
    with pytest.raises(WeightsError, match="not a PyTorch weights file"):
        load_features(str(path))


def test_a_state_dict_of_another_network_is_refused_by_key_and_shape(tmp_path):
    state = _torchvision_state_dict(False)
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    torch.save(state, tmp_path / "wrong_shape.pth")
    with pytest.raises(WeightsError, match=r"features\.0\.weight has shape \(32, 3, 3, 3\)"):
        load_features(str(tmp_path / "wrong_shape.pth"))
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "resnet.pth")
    with pytest.raises(WeightsError, match="not a torchvision VGG19 state dict"):
        load_features(str(tmp_path / "resnet.pth"))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_features(str(tmp_path / "absent.pth"))


def test_the_default_file_is_taken_from_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / TORCHVISION_FILE
    assert hub_checkpoint_path() == expected
    expected.parent.mkdir(parents=True)
    torch.save(_torchvision_state_dict(True), expected)
    loaded = load_features("default")
    assert "IMAGENET1K_V1" in loaded.label and "random" not in loaded.label


def test_offline_without_the_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    # A loopback port with nothing listening: the download is refused at once, as it
    # is on a machine that cannot reach the model hub.
    monkeypatch.setattr(weights_module, "TORCHVISION_URL", "http://127.0.0.1:9/vgg19-dcbb9e9d.pth")
    with pytest.raises(WeightsError) as info:
        load_features("default")
    message = str(info.value)
    assert str(tmp_path / "hub" / "checkpoints" / TORCHVISION_FILE) in message
    assert "could not be downloaded" in message
    assert not (tmp_path / "hub").exists()  # a failed download leaves no empty folders behind


def test_a_download_with_the_wrong_hash_is_deleted_and_reported(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    torch.save(_torchvision_state_dict(False), served / TORCHVISION_FILE)

    with serving(served) as base:
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
        monkeypatch.setattr(weights_module, "TORCHVISION_URL", base + TORCHVISION_FILE)
        with pytest.raises(WeightsError, match="corrupt"):
            load_features("default")
    assert not (tmp_path / "home").exists()
