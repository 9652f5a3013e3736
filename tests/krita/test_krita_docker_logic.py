"""The docker's logic without Qt or Krita: its lists, its server and reading a job.

Stand-in nodes answer the few calls of Krita's node API that the logic makes, and a
stand-in reader gives pixels, so these run anywhere; the real API is exercised by
test_krita_e2e.py.
"""

from __future__ import annotations

import pytest
from krita_restyle.history import Entry, History
from krita_restyle.job_input import Choices, RegionChoice, read_job
from krita_restyle.layer_lists import (
    LayerLists,
    MaskChoice,
    MaskKind,
    content_for,
    current_layer,
    fallback_content,
    lists_of,
)
from krita_restyle.nodes import PREVIEW_NAME, LayerError
from krita_restyle.server_state import endpoint_to_use
from restyle_client.geometry import Rect
from restyle_client.request import Pixels
from restyle_client.settings import JobError, Settings

W, H = 4, 2
SELECTION = MaskChoice("Current selection", MaskKind.SELECTION)


class Uid:
    def __init__(self, value: str) -> None:
        self.value = value

    def toString(self) -> str:  # noqa: N802 (Qt's name)
        return self.value


class Node:
    def __init__(self, name: str, kind: str = "paintlayer", children=()) -> None:
        self._name, self._kind, self._children = name, kind, list(children)

    def name(self) -> str:
        return self._name

    def type(self) -> str:
        return self._kind

    def childNodes(self) -> list:  # noqa: N802 (Krita's name)
        return self._children  # bottom of the stack first, as Krita gives them

    def uniqueId(self) -> Uid:  # noqa: N802 (Krita's name)
        return Uid(f"{{{self._name}}}")

    def colorDepth(self) -> str:  # noqa: N802 (Krita's name)
        return "U8"


class Document:
    def __init__(self, *layers: Node, active: Node | None = None) -> None:
        self.root = Node("root", "grouplayer", layers)
        self.active = active

    def rootNode(self) -> Node:  # noqa: N802 (Krita's name)
        return self.root

    def fileName(self) -> str:  # noqa: N802 (Krita's name)
        return "picture.kra"

    def activeNode(self):  # noqa: N802 (Krita's name)
        return self.active


class Reader:
    """Every layer is W x H at (2, 3); planes are what the test says."""

    def __init__(self, selection: bytes | None = None, plane: bytes = b"\xff" * (W * H)) -> None:
        self.selection, self.plane = selection, plane

    def read_layer(self, node):
        return Pixels(W, H, 4, "u8", bytes(W * H * 4)), Rect(2, 3, W, H), b"native " + node.name().encode()

    def selection_plane(self, document, rect):
        return self.selection

    def layer_alpha_plane(self, node, rect):
        return self.plane

    def layer_gray_plane(self, node, rect):
        return self.plane

    def mask_node_plane(self, node, rect):
        return self.plane


def picture():
    """Photo at the bottom, a group with Stripes above it, a selection mask on Photo."""
    photo = Node("Photo", children=[Node("Selection Mask", "selectionmask")])
    group = Node("Group", "grouplayer", [Node("Stripes")])
    return Document(photo, group, Node("Dots"), active=photo)


# --- the lists ---------------------------------------------------------------------------


def test_layers_are_offered_top_first_indented_by_depth():
    lists = lists_of(picture())
    assert [layer.label for layer in lists.layers] == ["Dots", "Group", "    Stripes", "Photo"]
    assert lists.layers[-1].uid == "{Photo}"


def test_the_preview_layer_is_never_offered():
    lists = lists_of(Document(Node("Photo"), Node(PREVIEW_NAME)))
    assert [layer.label for layer in lists.layers] == ["Photo"]


def test_a_region_can_be_the_selection_a_layers_opaque_or_light_parts_or_a_mask():
    masks = lists_of(Document(Node("Photo", children=[Node("Selection Mask", "selectionmask")]))).masks
    assert masks == (
        SELECTION,
        MaskChoice("Opaque parts of “Photo”", MaskKind.ALPHA, "{Photo}"),
        MaskChoice("Light parts of “Photo”", MaskKind.GREY, "{Photo}"),
        MaskChoice("Mask “Selection Mask”", MaskKind.MASK, "{Selection Mask}"),
    )
    assert masks[1].key == ("alpha", "{Photo}") and MaskKind(masks[1].key[0]) is MaskKind.ALPHA


def test_the_lists_change_only_when_the_document_does():
    assert lists_of(picture()) == lists_of(picture())
    renamed = picture()
    renamed.root.childNodes()[-1]._name = "Spots"
    assert lists_of(renamed) != lists_of(picture())
    assert lists_of(None) == LayerLists(None)


def test_the_content_follows_the_current_layer_but_not_a_mask():
    doc = picture()
    assert current_layer(doc) == "{Photo}"
    doc.active = Node("Selection Mask", "selectionmask")
    assert current_layer(doc) is None
    assert current_layer(None) is None


# --- the server --------------------------------------------------------------------------


def test_the_typed_endpoint_wins_over_the_recorded_one():
    assert endpoint_to_use(" tcp://10.0.0.2:7865 ", "tcp://127.0.0.1:7865") == "tcp://10.0.0.2:7865"
    assert endpoint_to_use("  ", "tcp://127.0.0.1:7865") == "tcp://127.0.0.1:7865"


# --- reading a job -----------------------------------------------------------------------


def test_the_ticked_styles_apply_everywhere_and_the_result_is_named_after_them():
    job = read_job(picture(), Choices("{Photo}", ["{Stripes}", "{Dots}"]), Reader())
    assert [region.mask for region in job.request.regions] == [None]
    assert [style.name for style in job.request.regions[0].styles] == ["Stripes", "Dots"]
    assert job.style_names == ["Stripes", "Dots"]
    assert (job.rect, job.depth, job.native) == (Rect(2, 3, W, H), "U8", b"native Photo")


