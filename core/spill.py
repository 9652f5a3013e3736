"""Full-size pictures kept in files, for stages whose state would not fit in memory.

A stage run in blocks keeps, at the picture's full size, the picture, its gradient, the
best picture, the optimiser's moments, the content and the content's features: at
8192 x 8192 px about 9 GB, more than the whole budget of a modest machine.  Here each of
them is a file mapped into memory.  Only the part being worked on is resident: after
each block, and after each band of rows that a full-size step walks through, the pages
are given back (`release`), and the kernel writes them out or keeps them in its cache as
memory allows.  So the job's own memory follows the block, not the picture.

The files are unlinked as soon as they are mapped: nothing is left behind, whether the
job ends, fails or the process is killed.
"""

from __future__ import annotations

import math
import mmap
import os
import tempfile
from collections.abc import Iterator

import numpy as np
import torch

BAND_BYTES = 64 * 1024 * 1024  # resident at once while a full-size step walks the rows


class Spill:
    def __init__(self, folder: str | None = None) -> None:
        self.folder = folder or disk_folder()
        self._maps: list[mmap.mmap] = []

    def zeros(self, shape: tuple[int, ...]) -> torch.Tensor:
        """A float32 tensor of zeros whose memory is a file; pages are made as touched."""
        size = math.prod(shape) * 4
        fd, path = tempfile.mkstemp(prefix="restyle-spill-", dir=self.folder)
        try:
            os.unlink(path)
            os.ftruncate(fd, size)
            mapped = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._maps.append(mapped)
        return torch.from_numpy(np.frombuffer(mapped, dtype=np.float32).reshape(shape))

    def copy(self, source: torch.Tensor) -> torch.Tensor:
        """`source` (N, C, H, W) in a file, copied a band at a time."""
        out = self.zeros(tuple(source.shape))
        for target, band in self.bands(out, source):
            target.copy_(band)
        return out

    def release(self) -> None:
        """Give back the resident pages; the contents stay in the files."""
        for mapped in self._maps:
            mapped.madvise(mmap.MADV_DONTNEED)

    def bands(self, *tensors: torch.Tensor) -> Iterator[tuple[torch.Tensor, ...]]:
        """The same band of rows of each (N, C, H, W) tensor, a band at a time, with the
        pages released after each band."""
        height = tensors[0].shape[-2]
        row_bytes = sum(t[..., :1, :].numel() * t.element_size() for t in tensors)
        rows = max(1, BAND_BYTES // max(1, row_bytes))
        for top in range(0, height, rows):
            yield tuple(t[..., top:top + rows, :] for t in tensors)
            self.release()


def disk_folder() -> str:
    """The system's temporary folder, unless it lives in memory (a tmpfs /tmp would only
    move the pictures from one kind of memory to another): then the user's cache."""
    folder = tempfile.gettempdir()
    mount, kind = "", ""
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                point = fields[1] if len(fields) > 2 else ""
                if point and (folder + "/").startswith(point.rstrip("/") + "/") and len(point) >= len(mount):
                    mount, kind = point, fields[2]
    except OSError:
        return folder
    if kind in ("tmpfs", "ramfs"):
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(cache, "restyle")
        os.makedirs(folder, exist_ok=True)
    return folder
