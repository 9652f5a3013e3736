"""Where a new result goes: on top of the earlier results of the same content.

Each try lands where the artist looks, at the top of the pile of tries above the
content, so the canvas shows the newest one; a try under an earlier one would leave
the canvas unchanged.  The pile is recognised by the names Restyle gives its layers,
so it is found again in a saved and reopened document.  Editor-free: both plugins
pass the names of the layers above the content, nearest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .texts import is_result_name


def earlier_results(names_above: Iterable[str], also: Sequence[str] = ()) -> int:
    """How many of the layers right above the content (nearest first) are its earlier
    results (or one of `also`, such as a preview layer); the new one goes above them."""
    count = 0
    for name in names_above:
        if not (is_result_name(name) or name in also):
            break
        count += 1
    return count
