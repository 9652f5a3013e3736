"""Getting VGG19's pretrained weights to where the server looks, from an editor or the installer.

The server's default weights are torchvision's `vgg19-dcbb9e9d.pth` (548 MB) in torch's
hub cache.  A server that starts without it tries to download it and, offline, stops:
from an editor that is a dead end.  So the editors and install.py fetch the file
themselves, with progress and a way to cancel, or take a copy the user already has.
Either way the bytes are checked against torchvision's hash before they are put in
place, through a `.partial` file that is renamed at the end, so the server never sees
half a file and a failure leaves nothing behind.

Standard library only, and Python 3.9: it runs inside Krita's and GIMP's own Python,
and install.py loads this file by path before anything is installed.  The constants
here are the ones `core.weights` uses, so the two cannot disagree.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Optional

FILE = "vgg19-dcbb9e9d.pth"
URL = "https://download.pytorch.org/models/" + FILE
# torchvision names its files after the first hex digits of their SHA-256.
HASH_PREFIX = "dcbb9e9d"
SIZE_TEXT = "548 MB"
CHUNK = 1 << 20

# Bytes done, bytes in all (None: unknown).  Optional, not `|`: this runs on Python 3.9 too.
Progress = Callable[[int, Optional[int]], None]  # noqa: UP045


class SetupError(RuntimeError):
    """The weights could not be put in place; the message says why and what to do."""


class Cancelled(SetupError):
    """The user stopped it; nothing was left behind."""


def checkpoint_path(environ: Mapping[str, str] = os.environ, home: Path | None = None) -> Path:
    """Where the server looks for the file: torch.hub's rule, kept equal to it by a test.

    $TORCH_HOME, else $XDG_CACHE_HOME/torch, else ~/.cache/torch; then hub/checkpoints.
    """
    cache = environ.get("XDG_CACHE_HOME", str(Path(home) / ".cache") if home else "~/.cache")
    torch_home = environ.get("TORCH_HOME", os.path.join(cache, "torch"))
    return Path(os.path.expanduser(torch_home)) / "hub" / "checkpoints" / FILE


def partial_path(target: Path) -> Path:
    """The download in progress beside `target`; core.weights uses the same name."""
    return target.with_suffix(".partial")


def is_present(target: Path | None = None) -> bool:
    return (target or checkpoint_path()).is_file()


def missing_for(command: Sequence[str], target: Path | None = None) -> bool:
    """Whether starting `command` would stop for want of the file: it is a `restyle serve`
    that can be run here, on torchvision's weights, and the file is not in place."""
    runnable = bool(command) and shutil.which(command[0]) is not None and "serve" in command[1:]
    return runnable and uses_default_weights(command) and not is_present(target)


def uses_default_weights(command: Sequence[str]) -> bool:
    """Whether a `restyle serve` command line needs torchvision's file (no other --weights)."""
    value = "default"
    for i, arg in enumerate(command):
        if arg == "--weights" and i + 1 < len(command):
            value = command[i + 1]
        elif arg.startswith("--weights="):
            value = arg.split("=", 1)[1]
    return value == "default"


# --- what a person reads, the same in every editor and in the installer --------------------


def needed_text(target: Path) -> str:
    return (
        f"Restyle needs VGG19's pretrained weights, a {SIZE_TEXT} file that is downloaded once. "
        "The network has learnt from photographs which shapes and textures matter; without it "
        "there is nothing to compare your layers with.\n"
        f"They go in {target}"
    )


def progress_text(done: int, total: int | None, verb: str = "Downloading") -> str:
    mb = 1000 * 1000
    of = f" of {total / mb:.0f} MB" if total else " MB"
    return f"{verb} VGG19's weights: {done / mb:.0f}{of}\u2026"


def offline_text(target: Path) -> str:
    return (
        f"Without internet access here, download {URL} on another machine, then pick that file "
        f"(it is checked and copied into place), or copy it to\n{target}"
    )


# --- getting the file -----------------------------------------------------------------------


def download(
    target: Path | None = None,
    *,
    url: str | None = None,
    hash_prefix: str | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    timeout: float = 30.0,
) -> Path:
    """Download the weights (from `URL` unless told) to `target`, where the server looks.

    Raises Cancelled when `cancelled()` turns true, SetupError on a network failure or a
    file whose hash is wrong; either way no file and no folder made for it remains.
    The module's constants are read at each call, so a test can point them elsewhere.
    """
    target = Path(target or checkpoint_path())
    url, hash_prefix = url or URL, hash_prefix or HASH_PREFIX
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (the URL is ours or a test's)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SetupError(f"VGG19's weights could not be downloaded ({_reason(exc)}).\n{offline_text(target)}") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        damaged = "The downloaded file is damaged"
        return _put_in_place(response, total, target, hash_prefix, progress, cancelled, url, damaged)


def install_copy(
    source: Path,
    target: Path | None = None,
    *,
    hash_prefix: str | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Path:
    """Copy a file the user picked to where the server looks, if it is torchvision's VGG19.

    The copy is checked while it is made and renamed into place only when it is right;
    a wrong file is refused with its name, and nothing is left behind.
    """
    hash_prefix = hash_prefix or HASH_PREFIX
    source, target = Path(source).expanduser(), Path(target or checkpoint_path())
    wrong = f"{source.name} is not torchvision's VGG19 file {FILE}"
    try:
        handle = open(source, "rb")
    except OSError as exc:
        raise SetupError(f"{source} cannot be read: {exc.strerror or exc}") from None
    if source.resolve() == target.resolve():
        handle.close()
        _check_hash(_sha256(source), hash_prefix, wrong)
        return target
    with handle:
        total = os.fstat(handle.fileno()).st_size
        return _put_in_place(handle, total, target, hash_prefix, progress, cancelled, str(source), wrong)


def _put_in_place(
    reader: BinaryIO,
    total: int | None,
    target: Path,
    hash_prefix: str,
    progress: Progress | None,
    cancelled: Callable[[], bool],
    origin: str,
    refused: str,
) -> Path:
    made = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
    partial = partial_path(target)
    digest = hashlib.sha256()
    done = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as out:
            while True:
                if cancelled():
                    raise Cancelled("Stopped; nothing was kept.")
                block = reader.read(CHUNK)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if total is not None and done != total:
            raise SetupError(f"The transfer from {origin} ended after {done} of {total} bytes; try again.")
        _check_hash(digest.hexdigest(), hash_prefix, refused)
        os.replace(partial, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, (OSError, urllib.error.URLError)) and not isinstance(exc, SetupError):
            raise SetupError(f"The transfer from {origin} failed ({_reason(exc)}); nothing was kept.") from None
        raise
    return target


def _check_hash(digest: str, hash_prefix: str, refused: str) -> None:
    if not digest.startswith(hash_prefix):
        raise SetupError(f"{refused}: its SHA-256 begins {digest[:8]}, not {hash_prefix}. Nothing was kept.")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc) or type(exc).__name__
