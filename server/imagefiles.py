"""Image files for the command line: read into the engine's arrays, written atomically.

Editors send pixels over the wire; people at a shell point at files.  Both end up as
float32 (H, W, C) arrays in [0, 1], so the engine never knows where a picture came from.
A file's depth and colour model come along as an `Encoding`, so that a 16-bit greyscale
picture comes back 16-bit greyscale, as the editors' pixels do over the wire.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_FILE_PIXELS = 16384 * 16384
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF", "tif": "TIFF", "tiff": "TIFF",
           "bmp": "BMP"}
ANIMATION_FORMATS = ("WEBP", "GIF")
# Pillow unpacks 16-bit colour into 8-bit modes, keeping one byte of each sample; the
# same rows unpacked as the other byte order give the other byte (see `_read_16_bit`).
OTHER_BYTE = {"RGB;16B": "RGB;16L", "RGB;16L": "RGB;16B", "RGBA;16B": "RGBA;16L", "RGBA;16L": "RGBA;16B"}
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as Pillow's "L"
ORIENTATION = 0x0112


class ImageFileError(ValueError):
    """A file that cannot serve as an image; the message names the file and the reason."""


class Sample(Enum):
    """How many levels a file's samples hold; the names are the wire's sample types."""

    U8 = "u8"
    U16 = "u16"
    F32 = "f32"


@dataclass(frozen=True)
class Encoding:
    """How a file holds its pixels: the result is written the same way where its format can."""

    sample: Sample = Sample.U8
    gray: bool = False


@dataclass
class Picture:
    pixels: np.ndarray  # (H, W, 3 or 4) float32, [0, 1] (f32 files as they are)
    encoding: Encoding


# -- reading ---------------------------------------------------------------------------


def load_picture(path: str | os.PathLike) -> Picture:
    """A file's pixels at their full depth, turned upright as its EXIF tag says."""
    path = Path(path)
    with _opened(path) as image:
        values, encoding = _decode(path, image)
        orientation = image.getexif().get(ORIENTATION, 1)
    return Picture(_upright(values, orientation), encoding)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """RGB or RGBA float32 in [0, 1], upright, at the file's full depth."""
    return load_picture(path).pixels


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask from a file: its alpha where it has transparency, else its greyscale."""
    pixels = load_image(path)
    if pixels.shape[2] == 4 and pixels[..., 3].min() < 1.0:
        return np.ascontiguousarray(pixels[..., 3])
    return np.ascontiguousarray(pixels[..., :3] @ LUMA)


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    if not path.exists():
        raise ImageFileError(f"{path}: no such file")
    if path.is_dir():
        raise ImageFileError(f"{path}: is a folder, not an image")
    Image.MAX_IMAGE_PIXELS = MAX_FILE_PIXELS
    try:
        with Image.open(path) as image:
            if image.width < 1 or image.height < 1:
                raise ImageFileError(f"{path}: the image is empty (0 pixels)")
            yield image
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise ImageFileError(f"{path}: not an image Restyle can read ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, ImageFileError):
            raise
        raise ImageFileError(f"{path}: cannot be read ({e})") from None


def _decode(path: Path, image: Image.Image) -> tuple[np.ndarray, Encoding]:
    """(H, W, 3 or 4) float32 and the file's encoding; greyscale comes as equal RGB."""
    mode, rawmode = image.mode, _rawmode(image)
    if rawmode in OTHER_BYTE:
        return _read_16_bit(path, image, rawmode) / 65535.0, Encoding(Sample.U16)
    if mode == "RGBA" and rawmode == "LA;16B":  # 16-bit gray and alpha, which Pillow narrows to RGBA
        gray_alpha = _unpacked(image, "RGBA").astype(np.uint16)  # the rows' bytes as they are
        pair = (gray_alpha[..., 0::2] << 8 | gray_alpha[..., 1::2]).astype(np.float32) / 65535.0
        return _gray_to_rgb(pair), Encoding(Sample.U16, gray=True)
    if mode.startswith("I;16") or mode == "I":
        return _gray_to_rgb(np.clip(np.asarray(image, np.float32), 0, 65535)[..., None] / 65535.0), Encoding(Sample.U16, True)
    if mode == "F":
        return _gray_to_rgb(np.asarray(image, np.float32)[..., None]), Encoding(Sample.F32, True)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if mode in ("L", "LA", "1"):
        gray = np.asarray(image.convert("LA" if has_alpha else "L"), np.float32).reshape(image.height, image.width, -1)
        return _gray_to_rgb(gray / 255.0), Encoding(Sample.U8, True)
    return np.asarray(image.convert("RGBA" if has_alpha else "RGB"), np.float32) / 255.0, Encoding(Sample.U8)


