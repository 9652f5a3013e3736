"""The menu entry Tools ▸ Scripts ▸ Restyle Layer…, which opens (or raises) the docker."""

from __future__ import annotations

from krita import Extension, Krita
from PyQt5.QtWidgets import QDockWidget

from .docker import DOCKER_ID

ACTION_ID = "restyle_layer"


def find_docker(window):
    """This window's Restyle docker (a QDockWidget), or None."""
    qwindow = window.qwindow() if window is not None else None
    if qwindow is None:
        return None
    for dock in qwindow.findChildren(QDockWidget):
        if dock.objectName() == DOCKER_ID:
            return dock
    return None


class RestyleExtension(Extension):
    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:  # noqa: N802 (Krita's name)
        action = window.createAction(ACTION_ID, "Restyle Layer\u2026", "tools/scripts")
        action.setToolTip("Repaint the current layer in the style of other layers")
        action.triggered.connect(lambda: self.open_docker())

    def open_docker(self) -> None:
        # Krita's Window wrappers can be deleted under us; ask for the active one each time.
        window = Krita.instance().activeWindow()
        dock = find_docker(window)
        if dock is None:
            return
        dock.show()
        dock.raise_()
        dock.widget().setFocus() if dock.widget() is not None else None
