"""The pictures every command-line test starts from, written as files."""

from __future__ import annotations

import numpy as np
import pytest
from support.pictures import gradient, save, stripes


@pytest.fixture
def files(tmp_path):
    return {
        "content": save(tmp_path / "content.png", gradient()),
        "style": save(tmp_path / "style.png", stripes()),
        "mask": save(tmp_path / "mask.png", np.repeat(np.repeat(np.eye(2, dtype=np.float32), [24, 24], 0), [32, 32], 1)),
        "dir": tmp_path,
    }
