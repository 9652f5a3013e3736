"""The wire format of docs/protocol.md: one msgpack header frame, then raw pixel frames.

Both ends use `encode` and `decode`, so the document, the client and the server cannot
drift apart.  Everything arriving is untrusted: `decode` checks every field's type and
every pixel frame's length, and raises `ProtocolError` with a code and a sentence a
person can act on.  It never evaluates anything (no pickle, no msgpack extensions).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from . import events as ev
from .request import JOB_ID, Options, Pixels, Region, Request, RequestError, Style, quoted

PROTOCOL_VERSION = (1, 0)
MAX_HEADER_BYTES = 1 << 20

Frames = Sequence[bytes | bytearray | memoryview]


class ProtocolError(ValueError):
    """A message that breaks the protocol; `code` is one of the error codes in the spec."""

    def __init__(self, code: str, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.job_id = job_id


# Messages a client sends.  Server-to-client messages decode to `restyle_client.events`.
@dataclass
class Hello:
    client: str = ""


@dataclass
class Submit:
    request: Request


@dataclass
class Cancel:
    job_id: str


@dataclass
class StatusQuery:
    pass


@dataclass
class Ping:
    token: int = 0


ClientMessage = Hello | Submit | Cancel | StatusQuery | Ping
Message = ClientMessage | ev.Event


# --- encoding ---------------------------------------------------------------------------


def _pack(header: dict[str, Any]) -> bytes:
    return msgpack.packb({"version": list(PROTOCOL_VERSION), **header}, use_bin_type=True)


def _descriptor(p: Pixels) -> dict[str, Any]:
    return {"width": p.width, "height": p.height, "channels": p.channels, "sample": p.sample}


def _with_pixels(header: dict[str, Any], pixels: list[Pixels]) -> list[Any]:
    header["frames"] = [_descriptor(p) for p in pixels]
    return [_pack(header), *(p.data for p in pixels)]


def encode(message: Message) -> list[Any]:
    """Frames for one message, ready for `send_multipart`."""
    m = message
    if isinstance(m, Hello):
        return [_pack({"type": "hello", "client": m.client})]
    if isinstance(m, Submit):
        r = m.request
        pixels = [r.content]
        regions = []
        for region in r.regions:
            styles = []
            for style in region.styles:
                pixels.append(style.pixels)
                styles.append({"frame": len(pixels) - 1, "weight": style.weight, "name": style.name})
            mask = None
            if region.mask is not None:
                pixels.append(region.mask)
                mask = len(pixels) - 1
            regions.append({"styles": styles, "mask": mask})
        header = {
            "type": "submit",
            "job_id": r.job_id,
            "content": 0,
            "regions": regions,
            "options": r.options.to_wire(),
        }
        return _with_pixels(header, pixels)
    if isinstance(m, Cancel):
        return [_pack({"type": "cancel", "job_id": m.job_id})]
    if isinstance(m, StatusQuery):
        return [_pack({"type": "status"})]
    if isinstance(m, Ping):
        return [_pack({"type": "ping", "token": m.token})]
    if isinstance(m, ev.Capabilities):
        return [_pack({"type": "capabilities", **m.info})]
    if isinstance(m, ev.Accepted):
        return [_pack({"type": "accepted", "job_id": m.job_id, "position": m.position})]
    if isinstance(m, ev.Queued):
        return [_pack({"type": "queued", "job_id": m.job_id, "position": m.position})]
    if isinstance(m, ev.Progress):
        return [
            _pack(
                {
                    "type": "progress",
                    "job_id": m.job_id,
                    "stage": m.stage,
                    "stages": m.stages,
                    "iteration": m.iteration,
                    "iterations": m.iterations,
                    "step": m.step,
                    "steps": m.steps,
                    "losses": dict(m.losses),
                    "elapsed": float(m.elapsed),
                    "eta": None if m.eta is None else float(m.eta),
                    "blocks": m.blocks,
                    "fraction": float(m.fraction),
                    **({} if m.size is None else {"size": [int(m.size[0]), int(m.size[1])]}),
                }
            )
        ]
    if isinstance(m, ev.Preview):
        return _with_pixels({"type": "preview", "job_id": m.job_id}, [m.pixels])
    if isinstance(m, ev.Frame):
        return _with_pixels({"type": "frame", "job_id": m.job_id, "index": m.index}, [m.pixels])
    if isinstance(m, ev.Result):
        if m.cancelled:
            header = {"type": "cancelled", "job_id": m.job_id, "reason": m.reason}
        else:
            header = {"type": "result", "job_id": m.job_id}
        return _with_pixels(header, [m.pixels])
    if isinstance(m, ev.Error):
        return [_pack({"type": "error", "job_id": m.job_id, "code": m.code, "message": m.message})]
    if isinstance(m, ev.Status):
        return [_pack({"type": "status_report", **m.report})]
    if isinstance(m, ev.Pong):
        return [_pack({"type": "pong", "token": m.token})]
    raise TypeError(f"not a protocol message: {type(m).__name__}")


# --- decoding ---------------------------------------------------------------------------


def read_header(frame: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The header map, with its version checked; `ProtocolError` for anything else."""
    if len(frame) > MAX_HEADER_BYTES:
        raise ProtocolError("too_large", f"header frame of {len(frame)} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(bytes(frame), raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ProtocolError("bad_message", f"header frame is not msgpack ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_message", "header must be a msgpack map")
    job_id = job_id_of(header)
    version = header.get("version")
    if (
        not isinstance(version, list)
        or len(version) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in version)
    ):
        raise ProtocolError("bad_message", 'header needs "version": [major, minor]', job_id)
    if version[0] != PROTOCOL_VERSION[0]:
        raise ProtocolError(
            "version_mismatch",
            f"this end speaks protocol {PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}, "
            f"the message is version {version[0]}.{version[1]}; update the older side",
            job_id,
        )
    if not isinstance(header.get("type"), str):
        raise ProtocolError("bad_message", 'header needs a "type" string', job_id)
    return header


