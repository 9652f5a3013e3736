"""Test driver plugin: runs a scenario inside a real Krita, then quits it.

Scenarios are generators.  They yield `Wait` objects instead of blocking, so Krita's
event loop keeps running (and the plugin under test keeps receiving its socket
events) while a scenario waits for something a user would see.
"""

import os

from krita import Krita

from .driver import Driver

if os.environ.get("RESTYLE_E2E_SCRIPT"):
    Krita.instance().addExtension(Driver(Krita.instance()))
