"""What the Restyle procedure's arguments mean, independent of GIMP.

The plug-in reads its procedure config into plain values; this module checks them and
hands them to the shared `restyle_client.settings`, which makes the request exactly as
it does for Krita.  Scripts calling the procedure non-interactively pass the same
argument names, so the checks here are the only ones either path gets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from restyle_client import settings as shared
from restyle_client.request import Pixels, Region, Request
from restyle_gimp_args import ARGUMENTS, DEFAULT_ENDPOINT

_ARGS = {a.name: a for a in ARGUMENTS}


class PluginError(shared.JobError):
    """Something the user can fix; the message is shown to them as is."""


@dataclass
class ProcedureSettings(shared.Settings):
    """The shared settings, and what only GIMP's procedure asks: where, frames, server."""

    mask_source: str = "selection"
    keep_frames: bool = False
    endpoint: str = DEFAULT_ENDPOINT
    server_key_file: str = ""
    client_key_file: str = ""

    @property
    def previews(self) -> shared.Previews:
        """GIMP has no canvas overlay for live previews; kept drawing frames become layers."""
        return shared.Previews.FRAMES if self.mode == "draw" and self.keep_frames else shared.Previews.NONE


def _choice(values: Mapping[str, Any], name: str) -> str:
    arg = _ARGS[name]
    allowed = [choice for choice, _label in arg.choices]
    value = str(values.get(name) or arg.default).strip().lower()
    if value not in allowed:
        raise PluginError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def parse_settings(values: Mapping[str, Any]) -> ProcedureSettings:
    """Plain procedure-argument values (by argument name) to checked settings."""
    endpoint = str(values.get("endpoint") or "").strip() or DEFAULT_ENDPOINT
    if "://" not in endpoint:
        raise PluginError(f"The server endpoint {endpoint!r} should look like {DEFAULT_ENDPOINT}")
    key_files = [str(values.get(name) or "").strip() for name in ("server-key-file", "client-key-file")]
    if any(key_files) and not all(key_files):
        raise PluginError(
            "A server started with --keys needs both key files: the server's public key "
            "(server.key) and your secret key (clients/NAME.key_secret)"
        )
    size = int(values.get("size") or 0)
    iterations = int(values.get("iterations") or 0)
    return ProcedureSettings(
        mask_source=_choice(values, "mask-source"),
        strength=float(values.get("strength", shared.STRENGTH.default)),
        style_scale=float(values.get("style-scale", shared.STYLE_SCALE.default)),
        size=size if size > 0 else None,
        preserve_colors=_choice(values, "preserve-colors"),
        seed=int(values.get("seed") or 0),
        iterations=iterations if iterations > 0 else None,
        mode=_choice(values, "mode"),
        keep_frames=bool(values.get("keep-frames", False)),
        endpoint=endpoint,
        server_key_file=key_files[0],
        client_key_file=key_files[1],
    )


def build_request(content: Pixels, regions: Sequence[Region], settings: ProcedureSettings) -> Request:
    if not regions:
        raise PluginError("Choose a style layer")
    if settings.mode == "draw" and (len(regions) > 1 or regions[0].mask is not None):
        raise PluginError(
            "Draw mode paints the whole layer with one style: set 'Restyle where' to "
            "'Whole layer' (or clear the selection) and leave the second and "
            "third styles empty"
        )
    return shared.build_request(content, regions, settings, settings.previews)
