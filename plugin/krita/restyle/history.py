"""The docker's history: this session's results of each document, to compare and restore.

Without Qt, so what is kept, for how long and how it reads is tested outside Krita.
An entry remembers the result layer (by id, so a renamed layer is still found) and
everything needed to run the same job again.  Entries whose layer the artist deleted
drop out, and only the newest few are kept: the history is a short memory of tries,
not an archive.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from restyle_client.settings import QUALITIES, Settings
from restyle_client.texts import duration, style_label

KEEP = 12


@dataclass(frozen=True)
class Entry:
    layer_uid: str
    layer_name: str
    content_uid: str
    style_uids: tuple[str, ...]
    style_names: tuple[str, ...]
    quality: int
    settings: Settings
    seconds: float
    cancelled: bool = False

    def title(self) -> str:
        return self.layer_name

    def summary(self) -> str:
        """One line an artist can compare at a glance: what made this result differ."""
        quality = QUALITIES[self.quality][0].split(" (")[0]
        s = self.settings
        parts = [style_label(self.style_names), quality, f"strength {s.strength:.2f}", f"scale {s.style_scale:g}"]
        if s.preserve_colors != "none":
            parts.append(f"{s.preserve_colors} colours")
        parts.append(f"seed {s.seed}")
        if s.iterations:
            parts.append(f"{s.iterations} it./stage")
        parts.append(duration(self.seconds) + (", cancelled" if self.cancelled else ""))
        return " \u00b7 ".join(parts)


class History:
    """Per document (by its key), newest first."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._by_document: dict[str, list[Entry]] = {}

    def add(self, document: str, entry: Entry) -> None:
        """Newest first; a layer is listed once, however often its job reports its end."""
        entries = [e for e in self._by_document.get(document, []) if e.layer_uid != entry.layer_uid]
        entries.insert(0, entry)
        self._by_document[document] = entries[: self.keep]

    def entries(self, document: str, alive: Collection[str]) -> list[Entry]:
        """The document's entries whose layer still exists (`alive`: the layer ids now in it)."""
        kept = [entry for entry in self._by_document.get(document, []) if entry.layer_uid in alive]
        self._by_document[document] = kept
        return list(kept)

    def others_of_content(self, document: str, entry: Entry) -> list[Entry]:
        """The other results of the same content: hidden while this one is compared."""
        return [e for e in self._by_document.get(document, []) if e.content_uid == entry.content_uid and e != entry]
