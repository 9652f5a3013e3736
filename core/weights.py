"""Where VGG19's weights come from: torchvision's published file, a file the user names,
or seeded random weights for tests.

Weights are specified by one string so that the CLI, the server's config and the
protocol all say it the same way: "default", "random", "random:SEED", or a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import torch
from restyle_client.weights_setup import FILE as TORCHVISION_FILE
from restyle_client.weights_setup import HASH_PREFIX as TORCHVISION_HASH_PREFIX
from restyle_client.weights_setup import URL as TORCHVISION_URL
from torch import nn

from .vgg import build_features

# The file's name, address and hash are named once, in the stdlib-only module that the
# editors and install.py fetch it with: TORCHVISION_FILE, TORCHVISION_URL, TORCHVISION_HASH_PREFIX.


class WeightsError(RuntimeError):
    """Weights that cannot be had; the message tells the user what to do."""


@dataclass
class LoadedWeights:
    features: nn.Sequential
    label: str


def hub_checkpoint_path() -> Path:
    """Where torch's hub cache keeps the file, honouring $TORCH_HOME as torch does."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE


def load_features(spec: str = "default") -> LoadedWeights:
    features = build_features()
    if spec == "random" or spec.startswith("random:"):
        seed = _parse_seed(spec)
        _init_random(features, seed)
        return LoadedWeights(features, f"random (seed {seed}) - for tests only, not for art")
    if spec == "default":
        path = _default_file()
        label = f"torchvision IMAGENET1K_V1 ({path})"
    else:
        path = Path(spec).expanduser()
        label = str(path)
    _load_into(features, path)
    return LoadedWeights(features, label)


def _parse_seed(spec: str) -> int:
    if spec == "random":
        return 0
    try:
        return int(spec.split(":", 1)[1])
    except ValueError:
        raise WeightsError(f"random weights take an integer seed, as in random:0 (got {spec!r})") from None


def _init_random(features: nn.Sequential, seed: int) -> None:
    """He-initialised convolutions keep activations at a steady scale through all 16
    layers, so a random VGG still responds to texture at every depth."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in features:
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
                module.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=gen)
                module.bias.zero_()


def _default_file() -> Path:
    path = hub_checkpoint_path()
    if path.is_file():
        return path
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    try:
        torch.hub.download_url_to_file(TORCHVISION_URL, str(partial), hash_prefix=None, progress=True)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        partial.unlink(missing_ok=True)
        _remove_empty(made)
        raise WeightsError(
            f"VGG19 weights are not on this machine and could not be downloaded ({_reason(e)}).\n"
            f"Download {TORCHVISION_URL} on a machine that is online and put it at\n"
            f"  {path}\n"
            f"(or pass --weights PATH to use a copy elsewhere, or run `python3 install.py --download-weights`"
            f" where the network is reachable)."
        ) from None
    digest = _sha256(partial)
    if not digest.startswith(TORCHVISION_HASH_PREFIX):
        partial.unlink(missing_ok=True)
        _remove_empty(made)
        raise WeightsError(
            f"the downloaded {TORCHVISION_FILE} is corrupt (SHA-256 {digest[:16]}…, expected "
            f"{TORCHVISION_HASH_PREFIX}…); it was deleted, try again"
        )
    os.replace(partial, path)
    return path


def _remove_empty(folders: list[Path]) -> None:
    """A failed download leaves no trace: the folders made for it go, deepest first."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _reason(e: BaseException) -> str:
    return str(getattr(e, "reason", None) or e) or type(e).__name__


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_into(features: nn.Sequential, path: Path) -> None:
    """Accepts torchvision's full VGG19 file or one holding only `features.*`.

    The file is memory-mapped and only the feature tensors are copied, so the 400 MB
    classifier in the full file never sits in memory.
    """
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise WeightsError(f"{path} is not a PyTorch weights file ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state dict")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    wanted = features.state_dict()
    prefixed = {k: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    missing = [f"features.{k}" for k in wanted if f"features.{k}" not in prefixed]
    if missing:
        raise WeightsError(
            f"{path} is not a torchvision VGG19 state dict: missing {', '.join(missing[:3])}"
            + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        )
    for key, target in wanted.items():
        tensor = prefixed[f"features.{key}"]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(target.shape):
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise WeightsError(
                f"{path}: features.{key} has shape {shape}, VGG19 needs {tuple(target.shape)}"
            )
    features.load_state_dict({k: prefixed[f"features.{k}"].float().clone() for k in wanted})
