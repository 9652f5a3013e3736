"""Where the server lives: the `server.json` that install.py writes.

The reading is shared with the GIMP plug-in, in `restyle_client.launcher`; this module
names it for the docker and the connection.
"""

from __future__ import annotations

from restyle_client.launcher import CONFIG_NAME, ServerConfig, config_dir, load

__all__ = ["CONFIG_NAME", "ServerConfig", "config_dir", "load"]
