"""Krita glue: reading layers, selections and masks as wire pixels, writing layers back.

Everything that touches Krita's pixel API and Qt's images is here; the conversions
themselves are in `pixels`, and finding nodes is in `nodes`, which both run without Krita.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QImage
from restyle_client.geometry import Rect
from restyle_client.request import Pixels
from restyle_client.stacking import earlier_results
from restyle_client.texts import next_result_name

from . import pixels as px
from .nodes import PREVIEW_NAME, LayerError, find_node, node_id, walk


def rect_of(qrect) -> Rect:
    return Rect(qrect.x(), qrect.y(), qrect.width(), qrect.height())


def layer_format(node) -> tuple[str, str]:
    return node.colorModel(), node.colorDepth()


def read_layer(node, rect: Rect | None = None) -> tuple[Pixels, Rect, bytes]:
    """A layer's pixels in `rect` (default: its painted bounds) as wire and native bytes."""
    model, depth = layer_format(node)
    px.check_format(model, depth, f"The layer \u201c{node.name()}\u201d")
    rect = rect or rect_of(node.bounds())
    if rect.width <= 0 or rect.height <= 0:
        raise LayerError(f"The layer \u201c{node.name()}\u201d is empty.")
    native = bytes(node.pixelData(*rect.tuple()))
    return px.native_to_wire(native, rect.width, rect.height, depth), rect, native


def selection_plane(document, rect: Rect) -> bytes | None:
    """The document's selection over `rect`, one byte per pixel; None when nothing is selected."""
    selection = document.selection()
    if selection is None or selection.width() <= 0 or selection.height() <= 0:
        return None
    plane = bytes(selection.pixelData(*rect.tuple()))
    return plane if plane.strip(b"\x00") else None


def _bgra8(node, rect: Rect) -> bytes:
    model, depth = layer_format(node)
    px.check_format(model, depth, f"The layer \u201c{node.name()}\u201d")
    native = bytes(node.pixelData(*rect.tuple()))
    if depth == "U8":
        return native
    order = px.CHANNEL_MAP[depth]  # native channel i is wire channel order[i]
    out = bytearray(rect.width * rect.height * 4)
    for native_channel, wire_channel in enumerate(order):
        out[(2, 1, 0, 3)[wire_channel] :: 4] = px.channel_u8(native, depth, native_channel)
    return bytes(out)


def layer_alpha_plane(node, rect: Rect) -> bytes:
    model, depth = layer_format(node)
    px.check_format(model, depth, f"The layer \u201c{node.name()}\u201d")
    return px.channel_u8(bytes(node.pixelData(*rect.tuple())), depth, 3)


def layer_gray_plane(node, rect: Rect) -> bytes:
    """Lightness times coverage: a transparent pixel never selects."""
    image = QImage(_bgra8(node, rect), rect.width, rect.height, rect.width * 4, QImage.Format_ARGB32)
    gray = image.convertToFormat(QImage.Format_ARGB32_Premultiplied).convertToFormat(QImage.Format_Grayscale8)
    return _image_bytes(gray, rect.width, 1)


def mask_node_plane(node, rect: Rect) -> bytes:
    data = bytes(node.pixelData(*rect.tuple()))
    if len(data) != rect.width * rect.height:
        raise LayerError(f"The mask \u201c{node.name()}\u201d is not a one-channel mask.")
    return data


def _image_bytes(image: QImage, width: int, bytes_per_pixel: int) -> bytes:
    row = width * bytes_per_pixel
    ptr = image.constBits()
    ptr.setsize(image.bytesPerLine() * image.height())
    raw = bytes(ptr)
    if image.bytesPerLine() == row:
        return raw
    stride = image.bytesPerLine()
    return b"".join(raw[r * stride : r * stride + row] for r in range(image.height()))


def scale_rgba8(pixels: Pixels, width: int, height: int) -> bytes:
    """A (small) preview as 8-bit RGBA at the layer's size, scaled by Qt in C++."""
    data = px.to_u8(pixels)
    fmt = QImage.Format_RGBA8888 if pixels.channels == 4 else QImage.Format_RGB888
    image = QImage(data, pixels.width, pixels.height, pixels.width * pixels.channels, fmt)
    scaled = image.scaled(width, height, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
    return _image_bytes(scaled.convertToFormat(QImage.Format_RGBA8888), width, 4)


def top_of_results(document, content):
    """(parent, node to add above): above the content's earlier results and the preview,
    so a new try shows on the canvas instead of hiding under the last one."""
    parent = content.parentNode() or document.rootNode()
    siblings = parent.childNodes()  # bottom first
    ids = [node_id(node) for node in siblings]
    index = ids.index(node_id(content)) if node_id(content) in ids else len(siblings) - 1
    above = siblings[index + 1 :]
    skip = earlier_results([node.name() for node in above], also=[PREVIEW_NAME])
    return parent, siblings[index + skip] if skip else content


def add_result(document, content, style_names, cancelled: bool, native: bytes, rect: Rect, preview=None):
    """The result as a layer on top of the content's earlier results, named apart from them.

    When the preview layer is still there it becomes the result (renamed, repainted):
    Krita records adding a layer as an undo step but not renaming or painting through
    the API, so the whole job stays one undo step and undo never brings the preview back.
    """
    taken = [n.name() for n, _ in walk(document.rootNode()) if preview is None or node_id(n) != node_id(preview)]
    name = next_result_name(style_names, cancelled, taken)
    if preview is not None and find_node(document, node_id(preview)) is not None:
        layer = preview
        layer.setName(name)
    else:
        layer = document.createNode(name, "paintlayer")
        parent, below = top_of_results(document, content)
        parent.addChildNode(layer, below)
        position = content.position()
        layer.move(position.x(), position.y())
    layer.setPixelData(native, *rect.tuple())
    keep_current(document, content)
    document.refreshProjection()
    return layer


def keep_current(document, node) -> None:
    """Krita makes every added layer current, after the fact; give the user's layer back."""
    QTimer.singleShot(0, lambda: document.setActiveNode(node))


class PreviewLayer:
    """A temporary layer above the content that shows the work in progress, updated in place."""

    def __init__(self, document, content, rect: Rect, depth: str, base: bytes, plane: bytes | None) -> None:
        self.document, self.content, self.rect, self.depth = document, content, rect, depth
        self.base, self.plane = base, plane
        self.node = None

    def show(self, pixels: Pixels) -> None:
        rgba8 = scale_rgba8(pixels, self.rect.width, self.rect.height)
        native = px.widen_u8(rgba8, self.depth)
        if self.plane is not None:
            native = px.blend_inside_mask(self.base, native, self.plane, self.depth)
        if self.node is None:
            self.node = self.document.createNode(PREVIEW_NAME, "paintlayer")
            parent, below = top_of_results(self.document, self.content)
            parent.addChildNode(self.node, below)
            position = self.content.position()
            self.node.move(position.x(), position.y())
            keep_current(self.document, self.content)
        self.node.setPixelData(native, *self.rect.tuple())
        self.document.refreshProjection()

    def take(self):
        """The preview layer, handed over to become the result; None when none was shown."""
        node, self.node = self.node, None
        return node

    def remove(self) -> None:
        if self.node is not None:
            if find_node(self.document, node_id(self.node)) is not None:
                self.node.remove()
            self.node = None
            self.document.refreshProjection()