def test_the_settings_and_quality_reach_the_request():
    chosen = Choices("{Photo}", ["{Stripes}"], quality=3, settings=Settings(strength=0.8, seed=7, iterations=30))
    options = read_job(picture(), chosen, Reader()).request.options
    assert (options.strength, options.seed, options.iterations, options.size) == (0.8, 7, 30, None)
    assert options.preview_every > 0, "the docker shows the work as it goes"


def test_only_the_selection_changes_when_asked():
    selection = bytes([0, 255] * 4)
    assert read_job(picture(), Choices("{Photo}", ["{Stripes}"]), Reader(selection)).plane == selection
    unlimited = Choices("{Photo}", ["{Stripes}"], only_selection=False)
    assert read_job(picture(), unlimited, Reader(selection)).plane is None


def test_each_region_pairs_its_mask_with_its_style():
    light = MaskChoice("Light parts of “Stripes”", MaskKind.GREY, "{Stripes}")
    regions = [RegionChoice(SELECTION, "{Dots}"), RegionChoice(light, "{Dots}")]
    job = read_job(picture(), Choices("{Photo}", [], regions), Reader(selection=b"\x80" * (W * H)))
    assert [region.mask.data for region in job.request.regions] == [b"\x80" * (W * H), b"\xff" * (W * H)]
    assert job.style_names == ["Dots", "Dots"]


@pytest.mark.parametrize(
    "document,choices,reader,message",
    [
        (None, Choices("{Photo}", ["{Stripes}"]), Reader(), "Open a document first."),
        (picture(), Choices("{Gone}", ["{Stripes}"]), Reader(), "Pick the content layer to restyle."),
        (picture(), Choices("{Photo}", []), Reader(), "Tick at least one style layer."),
        (picture(), Choices("{Photo}", ["{Photo}"]), Reader(), "The content layer cannot also be its own style."),
        (picture(), Choices("{Photo}", [], [RegionChoice(SELECTION, "")]), Reader(b"\xff" * 8), "Each region needs"),
        (picture(), Choices("{Photo}", [], [RegionChoice(SELECTION, "{Dots}")]), Reader(), "nothing is selected"),
    ],
)
def test_what_cannot_run_is_refused_with_a_message_for_the_person(document, choices, reader, message):
    with pytest.raises(LayerError, match=message):
        read_job(document, choices, reader)


def test_a_region_whose_mask_covers_nothing_is_named_as_the_docker_shows_it():
    region = RegionChoice(MaskChoice("Light parts of “Sky”", MaskKind.GREY, "{Stripes}"), "{Dots}")
    with pytest.raises(JobError, match="^The mask of the region “Light parts of “Sky”” does not cover any"):
        read_job(picture(), Choices("{Photo}", ["{Stripes}"], [region]), Reader(plane=bytes(W * H)))


# --- the content layer it starts with ------------------------------------------------------


def test_the_content_follows_the_current_layer_unless_it_is_ticked_as_a_style():
    lists = lists_of(picture())
    assert content_for(lists, "{Dots}", set(), None) == "{Dots}"
    assert content_for(lists, "{Dots}", {"{Dots}"}, None, previous="{Photo}") == "{Photo}", "a style just added"


def test_without_a_usable_current_layer_the_last_content_or_the_bottom_paint_layer_is_chosen():
    lists = lists_of(Document(Node("Photo"), Node("Photo (restyled)"), Node("Swirls"), active=None))
    assert content_for(lists, None, {"{Swirls}"}, None) == "{Photo}"
    assert content_for(lists, None, {"{Swirls}"}, None, previous="{Photo (restyled)}") == "{Photo (restyled)}"
    assert content_for(lists, None, {"{Swirls}"}, "{Photo (restyled)}") == "{Photo (restyled)}"
    assert fallback_content(lists, {"{Photo}"}, "{Photo}") == "{Swirls}", "never a ticked style"


# --- the history -----------------------------------------------------------------------------


def entry(uid, content="{Photo}", seconds=75.0, **settings):
    return Entry(uid, f"Stripes ({uid})", content, ("{Stripes}",), ("Stripes",), 0, Settings(**settings), seconds)


def test_history_is_newest_first_and_short():
    history = History(keep=3)
    for uid in "abcd":
        history.add("doc", entry(uid))
    assert [e.layer_uid for e in history.entries("doc", set("abcd"))] == ["d", "c", "b"]


def test_a_result_is_listed_once():
    history = History()
    history.add("doc", entry("a"))
    history.add("doc", entry("a", seconds=80.0))
    assert [e.seconds for e in history.entries("doc", {"a"})] == [80.0]


def test_a_result_the_artist_deleted_leaves_the_history():
    history = History()
    history.add("doc", entry("a"))
    history.add("doc", entry("b"))
    assert [e.layer_uid for e in history.entries("doc", {"b"})] == ["b"]
    assert history.entries("other document", {"a", "b"}) == []


def test_an_entry_reads_as_what_made_that_result_differ():
    summary = entry("a", strength=0.7, seed=3, iterations=20, preserve_colors="luminance").summary()
    assert summary == (
        "Stripes \u00b7 Draft \u00b7 strength 0.70 \u00b7 scale 1 \u00b7 luminance colours \u00b7 seed 3"
        " \u00b7 20 it./stage \u00b7 1 min 15 s"
    )


def test_comparing_a_result_hides_only_the_other_results_of_its_content():
    history = History()
    a, b, sky = entry("a"), entry("b"), entry("s", content="{Sky}")
    for e in (a, b, sky):
        history.add("doc", e)
    assert history.others_of_content("doc", a) == [b]
