"""Finding a document's layers and masks: plain walks over Krita's node API, no Qt.

Only the node methods are called (`childNodes`, `type`, `name`, `uniqueId`), so
the docker's logic built on these runs in tests on stand-in nodes, outside Krita.
"""

from __future__ import annotations

from collections.abc import Iterator

LAYER_TYPES = ("paintlayer", "grouplayer", "filelayer", "vectorlayer", "filllayer", "clonelayer")
MASK_TYPES = ("selectionmask", "transparencymask")
PREVIEW_NAME = "Restyle preview"


class LayerError(ValueError):
    """A layer cannot be used as asked; the message is for the user."""


def walk(node) -> Iterator[tuple[object, int]]:
    """Every node below `node`, top of the stack first, with its depth."""

    def visit(parent, depth: int):
        for child in reversed(parent.childNodes()):
            yield child, depth
            yield from visit(child, depth + 1)

    yield from visit(node, 0)


def node_id(node) -> str:
    return node.uniqueId().toString()


def document_key(document) -> str:
    """Stable for as long as the document is open, whichever wrapper object Krita hands out."""
    return node_id(document.rootNode())


def find_node(document, uid: str):
    for node, _ in walk(document.rootNode()):
        if node_id(node) == uid:
            return node
    return None


def layers(document) -> list[tuple[object, int]]:
    """The layers a person can pick, with their depth; never our own preview layer."""
    return [(n, d) for n, d in walk(document.rootNode()) if n.type() in LAYER_TYPES and n.name() != PREVIEW_NAME]


def masks(document) -> list[tuple[object, int]]:
    return [(n, d) for n, d in walk(document.rootNode()) if n.type() in MASK_TYPES]