def job_id_of(header: dict[str, Any]) -> str | None:
    """The header's job id if it is a valid one; an error echoes only such an id, since
    no client can have a job under any other."""
    job_id = header.get("job_id")
    return job_id if isinstance(job_id, str) and JOB_ID.fullmatch(job_id) else None


class _Fields:
    """Typed field access that names the message and field in every error.

    `code` is what a bad field costs: `bad_pixels` for everything that describes or
    points at pixel frames, `bad_field` for the rest.
    """

    def __init__(self, mapping: Any, where: str, job_id: str | None, code: str = "bad_field") -> None:
        if not isinstance(mapping, dict):
            raise ProtocolError(code, f"{where} must be a map", job_id)
        self.m = mapping
        self.where = where
        self.job_id = job_id
        self.code = code

    def fail(self, message: str, code: str | None = None) -> ProtocolError:
        return ProtocolError(code or self.code, message, self.job_id)

    def get(self, name: str, kinds: tuple[type, ...], default: Any = ..., none_ok: bool = False) -> Any:
        if name not in self.m:
            if default is ...:
                raise self.fail(f'{self.where}: field "{name}" is missing')
            return default
        value = self.m[name]
        if value is None and none_ok:
            return None
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(f'{self.where}: field "{name}" has the wrong type (bool)')
        if not isinstance(value, kinds):
            names = "/".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise self.fail(f'{self.where}: field "{name}" must be {names}, not {type(value).__name__}')
        return value


