"""Where `restyle stylize` and `restyle draw` write, and how: a bad output path is refused
before the job, with nothing left behind; a picture keeps its depth, its colour model
and its orientation; files get the mode the umask gives."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from support.pictures import gradient
from test_cli import restyle

FAST = ["--weights", "random:0", "--iterations", "2", "--min-size", "24", "-q"]
COMMANDS = {
    "stylize": lambda c, s: ["stylize", c, s],
    "draw": lambda c, s: ["draw", c, "--iterations", "1"],
}


def run(command: str, files: dict, output: Path | str, *extra: str):
    return restyle(*COMMANDS[command](str(files["content"]), str(files["style"])), "-o", str(output), *extra,
                   "--weights", "random:0", "-q")


def refused_at_once(done, message: str) -> None:
    assert done.returncode == 2, done.stderr
    assert message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def written_names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} - {"content.png", "style.png", "mask.png"}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ["missing folder", "a folder", "unknown type"])
def test_a_bad_output_path_is_refused_before_the_job_and_nothing_is_written(files, command, case):
    d = files["dir"]
    (d / "adir.png").mkdir()
    output, message = {
        "missing folder": (d / "nodir" / "x.png", "the folder"),
        "a folder": (d / "adir.png", "is a folder"),
        "unknown type": (d / "x.psd", "unknown image type .psd"),
    }[case]
    done = run(command, files, output)
    refused_at_once(done, message)
    assert written_names(d) == {"adir.png"} and not list((d / "adir.png").iterdir())


@pytest.mark.parametrize("flag, path, message", [
    ("--animation", "nodir/x.webp", "the folder"),
    ("--animation", "anim.png", "must be a .webp or .gif file"),
    ("--frames", "nodir/frames", "the folder"),
])
def test_draw_checks_its_animation_and_frames_before_the_job(files, flag, path, message):
    d = files["dir"]
    done = run("draw", files, d / "drawing.png", flag, str(d / path))
    refused_at_once(done, message)
    assert written_names(d) == set()


def test_draw_refuses_an_animation_that_would_overwrite_the_drawing(files):
    done = run("draw", files, files["dir"] / "drawing.webp")
    refused_at_once(done, "the same file")
    assert written_names(files["dir"]) == set()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_that_cannot_be_written_is_refused_before_the_job(files, command):
    locked = files["dir"] / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:
        locked = Path("/proc")  # root writes into any folder, but not there
    refused_at_once(run(command, files, locked / "x.png"), "cannot write in")
    assert written_names(files["dir"]) == {"locked"}


def test_results_get_the_mode_the_umask_gives(files):
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out), "--save-every", "2", *FAST,
                   umask=0o022)
    assert done.returncode == 0, done.stderr
    for path in [out, *files["dir"].glob("out-step*.png")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_draw_files_get_the_mode_the_umask_gives(files):
    out = files["dir"] / "drawing.png"
    done = restyle("draw", str(files["content"]), "-o", str(out), "--iterations", "1", "--weights", "random:0", "-q",
                   umask=0o022)
    assert done.returncode == 0, done.stderr
    for path in [out, files["dir"] / "drawing.webp", *(files["dir"] / "drawing-frames").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


# -- depth and colour model ----------------------------------------------------------


def png_16(path: Path, levels: np.ndarray) -> Path:
    """A 16-bit PNG written by hand with the Paeth filter, as image editors often write them."""
    height, width, channels = levels.shape
    rows = levels.astype(">u2").reshape(height, -1).view(np.uint8).astype(int)
    bpp = 2 * channels
    raw = b""
    previous = np.zeros(rows.shape[1], int)
    for row in rows:
        out = []
        for i, value in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out.append((value - predictor) % 256)
        raw += bytes([4, *out])
        previous = row
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def levels_16(channels: int) -> np.ndarray:
    """A ramp through 3072 distinct 16-bit levels, far more than 8 bits can hold."""
    ramp = (np.arange(48 * 64).reshape(48, 64) * 21 + 7).astype(np.uint16)
    alpha = np.where(np.arange(48)[:, None] < 24, 65535, ramp).astype(np.uint16)  # the top half opaque
    planes = [ramp, ramp[::-1], ramp[:, ::-1]][: max(1, channels - 1) if channels in (2, 4) else channels]
    return np.stack(planes + ([alpha] if channels in (2, 4) else []), axis=2)


@pytest.mark.parametrize("channels", [1, 2, 3, 4], ids=["grey", "grey+alpha", "rgb", "rgba"])
def test_a_16_bit_png_comes_back_16_bit_with_its_levels_and_colour_model(files, channels):
    levels = levels_16(channels)
    content = png_16(files["dir"] / "deep.png", levels)
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(content), str(files["style"]), "-o", str(out), "--strength", "0", *FAST)
    assert done.returncode == 0, done.stderr
    header = out.read_bytes()[24:26]
    assert header == bytes([16, {1: 0, 2: 4, 3: 2, 4: 6}[channels]])  # 16 bits, the same colour type
    back = Image.open(out)
    assert back.size == (64, 48)
    got, want = _levels(out, channels).astype(int), levels.astype(int)
    if channels in (2, 4):  # colour under transparency is the engine's to fill; alpha comes back as it was
        assert np.array_equal(got[..., -1], want[..., -1])
        got, want = got[:24, :, :-1], want[:24, :, :-1]
    assert np.abs(got - want).max() <= 1
    assert len(np.unique(got[..., 0])) > 1500


def _levels(path: Path, channels: int) -> np.ndarray:
    from server.imagefiles import load_picture

    pixels = load_picture(path).pixels
    planes = pixels[..., :1] if channels <= 2 else pixels[..., :3]
    if channels in (2, 4):
        planes = np.concatenate([planes, pixels[..., 3:]], axis=2)
    return np.round(planes * 65535).astype(np.uint16)


def test_an_8_bit_greyscale_picture_stays_8_bit_greyscale(files):
    content = files["dir"] / "grey.png"
    Image.fromarray((gradient()[..., 0] * 255).astype(np.uint8), "L").save(content)
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(content), str(files["style"]), "-o", str(out), *FAST)
    assert done.returncode == 0, done.stderr
    assert Image.open(out).mode == "L"


def test_a_16_bit_tiff_comes_back_16_bit(files):
    content = files["dir"] / "deep.tif"
    Image.fromarray(levels_16(1)[..., 0]).save(content)  # Pillow writes 16-bit greyscale TIFF
    out = files["dir"] / "out.tif"
    done = restyle("stylize", str(content), str(files["style"]), "-o", str(out), "--strength", "0", *FAST)
    assert done.returncode == 0, done.stderr
    back = Image.open(out)
    assert back.mode.startswith("I;16")
    assert np.abs(np.asarray(back).astype(int) - levels_16(1)[..., 0].astype(int)).max() <= 1


def test_a_float_tiff_comes_back_float(files):
    values = gradient()[..., 0] * 0.9 + 0.05
    content = files["dir"] / "float.tif"
    Image.fromarray(values.astype(np.float32), "F").save(content)
    out = files["dir"] / "out.tif"
    done = restyle("stylize", str(content), str(files["style"]), "-o", str(out), "--strength", "0", *FAST)
    assert done.returncode == 0, done.stderr
    back = Image.open(out)
    assert back.mode == "F"
    assert np.abs(np.asarray(back) - values).max() < 1e-5


def test_an_8_bit_colour_picture_stays_8_bit_colour(files):
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out), *FAST)
    assert done.returncode == 0, done.stderr
    assert Image.open(out).mode == "RGB"


# -- orientation -----------------------------------------------------------------------


def rotated_jpeg(path: Path, array: np.ndarray) -> Path:
    """A JPEG stored sideways, with EXIF saying "rotate 90° clockwise to view"."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray((array * 255).round().astype(np.uint8)).save(path, quality=95, exif=exif)
    return path


def test_stylize_turns_a_picture_upright_as_its_exif_says(files):
    content = rotated_jpeg(files["dir"] / "phone.jpg", gradient())
    mask = files["dir"] / "mask.png"
    Image.fromarray(np.full((64, 48), 255, np.uint8)).save(mask)  # upright: 48 wide, 64 high
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(content), "--region", str(mask), str(files["style"]), "-o", str(out),
                   "--strength", "0", *FAST)
    assert done.returncode == 0, done.stderr
    upright = np.asarray(ImageOps.exif_transpose(Image.open(content))).astype(int)
    result = np.asarray(Image.open(out)).astype(int)
    assert result.shape == upright.shape == (64, 48, 3)
    assert np.abs(result - upright).mean() < 2


def test_draw_turns_a_picture_upright_as_its_exif_says(files):
    content = rotated_jpeg(files["dir"] / "phone.jpg", gradient())
    out = files["dir"] / "drawing.png"
    done = restyle("draw", str(content), "-o", str(out), "--iterations", "1", "--weights", "random:0", "-q")
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (48, 64)
