"""The docker's lists of layers and region masks, read from the document, without Qt.

The docker reads `lists_of(document)` every moment or so and refills its widgets only
when the lists differ from what it shows, because refilling closes an open drop-down
and loses the person's place.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from restyle_client.texts import is_result_name

from . import nodes

INDENT = "    "  # per level of nesting, so that groups read as in Krita's layer docker


class MaskKind(Enum):
    """Where a region's mask comes from."""

    SELECTION = "selection"  # the document's current selection
    ALPHA = "alpha"  # a layer's opaque parts
    GREY = "grey"  # a layer's light parts, times its coverage
    MASK = "mask"  # a selection or transparency mask


@dataclass(frozen=True)
class LayerChoice:
    uid: str
    label: str
    kind: str = "paintlayer"
    name: str = ""  # the layer's own name, without the indent


@dataclass(frozen=True)
class MaskChoice:
    label: str
    kind: MaskKind
    uid: str = ""  # the node's; none for the selection

    @property
    def key(self) -> tuple[str, str]:
        """Plain strings, to hold in a widget's item data and find again there."""
        return (self.kind.value, self.uid)


@dataclass(frozen=True)
class LayerLists:
    document: str | None
    layers: tuple[LayerChoice, ...] = ()
    masks: tuple[MaskChoice, ...] = ()


def lists_of(document) -> LayerLists:
    """What the docker offers for `document` (None: no document open)."""
    if document is None:
        return LayerLists(None)
    layer_nodes = nodes.layers(document)
    masks = [MaskChoice("Current selection", MaskKind.SELECTION)]
    for node, _ in layer_nodes:
        uid = nodes.node_id(node)
        masks.append(MaskChoice(f"Opaque parts of \u201c{node.name()}\u201d", MaskKind.ALPHA, uid))
        masks.append(MaskChoice(f"Light parts of \u201c{node.name()}\u201d", MaskKind.GREY, uid))
    for node, _ in nodes.masks(document):
        masks.append(MaskChoice(f"Mask \u201c{node.name()}\u201d", MaskKind.MASK, nodes.node_id(node)))
    return LayerLists(
        document.fileName(),
        tuple(
            LayerChoice(nodes.node_id(node), INDENT * depth + node.name(), node.type(), node.name())
            for node, depth in layer_nodes
        ),
        tuple(masks),
    )


def current_layer(document) -> str | None:
    """The id of the layer the person works on, which the content choice follows."""
    active = document.activeNode() if document is not None else None
    if active is None or active.type() not in nodes.LAYER_TYPES:
        return None
    return nodes.node_id(active)


def content_for(
    lists: LayerLists, current: str | None, styles: Collection[str], last: str | None, previous: str | None = None
) -> str | None:
    """The layer to restyle: the current one, unless it is ticked as a style (a style
    layer just added is current, and restyling a style with itself is never meant)."""
    offered = {layer.uid for layer in lists.layers}
    if current in offered and current not in styles:
        return current
    return fallback_content(lists, styles, last, previous)


def fallback_content(
    lists: LayerLists, styles: Collection[str], last: str | None, previous: str | None = None
) -> str | None:
    """The layer last restyled, else the content shown before it followed the current
    layer onto a style, else the bottom-most paint layer that is neither a style nor a
    result (usually the photo or drawing the document was made from)."""
    offered = {layer.uid for layer in lists.layers}
    for uid in (last, previous):
        if uid in offered and uid not in styles:
            return uid
    candidates = [layer for layer in reversed(lists.layers) if layer.uid not in styles]
    for layer in candidates:
        if layer.kind == "paintlayer" and not is_result_name(layer.name):
            return layer.uid
    return candidates[0].uid if candidates else None
