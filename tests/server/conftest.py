"""The `ray` mark: tests that start a local Ray instance (the `restyle[cluster]` extra).

CI installs the extra, so there they always run; elsewhere they skip, saying why, when
Ray is not installed.
"""

from __future__ import annotations

import importlib.util
import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ray: needs Ray (pip install -e '.[cluster]'); skipped without it outside CI")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("ray") is not None or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="Ray is not installed: pip install -e '.[cluster]' to run the Ray tests")
    for item in items:
        if item.get_closest_marker("ray") is not None:
            item.add_marker(skip)
