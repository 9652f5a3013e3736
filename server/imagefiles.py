"""Image files for the command line: read into the engine's arrays, written atomically.

Editors send pixels over the wire; people at a shell point at files.  Both end up as
float32 (H, W, C) arrays in [0, 1], so the engine never knows where a picture came from.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_FILE_PIXELS = 16384 * 16384


class ImageFileError(ValueError):
    """A file that cannot serve as an image; the message names the file and the reason."""


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise ImageFileError(f"{path}: no such file")
    if path.is_dir():
        raise ImageFileError(f"{path}: is a folder, not an image")
    Image.MAX_IMAGE_PIXELS = MAX_FILE_PIXELS
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise ImageFileError(f"{path}: not an image Restyle can read ({e})") from None
    except OSError as e:
        raise ImageFileError(f"{path}: cannot be read ({e})") from None
    if image.width < 1 or image.height < 1:
        raise ImageFileError(f"{path}: the image is empty (0 pixels)")
    return image


def load_image(path: str | os.PathLike) -> np.ndarray:
    """RGB or RGBA float32 in [0, 1]; 16-bit greyscale keeps its precision."""
    image = _open(Path(path))
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(image, dtype=np.float32) / (65535.0 if image.mode != "I" else max(1.0, float(np.asarray(image).max())))
        return np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(image, dtype=np.float32) / 255.0


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask from a file: its alpha where it has transparency, else its greyscale."""
    image = _open(Path(path))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
        if alpha.min() < 1.0:
            return alpha
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(image, dtype=np.float32) / 65535.0
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def to_pil(array: np.ndarray) -> Image.Image:
    data = (np.clip(array, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(data, "RGBA" if array.shape[2] == 4 else "RGB")


def save_image(path: str | os.PathLike, array: np.ndarray) -> None:
    """Written beside the target and renamed, so a failure never leaves half a file."""
    def write(tmp: str, fmt: str) -> None:
        image = to_pil(array)
        if fmt in ("JPEG", "BMP") and image.mode == "RGBA":
            image = image.convert("RGB")  # these formats have no transparency
        image.save(tmp, format=fmt)

    _atomic_save(Path(path), write)


def save_animation(path: str | os.PathLike, frames: Sequence[np.ndarray], frame_ms: int = 80) -> None:
    images = [to_pil(f) for f in frames]
    if not images:
        raise ImageFileError("no frames to animate")

    def write(tmp: str, fmt: str) -> None:
        extra = {"lossless": False, "quality": 85} if fmt == "WEBP" else {"disposal": 2}
        images[0].save(tmp, format=fmt, save_all=True, append_images=images[1:], duration=frame_ms, loop=0, **extra)

    _atomic_save(Path(path), write)


def image_format(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    formats = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF", "tif": "TIFF", "tiff": "TIFF", "bmp": "BMP"}
    if ext not in formats:
        raise ImageFileError(f"{path}: unknown image type {path.suffix or '(none)'}; use .png, .jpg, .webp, .tif or .gif")
    return formats[ext]


def _atomic_save(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    fmt = image_format(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ImageFileError(f"{path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    os.close(fd)
    try:
        write(tmp, fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