def _rawmode(image: Image.Image) -> str | None:
    if len(image.tile) < 1:
        return None
    args = image.tile[0].args
    return args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args else None)


def _read_16_bit(path: Path, image: Image.Image, rawmode: str) -> np.ndarray:
    """16-bit colour, whole: Pillow's one byte of each sample, and the other byte from a
    second read of the same rows with the byte order swapped."""
    high = _unpacked(image, rawmode).astype(np.uint16)
    with Image.open(path) as again:
        low = _unpacked(again, OTHER_BYTE[rawmode]).astype(np.uint16)
    return (high << 8 | low).astype(np.float32)


def _unpacked(image: Image.Image, rawmode: str) -> np.ndarray:
    image.tile = [tile._replace(args=rawmode if isinstance(tile.args, str) else (rawmode, *tile.args[1:]))
                  for tile in image.tile]
    image.load()
    return np.asarray(image)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    rgb = np.repeat(gray[..., :1], 3, axis=2)
    return np.concatenate([rgb, gray[..., 1:2]], axis=2) if gray.shape[2] == 2 else rgb


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """The picture as a viewer shows it, for EXIF orientations 2 to 8."""
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return pixels if turned is None else np.ascontiguousarray(turned(pixels))


# -- checking where results go ---------------------------------------------------------


