"""Whether GIMP's own Python can talk to the server, and what to tell the user if not.

Flatpak, Windows and macOS builds of GIMP bundle a Python without pyzmq or msgpack.
The plug-in must still register and then say exactly what is missing and how to add
it, instead of failing with a traceback in the error console.  Stdlib only, so that
this module itself always imports.
"""

from __future__ import annotations

import importlib
import sys

# import name -> the package name to install
REQUIRED = {"zmq": "pyzmq", "msgpack": "msgpack"}


def missing_packages() -> list[str]:
    """Install names of the required packages that cannot be imported here."""
    return [package for module, package in REQUIRED.items() if not _importable(module)]


def _importable(name: str) -> bool:
    try:
        module = importlib.import_module(name)
    except Exception:  # a broken install (a binary for another Python) is as good as none
        return False
    # An empty leftover folder imports as a namespace package with nothing in it.
    return getattr(module, "__file__", None) is not None


def install_hint(missing: list[str], python: str = sys.executable) -> str:
    """A message naming what to install into which Python, for the error dialog."""
    names = " and ".join(missing)
    packages = " ".join(missing)
    python = python or "python3"
    return (
        f"Restyle needs the Python package{'s' if len(missing) > 1 else ''} {names} in the "
        f"Python that GIMP runs plug-ins with ({python}).\n"
        f"Install {'them' if len(missing) > 1 else 'it'} with:\n"
        f"    {python} -m pip install --user {packages}\n"
        "or re-run Restyle's install.py, which installs them for GIMP.\n"
        "On Debian or Ubuntu: sudo apt install " + " ".join(f"python3-{p.removeprefix('py')}" for p in missing)
    )
