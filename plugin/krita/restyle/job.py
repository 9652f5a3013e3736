"""One running restyle: it turns the server's events into layers of its document.

A job remembers its document, content layer and rectangle from the moment it started,
so switching documents or windows meanwhile changes nothing.  The content layer is
only ever read.  The final picture (also a cancelled one) always becomes a new layer.
"""

from __future__ import annotations

from PyQt5.QtCore import QObject, pyqtSignal
from restyle_client import events as ev
from restyle_client.request import Request

from . import jobspec
from . import layers as ly
from . import pixels as px


class RestyleJob(QObject):
    changed = pyqtSignal()  # message, percent or done changed

    def __init__(
        self, document, content, rect: ly.Rect, depth: str, native: bytes, plane: bytes | None, style_names: list[str]
    ) -> None:
        super().__init__()
        self.document, self.content, self.rect, self.depth = document, content, rect, depth
        self.native, self.plane, self.style_names = native, plane, style_names
        self.preview = ly.PreviewLayer(document, content, rect, depth, native, plane)
        self.connection = None
        self.job_id: str | None = None
        self.key = ly.document_key(document)
        self.previews = 0
        self.result_layer = None
        self.done = False
        self.ok = False
        self.message = ""
        self.percent = 0

    def say(self, message: str, percent: int | None = None) -> None:
        self.message = message
        if percent is not None:
            self.percent = percent
        self.changed.emit()

    def fail(self, message: str) -> None:
        self._finish(False, message)

    def start(self, connection, request: Request) -> None:
        self.connection = connection
        self.job_id = connection.submit(request, self.on_event)
        self.say("Sent to the server\u2026")

    def cancel(self) -> None:
        if self.connection is not None and self.job_id and not self.done:
            self.say("Cancelling; the picture so far will be kept\u2026")
            self.connection.cancel(self.job_id)

    def on_event(self, event: object) -> None:
        try:
            self._handle(event)
        except Exception as exc:  # never let a slot raise into Krita (it opens a modal dialog)
            self._finish(False, f"Restyle could not use the server's answer: {type(exc).__name__}: {exc}")

    def _handle(self, event: object) -> None:
        if isinstance(event, (ev.Accepted, ev.Queued)):
            self.say(jobspec.queue_text(event.position))
        elif isinstance(event, ev.Progress):
            self.say(
                jobspec.progress_text(event.stage, event.stages, event.iteration, event.iterations, event.eta),
                jobspec.percent(event.step, event.steps),
            )
        elif isinstance(event, ev.Preview):
            if self._document_open():
                self.preview.show(event.pixels)
                self.previews += 1
        elif isinstance(event, ev.Result):
            self._write_result(event)
        elif isinstance(event, ev.Error):
            self._finish(False, f"The server could not finish: {event.message}")

    def _write_result(self, event: ev.Result) -> None:
        if not self._document_open():
            self._finish(False, "The document was closed before the result arrived.")
            return
        pixels = event.pixels
        if (pixels.width, pixels.height) != (self.rect.width, self.rect.height):
            self._finish(
                False,
                f"The server sent a {pixels.width}x{pixels.height} result for a "
                f"{self.rect.width}x{self.rect.height} layer; nothing was changed.",
            )
            return
        native = px.wire_to_native(pixels, self.depth)
        if self.plane is not None:
            native = px.blend_inside_mask(self.native, native, self.plane, self.depth)
        self.preview.remove()
        name = jobspec.result_name(self.style_names, cancelled=event.cancelled)
        self.result_layer = ly.add_layer_above(self.document, self.content, name, native, self.rect)
        if not event.cancelled:
            self.percent = 100
        verb = "Cancelled; kept the picture so far as" if event.cancelled else "Done: added"
        self._finish(True, f"{verb} \u201c{self.result_layer.name()}\u201d.")

    def _finish(self, ok: bool, message: str) -> None:
        if self.done:
            return
        self.done, self.ok = True, ok
        try:
            self.preview.remove()
        except Exception:
            pass
        self.say(message)

    def _document_open(self) -> bool:
        from krita import Krita

        return any(ly.document_key(d) == self.key for d in Krita.instance().documents())