def _pixel_frames(header: dict[str, Any], frames: Frames, job_id: str | None) -> list[Pixels]:
    descriptors = _Fields(header, header["type"], job_id, "bad_pixels").get("frames", (list,), default=[])
    if len(descriptors) != len(frames):
        raise ProtocolError(
            "bad_pixels",
            f"header declares {len(descriptors)} pixel frames but {len(frames)} arrived",
            job_id,
        )
    out = []
    for i, (d, data) in enumerate(zip(descriptors, frames, strict=True)):
        f = _Fields(d, f"frames[{i}]", job_id, "bad_pixels")
        pixels = Pixels(
            width=f.get("width", (int,)),
            height=f.get("height", (int,)),
            channels=f.get("channels", (int,)),
            sample=f.get("sample", (str,)),
            data=data,
        )
        try:
            pixels.validate(f"frame {i}", allowed_channels=(1, 3, 4))
        except RequestError as exc:
            raise ProtocolError(exc.code, str(exc), job_id) from None
        out.append(pixels)
    return out


def _frame_ref(f: _Fields, name: str, pixels: list[Pixels], used: set[int], none_ok: bool = False) -> Pixels | None:
    index = _Fields(f.m, f.where, f.job_id, "bad_pixels").get(name, (int,), none_ok=none_ok)
    if index is None:
        return None
    if not (0 <= index < len(pixels)):
        raise f.fail(f'{f.where}: "{name}" refers to frame {index}, which does not exist', "bad_pixels")
    if index in used:
        raise f.fail(f"{f.where}: frame {index} is used twice", "bad_pixels")
    used.add(index)
    return pixels[index]


def _decode_submit(header: dict[str, Any], pixels: list[Pixels]) -> Submit:
    job_id = job_id_of(header)
    f = _Fields(header, "submit", job_id)
    f.get("job_id", (str,))
    used: set[int] = set()
    content = _frame_ref(f, "content", pixels, used)
    regions = []
    for r, raw_region in enumerate(f.get("regions", (list,))):
        rf = _Fields(raw_region, f"regions[{r}]", job_id)
        styles = []
        for s, raw_style in enumerate(rf.get("styles", (list,))):
            sf = _Fields(raw_style, f"regions[{r}].styles[{s}]", job_id)
            styles.append(
                Style(
                    pixels=_frame_ref(sf, "frame", pixels, used),  # type: ignore[arg-type]
                    weight=float(sf.get("weight", (int, float), default=1.0)),
                    name=sf.get("name", (str,), default=""),
                )
            )
        regions.append(Region(styles=styles, mask=_frame_ref(rf, "mask", pixels, used, none_ok=True)))
    if len(used) != len(pixels):
        raise f.fail(f"{len(pixels) - len(used)} pixel frames are not used by the request", "bad_pixels")
    try:
        options = Options.from_wire(f.get("options", (dict,), default={}))
    except RequestError as exc:
        raise ProtocolError(exc.code, str(exc), job_id) from None
    request = Request(content=content, regions=regions, options=options, job_id=header["job_id"])  # type: ignore[arg-type]
    try:
        request.validate()
    except RequestError as exc:
        raise ProtocolError(exc.code, str(exc), job_id) from None
    return Submit(request)


def _fraction(f: _Fields) -> float:
    """The share of work done; a server older than the field is read by its iterations."""
    step, steps = f.get("step", (int,)), f.get("steps", (int,))
    fraction = float(f.get("fraction", (int, float), default=step / steps if steps > 0 else 0.0))
    if not 0.0 <= fraction <= 1.0:
        raise f.fail(f"progress: fraction {fraction} is outside 0..1")
    return fraction


def _stage_size(f: _Fields) -> tuple[int, int] | None:
    size = f.get("size", (list,), default=None, none_ok=True)
    if size is None:
        return None
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 65535 for v in size):
        raise f.fail("progress: size must be [height, width] in px")
    return (size[0], size[1])


def _one_image(header: dict[str, Any], pixels: list[Pixels], job_id: str | None) -> Pixels:
    if len(pixels) != 1:
        raise ProtocolError("bad_pixels", f"{header['type']} carries exactly one pixel frame", job_id)
    return pixels[0]


