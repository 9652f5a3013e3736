"""A stand-in docker for when Krita's Python cannot import pyzmq or msgpack."""

from __future__ import annotations

from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase, Krita
from PyQt5.QtWidgets import QLabel

DOCKER_ID = "restyle_docker"


def advice(error: str) -> str:
    return (
        f"Restyle cannot talk to its server: {error}.\n\n"
        "Krita's Python needs pyzmq and msgpack. Run install.py again; on Linux with Krita from "
        "your distribution, install python3-zmq and python3-msgpack (Debian/Ubuntu: "
        "sudo apt install python3-zmq python3-msgpack), then restart Krita."
    )


def register_missing(error: str) -> None:
    class MissingDependencies(DockWidget):
        def __init__(self) -> None:
            super().__init__()
            self.setWindowTitle("Restyle")
            label = QLabel(advice(error), objectName="restyle_status", wordWrap=True)
            self.setWidget(label)

        def canvasChanged(self, canvas) -> None:  # noqa: N802 (Krita's name)
            pass

    app = Krita.instance()
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, MissingDependencies))
