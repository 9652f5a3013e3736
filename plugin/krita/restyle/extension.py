"""The menu entry Tools ▸ Scripts ▸ Restyle Layer…, which brings the docker into view.

Raising a docker that is hidden, or squeezed under others, looks like nothing
happened; so the action shows it, makes it tall enough for its essentials, and floats
it beside the canvas when the dock area has no room.
"""

from __future__ import annotations

from krita import Extension, Krita
from PyQt5.QtCore import Qt, QTimer
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
        bring_into_view(window.qwindow(), dock)


def bring_into_view(qwindow, dock) -> None:
    """Shown, raised, and at least as tall as its essentials (content, styles, quality, Start)."""
    dock.show()
    dock.raise_()
    wanted = max(dock.minimumSizeHint().height(), (dock.widget().minimumHeight() if dock.widget() else 0) + 30)
    width = dock.wanted_width() if hasattr(dock, "wanted_width") else 0
    if not dock.isFloating() and dock.height() < wanted:
        qwindow.resizeDocks([dock], [wanted], Qt.Vertical)
    if not dock.isFloating() and dock.width() < width:
        qwindow.resizeDocks([dock], [width], Qt.Horizontal)
    QTimer.singleShot(100, lambda: _float_if_squeezed(qwindow, dock, wanted))


def _float_if_squeezed(qwindow, dock, wanted: int) -> None:
    if dock.isFloating() or (dock.height() >= wanted and dock.isVisible() and dock.width() >= 200):
        dock.raise_()
        return
    frame = qwindow.geometry()
    width, height = 380, min(max(wanted, 640), frame.height() - 80)
    dock.setFloating(True)
    dock.setGeometry(frame.right() - width - 40, frame.top() + 60, width, height)
    dock.show()
    dock.raise_()
