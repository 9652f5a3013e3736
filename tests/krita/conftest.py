"""The Krita plugin's package, importable outside Krita for the tests of its pure modules.

It is loaded as `krita_restyle` (not `restyle`) so that it can never be confused with
another editor's plug-in of the same name in the same test process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugin" / "krita" / "restyle"

if "krita_restyle" not in sys.modules:
    spec = importlib.util.spec_from_file_location(
        "krita_restyle", PACKAGE / "__init__.py", submodule_search_locations=[str(PACKAGE)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["krita_restyle"] = module
    spec.loader.exec_module(module)
