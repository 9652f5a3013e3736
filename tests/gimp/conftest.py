"""GIMP end-to-end tests need the trixie chroot; locally they skip without it, CI never does."""

from __future__ import annotations

import os

import gimp_chroot
import pytest


@pytest.fixture(scope="session")
def gimp_available() -> None:
    reason = gimp_chroot.unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"GIMP 3 is required in CI: {reason}", pytrace=False)
    pytest.skip(reason)
