"""Starting a server when none answers: shared with the GIMP plug-in.

The process handling lives in `restyle_client.launcher`; Krita drives it from Qt timers
in `connection.py` instead of blocking, so only the process part is used here.
"""

from __future__ import annotations

from restyle_client.launcher import LaunchError, ServerProcess, log_tail

__all__ = ["LaunchError", "ServerProcess", "log_tail"]