def image_format(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise ImageFileError(f"{path}: unknown image type {path.suffix or '(none)'}; use .png, .jpg, .webp, .tif or .gif")
    return FORMATS[ext]


def check_output(path: Path, formats: Sequence[str] | None = None) -> str:
    """The format to write `path` in, or an `ImageFileError` saying why it cannot be written.

    Checked before a job starts, so that a wrong path never costs the job.  A missing
    folder is refused rather than made: a typo in a path should not scatter folders.
    """
    fmt = image_format(path)
    if formats is not None and fmt not in formats:
        raise ImageFileError(f"{path}: must be a {' or '.join('.' + f.lower() for f in formats)} file")
    check_folder(path.parent if str(path.parent) else Path("."), path)
    if path.is_dir():
        raise ImageFileError(f"{path}: is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise ImageFileError(f"{path}: exists and cannot be overwritten (permission denied)")
    return fmt


def check_folder(folder: Path, wanted: Path) -> None:
    """`wanted` can be made inside `folder`: it exists, is a folder, and takes new files."""
    if not folder.exists():
        raise ImageFileError(f"{wanted}: the folder {folder} does not exist; make it first")
    if not folder.is_dir():
        raise ImageFileError(f"{wanted}: {folder} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".restyle-probe.", dir=folder)
    except OSError as e:
        raise ImageFileError(f"{wanted}: cannot write in {folder} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


# -- writing ---------------------------------------------------------------------------


def save_image(path: str | os.PathLike, array: np.ndarray, encoding: Encoding = Encoding()) -> None:
    """Written in `encoding` where the format can hold it (PNG: 16 bits, TIFF: 16 bits and
    float; the rest 8 bits), beside the target and renamed, so a failure never leaves half
    a file."""
    path = Path(path)
    fmt = image_format(path)
    pixels = _as_gray(array) if encoding.gray and fmt != "WEBP" else array
    if fmt == "JPEG" and pixels.shape[2] in (2, 4):
        pixels = pixels[..., :-1]  # JPEG has no transparency
    sample = _sample_for(fmt, encoding.sample)
    if sample is Sample.U8:
        _atomic_save(path, lambda tmp: _pil_8_bit(pixels, fmt).save(tmp, format=fmt))
    elif fmt == "PNG":
        _atomic_save(path, lambda tmp: Path(tmp).write_bytes(_png_16(pixels)))
    else:
        _atomic_save(path, lambda tmp: Path(tmp).write_bytes(_tiff(pixels, sample)))


def save_animation(path: str | os.PathLike, frames: Sequence[np.ndarray], frame_ms: int = 80) -> None:
    images = [_pil_8_bit(f, "WEBP") for f in frames]
    if not images:
        raise ImageFileError("no frames to animate")
    fmt = image_format(Path(path))

    def write(tmp: str) -> None:
        extra = {"lossless": False, "quality": 85} if fmt == "WEBP" else {"disposal": 2}
        images[0].save(tmp, format=fmt, save_all=True, append_images=images[1:], duration=frame_ms, loop=0, **extra)

    _atomic_save(Path(path), write)


def _sample_for(fmt: str, wanted: Sample) -> Sample:
    if fmt == "TIFF":
        return wanted
    if fmt == "PNG" and wanted is not Sample.U8:
        return Sample.U16  # PNG has no floats; 16 bits is the most it holds
    return Sample.U8


def _as_gray(array: np.ndarray) -> np.ndarray:
    gray = (array[..., :3] @ LUMA)[..., None]
    return np.concatenate([gray, array[..., 3:4]], axis=2)


def _pil_8_bit(array: np.ndarray, fmt: str) -> Image.Image:
    data = (np.clip(array, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    modes = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
    image = Image.fromarray(data[..., 0] if data.shape[2] == 1 else data, modes[data.shape[2]])
    if fmt == "BMP" and image.mode in ("LA", "RGBA"):
        image = image.convert(image.mode[:-1])  # BMP keeps no transparency
    return image


def _png_16(array: np.ndarray) -> bytes:
    """A 16-bit PNG (gray, gray and alpha, RGB or RGBA), which Pillow cannot write in colour."""
    height, width, channels = array.shape
    rows = (np.clip(array, 0, 1) * 65535.0 + 0.5).astype(">u2").reshape(height, width * channels).view(np.uint8)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # each row as its difference from the row above ("Up"): smooth pictures pack small
    filtered[:, 1:] = np.diff(rows, axis=0, prepend=np.zeros((1, rows.shape[1]), np.uint8))
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _tiff(array: np.ndarray, sample: Sample) -> bytes:
    """An uncompressed baseline TIFF of 8 or 16 bit integers or 32 bit floats, any channels."""
    height, width, channels = array.shape
    if sample is Sample.F32:
        data, bits, kind = array.astype("<f4"), 32, 3
    else:
        data, bits, kind = (np.clip(array, 0, 1) * 65535.0 + 0.5).astype("<u2"), 16, 1
    pixels = data.tobytes()
    entries = [
        (256, 4, [width]), (257, 4, [height]), (258, 3, [bits] * channels), (259, 3, [1]),
        (262, 3, [2 if channels >= 3 else 1]), (273, 4, [0]), (277, 3, [channels]), (278, 4, [height]),
        (279, 4, [len(pixels)]), (284, 3, [1]), (339, 3, [kind] * channels),
    ]
    if channels in (2, 4):
        entries.append((338, 3, [2]))  # the last channel is unassociated alpha
    entries.sort()
    ifd_size = 2 + 12 * len(entries) + 4
    extra_at = 8 + ifd_size
    extra = b""
    packed = []
    for tag, kind_code, values in entries:
        blob = struct.pack(f"<{len(values)}{'H' if kind_code == 3 else 'I'}", *values)
        packed.append([tag, kind_code, values, blob])
    data_at = extra_at + sum(len(b) for *_, b in packed if len(b) > 4)
    ifd = struct.pack("<H", len(packed))
    for tag, kind_code, values, blob in packed:
        if tag == 273:
            blob = struct.pack("<I", data_at)
        if len(blob) > 4:
            ifd += struct.pack("<HHII", tag, kind_code, len(values), extra_at + len(extra))
            extra += blob
        else:
            ifd += struct.pack("<HHI", tag, kind_code, len(values)) + blob.ljust(4, b"\0")
    return b"II*\0" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + extra + pixels


def _atomic_save(path: Path, write: Callable[[str], None]) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ImageFileError(f"{path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the picture from everyone else
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
