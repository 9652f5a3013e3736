"""VGG19's weights, before the plug-in starts a server that would stop without them.

A server started without the file tries to download 548 MB itself, within the start's
time-out, and offline stops with advice for the command line.  So before starting one,
the plug-in checks (as Krita's docker does) and, run from the menu, asks: download the
file, with progress in GIMP's progress bar, or use a copy the user has, checked by hash.
A script gets a message that says what is needed and how to get it.  The file handling
is the shared `restyle_client.weights_setup`; the questions are asked through the
callables the plug-in passes in, so nothing here needs GIMP.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path

from restyle_client import launcher, weights_setup
from restyle_gimp_job import PluginError

Status = Callable[[str, "float | None"], None]  # the text and fraction for GIMP's progress bar


class Choice(Enum):
    DOWNLOAD = "download"
    PICK = "pick"
    CANCEL = "cancel"


def missing(endpoint: str, config: launcher.ServerConfig, with_keys: bool) -> Path | None:
    """Where the weights should be, when the server the plug-in would start lacks them."""
    if with_keys or not launcher.is_local(endpoint):
        return None  # a server it would never start: its weights are its operator's
    target = weights_setup.checkpoint_path()
    return target if weights_setup.missing_for(config.start_command(endpoint), target) else None


def script_text(target: Path) -> str:
    return (
        f"{weights_setup.needed_text(target)}\n"
        "Run Filters \u25b8 Artistic \u25b8 Restyle\u2026 once from the menu to download them, or run "
        "python3 install.py --download-weights.\n"
        f"{weights_setup.offline_text(target)}"
    )


def get_weights(
    target: Path,
    ask: Callable[[str], Choice],
    pick: Callable[[], Path | None],
    status: Status,
) -> None:
    """Ask until the weights are in place or the user gives up (PluginError).

    `ask(text)` shows the question (with the last problem, if any), `pick()` a file
    chooser, `status` GIMP's progress bar.
    """
    problem = ""
    while True:
        choice = ask(weights_setup.needed_text(target) + (f"\n\n{problem}" if problem else ""))
        if choice is Choice.CANCEL:
            raise PluginError(script_text(target))
        try:
            if choice is Choice.DOWNLOAD:
                weights_setup.download(target, progress=_progress(status, "Downloading"))
                return
            picked = pick()
            if picked is not None:
                weights_setup.install_copy(picked, target, progress=_progress(status, "Checking and copying"))
                return
        except weights_setup.SetupError as exc:
            problem = str(exc)


def _progress(status: Status, verb: str) -> weights_setup.Progress:
    def show(done: int, total: int | None) -> None:
        status(weights_setup.progress_text(done, total, verb), done / total if total else None)

    return show
