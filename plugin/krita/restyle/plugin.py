"""Registration with Krita: one extension (the menu action) and one docker per window."""

from __future__ import annotations

from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita

from .docker import DOCKER_ID, RestyleDocker
from .extension import RestyleExtension


def register() -> None:
    app = Krita.instance()
    app.addExtension(RestyleExtension(app))
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, RestyleDocker))
