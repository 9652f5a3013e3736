"""The docker's first-run step: get VGG19's weights before the server is started.

A server started without the weights tries to download 548 MB itself and, offline,
stops with advice for the command line.  So when the server the docker would start
needs the file and it is not there, this panel says what is needed and why, downloads
it with progress (on a thread, cancellable; Krita stays responsive), or takes a copy
the user picks, checked by hash; then it starts the server.  The file handling is the
shared `restyle_client.weights_setup`; only the widgets are here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QFileDialog, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout
from restyle_client import launcher, weights_setup

from .connection import Connection
from .server_state import ServerState

FIRST_TEXT = "First get VGG19's weights: Download them, or Use a file I have\u2026 (at the top of this docker)."


class WeightsPanel(QGroupBox):
    """Shown while the server this docker would start lacks its weights."""

    _progressed = pyqtSignal(object, object, str)  # bytes done, bytes in all or None, verb
    _ended = pyqtSignal(str)  # "" when the file is in place, else what went wrong

    def __init__(self, connection: Callable[[], Connection | None]) -> None:
        super().__init__("Needed once: the network's weights", objectName="restyle_weights")
        self._connection = connection  # the docker's current Connection, to start the server with
        self._cancel = threading.Event()
        self._busy = False
        self.target = weights_setup.checkpoint_path()
        col = QVBoxLayout(self)
        self.text = _label("restyle_weights_text")
        col.addWidget(self.text)
        buttons = QHBoxLayout()
        self.download_button = QPushButton(
            f"Download ({weights_setup.SIZE_TEXT})", objectName="restyle_weights_download"
        )
        self.download_button.setToolTip(weights_setup.URL)
        self.download_button.clicked.connect(self.download)
        self.pick_button = QPushButton("Use a file I have\u2026", objectName="restyle_weights_pick")
        self.pick_button.setToolTip(f"A copy of {weights_setup.FILE} from another machine; it is checked, then copied")
        self.pick_button.clicked.connect(self.pick)
        self.cancel_button = QPushButton("Cancel", objectName="restyle_weights_cancel")
        self.cancel_button.clicked.connect(self._cancel.set)
        for button in (self.download_button, self.pick_button, self.cancel_button):
            buttons.addWidget(button)
        col.addLayout(buttons)
        self.bar = QProgressBar(objectName="restyle_weights_progress")
        col.addWidget(self.bar)
        self.status = _label("restyle_weights_status")
        col.addWidget(self.status)
        self._progressed.connect(self._show_progress)
        self._ended.connect(self._end)
        cancel = self._cancel
        self.destroyed.connect(lambda *_: cancel.set())  # Krita closing: the transfer cleans up after itself
        self._idle("")
        self.hide()

    # --- when it shows ---------------------------------------------------------------------

    def follow(self, state: ServerState, endpoint: str, config: launcher.ServerConfig) -> None:
        """Show the step while no server answers and the one to start lacks the weights.

        `endpoint` and `config` are the connection's: what it would start, from server.json.
        """
        if self._busy:
            return
        needed = (
            state is not ServerState.CONNECTED
            and launcher.is_local(endpoint)
            and weights_setup.missing_for(config.start_command(endpoint), self.target)
        )
        if needed and self.isHidden():
            self.text.setText(weights_setup.needed_text(self.target))
        self.setHidden(not needed)

    def holds_back(self) -> bool:
        """Whether Start must wait for the weights (the docker then shows FIRST_TEXT)."""
        return not self.isHidden()

    # --- getting the file ----------------------------------------------------------------------

    def download(self) -> None:
        self._run(
            "Downloading",
            lambda progress: weights_setup.download(self.target, progress=progress, cancelled=self._cancel.is_set),
        )

    def pick(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            f"Pick a copy of {weights_setup.FILE}",
            str(Path.home()),
            "PyTorch weights (*.pth *.pt);;All files (*)",
        )
        if path:
            self.use_file(Path(path))

    def use_file(self, path: Path) -> None:
        self._run(
            "Checking and copying",
            lambda progress: weights_setup.install_copy(
                path, self.target, progress=progress, cancelled=self._cancel.is_set
            ),
        )

    def _run(self, verb: str, work: Callable[[weights_setup.Progress], object]) -> None:
        if self._busy:
            return
        self._busy = True
        self._cancel.clear()
        self.download_button.setEnabled(False)
        self.pick_button.setEnabled(False)
        self.cancel_button.setVisible(True)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self.status.setText(f"{verb} VGG19's weights\u2026")
        self.status.setVisible(True)

        def thread() -> None:
            try:
                work(lambda done, total: self._progressed.emit(done, total, verb))
                outcome = ""
            except weights_setup.SetupError as exc:
                outcome = str(exc)
            except Exception as exc:  # a bug: say it, so the panel never stays busy
                outcome = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(RuntimeError):  # the panel is gone (Krita closed meanwhile)
                self._ended.emit(outcome)

        threading.Thread(target=thread, name="restyle-weights", daemon=True).start()

    def _show_progress(self, done: int, total: int | None, verb: str) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * done / total))
        self.status.setText(weights_setup.progress_text(done, total, verb))

    def _end(self, problem: str) -> None:
        self._busy = False
        if problem:
            self._idle(problem)
            return
        self._idle("")
        self.hide()
        connection = self._connection()
        if connection is not None:
            connection.ensure_server(lambda: None, lambda reason: None)  # the docker shows how it goes

    def _idle(self, text: str) -> None:
        self.download_button.setEnabled(True)
        self.pick_button.setEnabled(True)
        self.cancel_button.setVisible(False)
        self.bar.setVisible(False)
        self.status.setText(text)
        self.status.setVisible(bool(text))


def _label(name: str) -> QLabel:
    """Wrapped, selectable text: long paths break at their slashes instead of widening the docker."""
    label = QLabel(objectName=name, wordWrap=True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setTextFormat(Qt.PlainText)
    return label
