"""How long an iteration takes on this device: a fixed part, plus a part per pixel.

Counting iterations makes a 1024 px iteration look as cheap as a 128 px one, and
counting pixels alone makes a small one look free: on the 2-core CPU of this project an
iteration at 256 px took 0.31 s and one at 512 px 0.41 s (random weights, L-BFGS), so
about 0.28 s of every iteration does not grow with the picture.  The engine measures
each stage it runs and fits `seconds = per_iteration + per_pixel × pixels` to the
recent ones, so its progress, its ETA and a server's estimates before a job follow the
device they run on.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

# Before anything is measured: the fixed part as the time of this many pixels, from the
# CPU figures above.  Only the ratio matters for a progress bar.
PRIOR_FIXED_PIXELS = 250_000.0
KEEP = 24  # recent stages fitted; older ones describe a device as it was
MIN_SPREAD = 1.5  # pixel counts this far apart separate the fixed part from the rest


@dataclass(frozen=True)
class Pace:
    per_iteration: float  # seconds
    per_pixel: float  # seconds

    def seconds(self, pixels: float, iterations: int = 1) -> float:
        return iterations * (self.per_iteration + self.per_pixel * pixels)


class PaceMeter:
    """Stages measured on one device; safe to read from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: deque[tuple[float, float]] = deque(maxlen=KEEP)
        self._pace: Pace | None = None

    @property
    def pace(self) -> Pace | None:
        with self._lock:
            return self._pace

    def weight(self, pixels: float) -> float:
        """What one iteration of this many pixels weighs in a job's progress."""
        pace = self.pace
        if pace is None:
            return pixels + PRIOR_FIXED_PIXELS
        return pace.seconds(pixels)

    def observe(self, pixels: float, seconds_per_iteration: float) -> None:
        if pixels <= 0 or not seconds_per_iteration > 0:
            return
        with self._lock:
            self._seen.append((float(pixels), float(seconds_per_iteration)))
            self._pace = _fit(list(self._seen), self._pace)


def _fit(seen: list[tuple[float, float]], before: Pace | None) -> Pace:
    """Least squares over the stages seen.  Where they are all about one size, or
    disagree because the device changed (the line would cross zero), the fixed part
    cannot be told from the rest: the last fit, or the prior, is scaled to the newest."""
    pixels = [p for p, _ in seen]
    if max(pixels) >= MIN_SPREAD * min(pixels):
        # Weighed by their pixels: the large stages take most of a job's time, so they
        # are the ones an estimate must get right; small ones fit in the CPU's caches and
        # understate what a pixel costs.
        total = sum(pixels)
        mean_p = sum(p * p for p in pixels) / total
        mean_t = sum(p * t for p, t in seen) / total
        spread = sum(p * (p - mean_p) ** 2 for p in pixels)
        slope = sum(p * (p - mean_p) * (t - mean_t) for p, t in seen) / spread
        fixed = mean_t - slope * mean_p
        if slope > 0 and fixed >= 0:
            return Pace(fixed, slope)
    shape = before or Pace(PRIOR_FIXED_PIXELS, 1.0)
    newest_pixels, newest_seconds = seen[-1]
    scale = newest_seconds / shape.seconds(newest_pixels)
    return Pace(shape.per_iteration * scale, shape.per_pixel * scale)
