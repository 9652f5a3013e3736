"""Reading the docker's choices out of a document into a job, without Qt.

The pixels are read through a `PixelReader` (`layers` in Krita, a stand-in in tests),
so which layers are read, and what is refused with which message, is tested outside
Krita.  The request itself is made by the shared `restyle_client.settings`, as GIMP's is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from restyle_client.geometry import Rect
from restyle_client.request import Pixels, Request, Style
from restyle_client.settings import DEFAULT_QUALITY, Previews, Settings, build_request, quality_size, regions_of

from . import nodes
from .layer_lists import MaskChoice, MaskKind
from .nodes import LayerError


class PixelReader(Protocol):
    def read_layer(self, node) -> tuple[Pixels, Rect, bytes]: ...

    def selection_plane(self, document, rect: Rect) -> bytes | None: ...

    def layer_alpha_plane(self, node, rect: Rect) -> bytes: ...

    def layer_gray_plane(self, node, rect: Rect) -> bytes: ...

    def mask_node_plane(self, node, rect: Rect) -> bytes: ...


@dataclass(frozen=True)
class RegionChoice:
    mask: MaskChoice
    style_uid: str


@dataclass
class Choices:
    """What the docker's widgets say, as plain values."""

    content_uid: str
    style_uids: list[str]
    regions: list[RegionChoice] = field(default_factory=list)
    only_selection: bool = True
    quality: int = DEFAULT_QUALITY
    settings: Settings = field(default_factory=Settings)


@dataclass
class JobInput:
    """The request, and what the job needs to put its answer back where it belongs."""

    request: Request
    content: object
    rect: Rect
    depth: str
    native: bytes  # the content as Krita's bytes: the base for blending inside the selection
    plane: bytes | None  # the selection over the content, when the change is limited to it
    style_names: list[str]


def read_job(document, choices: Choices, reader: PixelReader) -> JobInput:
    """Raises LayerError, UnsupportedFormat, JobError or RequestError, each for the user."""
    if document is None:
        raise LayerError("Open a document first.")
    content = nodes.find_node(document, choices.content_uid)
    if content is None:
        raise LayerError("Pick the content layer to restyle.")
    style_nodes = [node for node in (nodes.find_node(document, uid) for uid in choices.style_uids) if node is not None]
    if not style_nodes and not choices.regions:
        raise LayerError("Tick at least one style layer.")
    if any(nodes.node_id(node) == nodes.node_id(content) for node in style_nodes):
        raise LayerError("The content layer cannot also be its own style.")
    wire, rect, native = reader.read_layer(content)
    styles = [_style(reader, node) for node in style_nodes]
    names = [node.name() for node in style_nodes]
    region_names = ["the style layers"] if styles else []
    masked = []
    for region in choices.regions:
        style_node = nodes.find_node(document, region.style_uid)
        if style_node is None:
            raise LayerError("Each region needs a style layer.")
        plane = _region_plane(document, region.mask, rect, reader)
        masked.append((Pixels(rect.width, rect.height, 1, "u8", plane), [_style(reader, style_node)]))
        names.append(style_node.name())
        region_names.append(f"the region \u201c{region.mask.label}\u201d")
    settings = replace(choices.settings, size=quality_size(choices.quality, rect.width, rect.height))
    request = build_request(wire, regions_of(styles, masked), settings, Previews.LIVE, region_names)
    plane = reader.selection_plane(document, rect) if choices.only_selection else None
    return JobInput(request, content, rect, content.colorDepth(), native, plane, names)


def _style(reader: PixelReader, node) -> Style:
    return Style(reader.read_layer(node)[0], 1.0, node.name())


def _region_plane(document, mask: MaskChoice, rect: Rect, reader: PixelReader) -> bytes:
    if mask.kind is MaskKind.SELECTION:
        plane = reader.selection_plane(document, rect)
        if plane is None:
            raise LayerError("A region uses the current selection, but nothing is selected.")
        return plane
    node = nodes.find_node(document, mask.uid)
    if node is None:
        raise LayerError("A region's mask layer no longer exists.")
    if mask.kind is MaskKind.ALPHA:
        return reader.layer_alpha_plane(node, rect)
    if mask.kind is MaskKind.GREY:
        return reader.layer_gray_plane(node, rect)
    return reader.mask_node_plane(node, rect)
