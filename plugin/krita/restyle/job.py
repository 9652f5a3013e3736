"""One running restyle: it turns the server's events into layers of its document.

A job remembers its document, content layer and rectangle from the moment it started,
so switching documents or windows meanwhile changes nothing.  The content layer is
only ever read.  The final picture (also a cancelled one) always becomes a new layer.
"""

from __future__ import annotations

import time

from PyQt5.QtCore import QObject, pyqtSignal
from restyle_client import events as ev
from restyle_client import texts
from restyle_client.request import Request

from . import layers as ly
from . import nodes
from . import pixels as px
from .job_input import JobInput


class RestyleJob(QObject):
    changed = pyqtSignal()  # message, percent or done changed

    def __init__(self, document, job_input: JobInput) -> None:
        super().__init__()
        self.document, self.content, self.rect = document, job_input.content, job_input.rect
        self.depth, self.native, self.plane = job_input.depth, job_input.native, job_input.plane
        self.style_names = job_input.style_names
        self.preview = ly.PreviewLayer(document, self.content, self.rect, self.depth, self.native, self.plane)
        self.connection = None
        self.job_id: str | None = None
        self.key = nodes.document_key(document)
        self.result_layer = None
        self.done = False
        self.message = ""
        self.percent = 0
        self.started = time.monotonic()
        self.seconds = 0.0
        self.cancelled = False

    def say(self, message: str, percent: int | None = None) -> None:
        self.message = message
        if percent is not None:
            self.percent = percent
        self.changed.emit()

    def fail(self, message: str) -> None:
        self._finish(message)

    def start(self, connection, request: Request) -> None:
        self.connection = connection
        self.job_id = connection.submit(request, self.on_event)
        self.say(texts.SENT)

    def cancel(self) -> None:
        if self.connection is not None and self.job_id and not self.done:
            self.say(texts.CANCELLING)
            self.connection.cancel(self.job_id)

    def on_event(self, event: object) -> None:
        try:
            self._handle(event)
        except Exception as exc:  # never let a slot raise into Krita (it opens a modal dialog)
            self._finish(texts.unusable_answer_text(exc))

    def _handle(self, event: object) -> None:
        news = texts.news(event)
        if news is not None:
            self.say(news.text, news.percent)
        elif isinstance(event, ev.Preview):
            if self._document_open():
                self.preview.show(event.pixels)
        elif isinstance(event, ev.Result):
            self._write_result(event)
        elif isinstance(event, ev.Error):
            self._finish(texts.failed_text(event.message))

    def _write_result(self, event: ev.Result) -> None:
        if not self._document_open():
            self._finish("The document was closed before the result arrived.")
            return
        pixels = event.pixels
        if (pixels.width, pixels.height) != (self.rect.width, self.rect.height):
            self._finish(
                f"The server sent a {pixels.width}x{pixels.height} result for a "
                f"{self.rect.width}x{self.rect.height} layer; nothing was changed.",
            )
            return
        native = px.wire_to_native(pixels, self.depth)
        if self.plane is not None:
            native = px.blend_inside_mask(self.native, native, self.plane, self.depth)
        self.result_layer = ly.add_result(
            self.document, self.content, self.style_names, event.cancelled, native, self.rect, self.preview.take()
        )
        self.cancelled = event.cancelled
        self.percent = 0 if event.cancelled else 100
        self._finish(texts.done_text(self.result_layer.name(), event.cancelled))

    def _finish(self, message: str) -> None:
        """The job's end; a bar left half-full would read as work still going on."""
        if self.done:
            return
        self.done = True
        self.seconds = time.monotonic() - self.started
        if self.result_layer is None or self.cancelled:
            self.percent = 0
        try:
            self.preview.remove()
        except Exception:
            pass
        self.say(message)

    def _document_open(self) -> bool:
        from krita import Krita

        return any(nodes.document_key(d) == self.key for d in Krita.instance().documents())
