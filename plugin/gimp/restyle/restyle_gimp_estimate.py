"""How long the working sizes take on the server, for a note in the dialog, without GIMP.

GIMP's dialog has a number for the working size, not Krita's quality list, so the
presets are offered as a note beside it, each with its time on the server that
answers; and a size that would keep the artist waiting long is replaced by the largest
preset that is quick there, before the dialog opens.
"""

from __future__ import annotations

from restyle_client import presets, texts
from restyle_client.estimate import Speed
from restyle_client.settings import QUALITIES, quality_size

PROBE_TIMEOUT = 1.0  # the dialog must not wait for a server that is not there


def server_speed(endpoint: str, timeout: float = PROBE_TIMEOUT) -> Speed | None:
    """The pace a running server measured on its device; None when it has none or none answers."""
    from restyle_client.client import Client

    try:
        with Client(endpoint, name="restyle-gimp-estimate") as probe:
            return Speed.parse(probe.hello(timeout=timeout).get("speed"))
    except Exception:  # no server, a malformed endpoint, a zmq error: the dialog opens all the same
        return None


def offered_sizes(width: int, height: int) -> list[tuple[str, int]]:
    """The presets as values of the dialog's Size (0: the layer's own), each working size once."""
    seen, out = set(), []
    for index, (label, _) in enumerate(QUALITIES):
        size = quality_size(index, width, height) or 0
        if size not in seen:
            seen.add(size)
            out.append((label if size else f"Full size ({max(width, height)} px)", size))
    return out


def note(width: int, height: int, speed: Speed | None, iterations: int | None) -> str:
    """The dialog's line about time: each size with its time on this server."""
    if speed is None:
        return "Times show here once the server has measured its speed (after its first job)."
    seconds = presets.preset_seconds(width, height, speed, iterations)
    by_size = {quality_size(i, width, height) or 0: s for i, s in enumerate(seconds)}
    parts = [f"{label}: {texts.rough_duration(by_size[size])}" for label, size in offered_sizes(width, height)]
    return "On this server (Size, then time): " + ", ".join(parts) + "."


def suggested_size(width: int, height: int, speed: Speed | None, iterations: int | None, size: int) -> int:
    """`size`, unless it is the layer's own size and that would take long: then the quick preset's."""
    if speed is None or size != 0:
        return size
    seconds = presets.preset_seconds(width, height, speed, iterations)
    return quality_size(presets.default_preset(seconds), width, height) or 0