def decode(frames: Frames, expect: Collection[str] | None = None) -> Message:
    """One message from its frames (without any routing frames).

    `expect` is the types this end takes (`CLIENT_TYPES` on the server, `SERVER_TYPES`
    on a client): any other is `unknown_type`, before any of its fields is looked at.
    """
    if not frames:
        raise ProtocolError("bad_message", "empty message")
    header = read_header(frames[0])
    kind = header["type"]
    job_id = job_id_of(header)
    if kind not in MESSAGE_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type {quoted(kind)}", job_id)
    if expect is not None and kind not in expect:
        sender, receiver = ("servers", "clients") if kind in SERVER_TYPES else ("clients", "servers")
        raise ProtocolError("unknown_type", f"{kind} is sent by {sender}, not by {receiver}", job_id)
    pixels = _pixel_frames(header, frames[1:], job_id)
    f = _Fields(header, kind, job_id)
    if kind not in ("submit", "preview", "frame", "result", "cancelled") and pixels:
        raise ProtocolError("bad_pixels", f"{kind} carries no pixel frames", job_id)

    if kind == "hello":
        return Hello(client=f.get("client", (str,), default=""))
    if kind == "submit":
        return _decode_submit(header, pixels)
    if kind == "cancel":
        return Cancel(job_id=f.get("job_id", (str,)))
    if kind == "status":
        return StatusQuery()
    if kind == "ping":
        return Ping(token=f.get("token", (int,), default=0))
    if kind == "capabilities":
        return ev.Capabilities({k: v for k, v in header.items() if k not in ("version", "type")})
    if kind in ("accepted", "queued"):
        cls = ev.Accepted if kind == "accepted" else ev.Queued
        return cls(job_id=f.get("job_id", (str,)), position=f.get("position", (int,)))
    if kind == "progress":
        losses = f.get("losses", (dict,))
        if not all(isinstance(k, str) and isinstance(v, (int, float)) for k, v in losses.items()):
            raise f.fail("progress: losses must map names to numbers")
        return ev.Progress(
            job_id=f.get("job_id", (str,)),
            stage=f.get("stage", (int,)),
            stages=f.get("stages", (int,)),
            iteration=f.get("iteration", (int,)),
            iterations=f.get("iterations", (int,)),
            step=f.get("step", (int,)),
            steps=f.get("steps", (int,)),
            losses={k: float(v) for k, v in losses.items()},
            elapsed=float(f.get("elapsed", (int, float))),
            eta=f.get("eta", (int, float), none_ok=True),
            blocks=f.get("blocks", (int,), default=1),
            fraction=_fraction(f),
            size=_stage_size(f),
        )
    if kind == "preview":
        return ev.Preview(job_id=f.get("job_id", (str,)), pixels=_one_image(header, pixels, job_id))
    if kind == "frame":
        return ev.Frame(
            job_id=f.get("job_id", (str,)),
            index=f.get("index", (int,)),
            pixels=_one_image(header, pixels, job_id),
        )
    if kind in ("result", "cancelled"):
        return ev.Result(
            job_id=f.get("job_id", (str,)),
            pixels=_one_image(header, pixels, job_id),
            cancelled=kind == "cancelled",
            reason=f.get("reason", (str,), default=""),
        )
    if kind == "error":
        return ev.Error(
            job_id=f.get("job_id", (str,), none_ok=True),
            code=f.get("code", (str,)),
            message=f.get("message", (str,)),
        )
    if kind == "status_report":
        return ev.Status({k: v for k, v in header.items() if k not in ("version", "type")})
    if kind == "pong":
        return ev.Pong(token=f.get("token", (int,), default=0))
    raise ProtocolError("unknown_type", f"unknown message type {quoted(kind)}", job_id)


CLIENT_TYPES = ("hello", "submit", "cancel", "status", "ping")
SERVER_TYPES = (
    "capabilities",
    "accepted",
    "queued",
    "progress",
    "preview",
    "frame",
    "result",
    "cancelled",
    "error",
    "status_report",
    "pong",
)
MESSAGE_TYPES = CLIENT_TYPES + SERVER_TYPES
