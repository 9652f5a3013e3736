"""Restyle inside real GIMP 3: the procedure run as a batch script would run it.

Each scenario is one GIMP session in the trixie chroot against a real `restyle serve`
with random weights; the tests then read what GIMP held and exported.  The image has a
hidden style layer and a content layer offset from the corner, with a selection that
covers part of the content and part of the empty canvas, so layer coordinates and
image coordinates differ everywhere they could be mixed up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import gimp_chroot
import numpy as np
import pytest
from PIL import Image
from support.server import running_server
from support.waiting import wait_for

pytestmark = pytest.mark.gimp

CANVAS = (80, 64)
CONTENT = {"path": "content.png", "name": "Photo", "x": 12, "y": 8}
CONTENT_SIZE = (48, 40)
STYLE = {"path": "style.png", "name": "Blue Stripes", "x": 0, "y": 0, "visible": False}
SELECTION = [4, 4, 30, 20]  # image coordinates: x 4..34, y 4..24


def content_image() -> Image.Image:
    w, h = CONTENT_SIZE
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 120)], axis=-1)
    rgb = np.clip(rgb + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def style_image() -> Image.Image:
    stripes = np.zeros((32, 32, 3), np.uint8)
    stripes[:, ::4] = (20, 40, 230)
    stripes[:, 1::4] = (250, 250, 250)
    return Image.fromarray(stripes, "RGB")


def run_scenario(
    endpoint: str,
    arguments: dict,
    *,
    selection=SELECTION,
    export=False,
    hide_packages=(),
    while_running=None,
    display=None,
    extra=None,
    server_json=None,
    host_root=False,
    gui=False,
    canvas=CANVAS,
) -> dict:
    """One GIMP session: the standard image, then Restyle with `arguments`.

    `extra` adds driver parameters (precision, channels, mask layers; see run_once.py)
    and, under "files", files to put beside the driver.  `server_json` replaces the
    recorded server settings ("{work}" is the work folder inside).  Returns the
    driver's report, GIMP's output and the files it wrote (and the server's log).
    """
    with gimp_chroot.gimp_workdir() as (host, inside):
        content_image().save(host / CONTENT["path"])
        style_image().save(host / STYLE["path"])
        extra = dict(extra or {})
        for name, data in extra.pop("files", {}).items():
            (host / name).write_bytes(data)
        interactive = extra.pop("interactive", display is not None)
        params = {
            **extra,
            "image": list(canvas),
            "content": CONTENT,
            "style": STYLE,
            "selection": selection,
            "export": export,
            "interactive": interactive,
            "arguments": {"endpoint": endpoint, **arguments},
        }
        for name, value in params["arguments"].items():  # files given to GIMP are under {work}
            if isinstance(value, str):
                params["arguments"][name] = value.replace("{work}", inside)
        params["arguments"].setdefault("style-layer", "@style")
        if params["arguments"]["style-layer"] is None:
            del params["arguments"]["style-layer"]
        watcher = None
        if while_running is not None:
            watcher = threading.Thread(target=while_running, daemon=True)
            watcher.start()
        if server_json is not None:
            server_json = json.loads(json.dumps(server_json).replace("{work}", inside))
        run = gimp_chroot.run_driver(
            host,
            inside,
            "run_once.py",
            params,
            hide_packages=hide_packages,
            display=display,
            server_json=server_json,
            host_root=host_root,
            gui=gui,
        )
        if watcher is not None:
            watcher.join(60)
        report = run.report()
        assert "driver_error" not in report, report["driver_error"] + run.output
        report["output"] = run.output
        report["files"] = {
            p.name: p.read_bytes()
            for p in host.iterdir()
            if p.suffix in (".raw", ".png", ".xcf", ".log") and p.name not in (CONTENT["path"], STYLE["path"])
        }
        return report


def rgba(report: dict, name: str, size=CONTENT_SIZE, dtype=np.uint8) -> np.ndarray:
    data = report["files"][name]
    return np.frombuffer(data, dtype).reshape(size[1], size[0], 4)


def names(report: dict) -> list[str]:
    """The image's top-level layer names, top to bottom."""
    return [item["name"] for item in report["layers"]]


def layer(report: dict, name: str) -> dict:
    found = [item for item in report["layers"] if item["name"] == name]
    assert found, f"no layer {name!r} among {names(report)}"
    return found[0]


def selection_in_content() -> np.ndarray:
    """The selection as a boolean mask in the content layer's own coordinates."""
    w, h = CONTENT_SIZE
    inside = np.zeros((h, w), bool)
    x, y, sw, sh = SELECTION
    x1, y1 = max(x - CONTENT["x"], 0), max(y - CONTENT["y"], 0)
    x2, y2 = min(x + sw - CONTENT["x"], w), min(y + sh - CONTENT["y"], h)
    inside[y1:y2, x1:x2] = True
    return inside


@pytest.fixture(scope="module")
def server(gimp_available) -> str:
    with running_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def selection_run(server) -> dict:
    return run_scenario(server, {"mask-source": "selection", "strength": 1.0, "iterations": 4, "seed": 7}, export=True)


# --- the plain case: one style, the selection as mask ------------------------------------


def test_restyle_is_registered_under_filters_artistic(selection_run):
    assert selection_run["run"]["menu_paths"] == ["<Image>/Filters/Artistic"]
    assert selection_run["run"]["menu_label"] == "Restyle..."


def test_the_result_is_a_new_layer_above_the_content_named_after_the_style(selection_run):
    assert selection_run["run"]["status"] == "SUCCESS", selection_run["run"]["error"]
    # top to bottom: the new layer, the content, the (hidden) style layer
    assert names(selection_run) == ["Blue Stripes (restyled)", "Photo", "Blue Stripes"]
    result, content = selection_run["layers"][0], layer(selection_run, "Photo")
    assert result["position"] == content["position"] - 1 and result["parent"] is None


def test_the_result_layer_has_the_content_layers_size_and_offsets(selection_run):
    result = selection_run["layers"][0]
    assert (result["x"], result["y"]) == (CONTENT["x"], CONTENT["y"])
    assert (result["width"], result["height"]) == CONTENT_SIZE


def test_only_the_selected_part_of_the_content_is_restyled(selection_run):
    before = rgba(selection_run, "content-before.raw")
    result = rgba(selection_run, "result.raw")
    inside = selection_in_content()
    assert np.array_equal(result[~inside], before[~inside])
    change = np.abs(result[inside].astype(int) - before[inside].astype(int))[:, :3].mean()
    assert change > 5, f"the selected part barely changed (mean difference {change:.2f})"


def test_the_content_layer_is_left_untouched(selection_run):
    assert selection_run["files"]["content-after.raw"] == selection_run["files"]["content-before.raw"]


def test_the_exported_png_shows_the_result_over_the_content(selection_run, tmp_path):
    png = tmp_path / "export.png"
    png.write_bytes(selection_run["files"]["export.png"])
    exported = np.asarray(Image.open(png).convert("RGBA"))
    assert exported.shape == (CANVAS[1], CANVAS[0], 4)
    x, y = CONTENT["x"], CONTENT["y"]
    w, h = CONTENT_SIZE
    assert np.array_equal(exported[y : y + h, x : x + w], rgba(selection_run, "result.raw"))
    assert (exported[:y, :, 3] == 0).all(), "the hidden style layer must not show"
    assert selection_run["files"]["export.xcf"].startswith(b"gimp xcf")


# --- several regions, masked by a saved selection and by a layer ---------------------------

SAVED_SELECTION = [12, 30, 14, 10]  # image coordinates; a channel
MASK_LAYER = [30, 20, 20, 20]  # image coordinates of a hidden, opaque white layer


def rect_in_content(rect) -> np.ndarray:
    w, h = CONTENT_SIZE
    inside = np.zeros((h, w), bool)
    x, y, rw, rh = rect
    x1, y1 = max(x - CONTENT["x"], 0), max(y - CONTENT["y"], 0)
    inside[y1 : max(y + rh - CONTENT["y"], 0), x1 : max(x + rw - CONTENT["x"], 0)] = True
    return inside


@pytest.fixture(scope="module")
def regions_run(server) -> dict:
    image = {
        "channels": [{"name": "saved", "rect": SAVED_SELECTION}],
        "mask_layers": [{"name": "brush mask", "rect": MASK_LAYER}],
    }
    return run_scenario(
        server,
        {
            "mask-source": "drawable",
            "mask-drawable": "@saved",
            "style-layer-2": "@style",
            "mask-2": "@brush mask",
            "strength": 1.0,
            "iterations": 3,
        },
        selection=None,
        extra=image,
    )


def test_each_region_is_restyled_only_inside_its_own_mask(regions_run):
    assert regions_run["run"]["status"] == "SUCCESS", regions_run["run"]["error"]
    before = rgba(regions_run, "content-before.raw")
    result = rgba(regions_run, "result.raw")
    first, second = rect_in_content(SAVED_SELECTION), rect_in_content(MASK_LAYER)
    outside = ~(first | second)
    assert np.array_equal(result[outside], before[outside])
    for region in (first, second):
        change = np.abs(result[region].astype(int) - before[region].astype(int))[:, :3].mean()
        assert change > 5


# --- high bit depth: 16-bit images go and come back without loss --------------------------


def fine_16_bit_content() -> np.ndarray:
    """RGB u16 values that no 8-bit round trip could keep (not multiples of 257)."""
    w, h = CONTENT_SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 1301 + 7, yy * 1601 + 11, (xx * yy * 37) % 65000 + 3], axis=-1)
    return rgb.astype("<u2")


@pytest.fixture(scope="module")
def sixteen_bit_run(server) -> dict:
    image = {
        "precision": "U16_NON_LINEAR",
        "raw_format": "R'G'B'A u16",
        "content_raw": "content16.raw",
        "content_raw_format": "R'G'B' u16",
        "files": {"content16.raw": fine_16_bit_content().tobytes()},
    }
    return run_scenario(server, {"mask-source": "selection", "strength": 1.0, "iterations": 3}, extra=image)


def test_a_16_bit_image_keeps_its_precision_outside_the_selection(sixteen_bit_run):
    assert sixteen_bit_run["run"]["status"] == "SUCCESS", sixteen_bit_run["run"]["error"]
    assert sixteen_bit_run["precision"] == "u16-non-linear"
    before = rgba(sixteen_bit_run, "content-before.raw", dtype="<u2")
    assert np.array_equal(before[..., :3], fine_16_bit_content()), "the driver set the content"
    result = rgba(sixteen_bit_run, "result.raw", dtype="<u2")
    inside = selection_in_content()
    assert np.array_equal(result[~inside], before[~inside])
    change = np.abs(result[inside].astype(int) - before[inside].astype(int))[:, :3].mean()
    assert change > 5 * 257
    assert sixteen_bit_run["files"]["content-after.raw"] == sixteen_bit_run["files"]["content-before.raw"]


# --- the largest layer the server admits by default ------------------------------------


HUGE = 8192


@pytest.fixture(scope="module")
def huge_run(server) -> tuple[dict, str]:
    """An 8192 x 8192 RGBA 16-bit layer of noise, every sample and alpha value in play."""
    pixels = np.random.default_rng(5).integers(0, 2**16, (HUGE, HUGE, 4), dtype=np.uint16).astype("<u2").tobytes()
    image = {
        "precision": "U16_NON_LINEAR",
        "raw_format": "R'G'B'A u16",
        "content_size": [HUGE, HUGE],
        "content_raw": "huge.raw",
        "content_raw_format": "R'G'B'A u16",
        "digests": True,
        "files": {"huge.raw": pixels},
    }
    report = run_scenario(server, {"strength": 0.0}, extra=image, selection=None, canvas=(HUGE, HUGE))
    return report, hashlib.sha256(pixels).hexdigest()


def test_an_8192_px_rgba_16_bit_layer_goes_to_the_server_and_comes_back_bit_for_bit(huge_run):
    report, sent = huge_run
    assert report["run"]["status"] == "SUCCESS", report["run"]["error"]
    digests = report["digests"]
    assert digests["content-before.raw"] == sent, "the driver set the content"
    assert digests["result.raw"] == sent, "strength 0 gives back the layer it was sent"
    assert digests["content-after.raw"] == sent
    result = [item for item in report["layers"] if item["name"] not in ("Photo", STYLE["name"])]
    assert [(r["width"], r["height"]) for r in result] == [(HUGE, HUGE)], report["layers"]


# --- drawing mode: the frames are kept as layers in a group -----------------------------


@pytest.fixture(scope="module")
def drawing_run(server) -> dict:
    return run_scenario(
        server, {"mode": "draw", "keep-frames": True, "iterations": 10, "strength": 1.0}, selection=None
    )


def test_drawing_frames_are_kept_as_layers_in_a_group_below_the_result(drawing_run):
    assert drawing_run["run"]["status"] == "SUCCESS", drawing_run["run"]["error"]
    assert names(drawing_run) == ["Blue Stripes (restyled)", "Blue Stripes (frames)", "Photo", "Blue Stripes"]
    group = layer(drawing_run, "Blue Stripes (frames)")
    assert group["group"] and len(group["children"]) >= 2
    assert [c["name"] for c in group["children"]] == [f"frame {n}" for n in range(len(group["children"]), 0, -1)], (
        "newest frame on top"
    )
    for frame in group["children"]:
        assert (frame["x"], frame["y"], frame["width"], frame["height"]) == (CONTENT["x"], CONTENT["y"], *CONTENT_SIZE)


def test_drawing_leaves_the_content_layer_untouched(drawing_run):
    assert drawing_run["files"]["content-after.raw"] == drawing_run["files"]["content-before.raw"]


# --- a server that only admits known keys ---------------------------------------------------


def test_with_key_files_it_works_with_a_server_that_admits_only_known_keys(gimp_available, tmp_path):
    from server.keys import load_client_keys, make_keys

    make_keys(tmp_path, ["gimp"])
    files = {
        "server.key": (tmp_path / "server.key").read_bytes(),
        "gimp.key_secret": (tmp_path / "clients" / "gimp.key_secret").read_bytes(),
    }
    keys = {"server-key-file": "{work}/server.key", "client-key-file": "{work}/gimp.key_secret"}
    with running_server(keys=tmp_path, client_keys=load_client_keys(tmp_path, "gimp")) as endpoint:
        report = run_scenario(endpoint, {"iterations": 2, **keys}, extra={"files": files})
        refused = run_scenario(endpoint, {"iterations": 2}, selection=None)
    assert report["run"]["status"] == "SUCCESS", report["run"]["error"]
    assert names(report) == ["Blue Stripes (restyled)", "Photo", "Blue Stripes"]
    assert refused["run"]["status"] == "EXECUTION_ERROR"
    assert "No Restyle server answers" in refused["run"]["error"]


# --- what the user is told when it cannot work -------------------------------------------


def test_without_pyzmq_and_msgpack_the_user_is_told_what_to_install(gimp_available):
    report = run_scenario("tcp://127.0.0.1:9", {}, hide_packages=("zmq", "msgpack"))
    assert report["run"]["status"] == "EXECUTION_ERROR"
    message = report["run"]["error"]
    assert "pyzmq" in message and "msgpack" in message and "pip install" in message
    assert "Traceback" not in report["output"]
    assert names(report) == ["Photo", "Blue Stripes"]


def test_without_a_server_the_user_is_told_where_it_looked(gimp_available):
    import socket

    with socket.socket() as s:  # a loopback port that nobody is listening on
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    report = run_scenario(endpoint, {})
    assert report["run"]["status"] == "EXECUTION_ERROR"
    assert f"No Restyle server answers at {endpoint}" in report["run"]["error"]
    assert names(report) == ["Photo", "Blue Stripes"]


# --- starting the server ----------------------------------------------------------------


def _free_endpoint() -> str:
    import socket

    with socket.socket() as s:  # a loopback port that nobody is listening on
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _server_pids(endpoint: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmdline and endpoint.encode() in cmdline and b"chroot" not in cmdline[0]:
                pids.append(int(entry.name))
    return pids


def test_without_a_server_gimp_starts_the_recorded_one(gimp_available):
    """As installed, server.json names this machine's `restyle serve`; GIMP starts it when
    nothing answers, and the job runs on it.  (In the chroot, the host's root is mounted
    so that the recorded command can reach the real server of this checkout.)"""
    endpoint = _free_endpoint()
    venv_restyle = Path(sys.executable).with_name("restyle")
    command = ["/usr/sbin/chroot", gimp_chroot.HOST_ROOT, str(venv_restyle), "serve", "--weights", "random:0"]
    try:
        report = run_scenario(
            endpoint,
            {"iterations": 2},
            server_json={"endpoint": endpoint, "command": command, "log": "{work}/server.log"},
            host_root=True,
        )
        assert _server_pids(endpoint), "the server the plug-in started is not running"
    finally:
        for pid in _server_pids(endpoint):
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _server_pids(endpoint), "the started server to stop")
    assert report["run"]["status"] == "SUCCESS", report["run"]["error"]
    assert names(report) == ["Blue Stripes (restyled)", "Photo", "Blue Stripes"]
    assert f"listening on {endpoint}" in report["files"]["server.log"].decode()


def test_a_recorded_server_that_cannot_start_is_explained(gimp_available):
    endpoint = _free_endpoint()
    fails = "import sys; print('restyle', *sys.argv[1:]); print('cannot load the VGG19 weights'); sys.exit(3)"
    report = run_scenario(
        endpoint,
        {"iterations": 2},
        server_json={"endpoint": endpoint, "command": ["/usr/bin/python3", "-c", fails], "log": "{work}/server.log"},
    )
    assert report["run"]["status"] == "EXECUTION_ERROR"
    assert report["run"]["error"] == (
        f"The Restyle server could not start: the server stopped (exit code 3):\nrestyle --bind {endpoint}\n"
        "cannot load the VGG19 weights"
    )
    assert names(report) == ["Photo", "Blue Stripes"]


# --- GIMP's Cancel ------------------------------------------------------------------------


def _plugin_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"plug-ins/restyle/restyle.py" in cmdline:
                pids.append(int(entry.name))
    return pids


def test_cancelling_in_gimp_stops_the_job_on_the_server_at_once(gimp_available):
    """GIMP's progress-bar Cancel kills the plug-in (SIGKILL after 10 ms), which cannot
    tell the server.  Its watchdog must: the job stops within moments, not after the
    heartbeat timeout, which is a minute here so that only the watchdog can be in time."""
    from restyle_client.client import Client

    seen: dict = {}

    def cancel_like_gimp(endpoint):
        with Client(endpoint) as observer:
            before = observer.status()["jobs"]
            wait_for(lambda: observer.status()["running"], "the job to start", timeout=90)
            for pid in wait_for(_plugin_pids, "the plug-in process", timeout=90):
                os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            seen["killed"] = True
            report = wait_for(lambda: (s := observer.status())["running"] is None and s, "the job to stop", timeout=90)
            seen["stopped_after"] = time.monotonic() - killed_at
            seen["cancelled"] = report["jobs"]["cancelled"] - before["cancelled"]
            seen["clients_lost"] = report["jobs"]["clients_lost"] - before["clients_lost"]

    with running_server(heartbeat_interval=2.0, heartbeat_timeout=60.0) as endpoint:
        report = run_scenario(
            endpoint,
            {"iterations": 5000, "mask-source": "none"},
            selection=None,
            while_running=lambda: cancel_like_gimp(endpoint),
        )
    assert seen.get("killed"), "the job never started"
    assert seen["stopped_after"] < 8.0, f"the job ran on for {seen['stopped_after']:.1f} s"
    assert (seen["cancelled"], seen["clients_lost"]) == (1, 0), "the heartbeat, not the watchdog, stopped the job"
    assert report["run"]["status"] != "SUCCESS"
    assert report["files"]["content-after.raw"] == report["files"]["content-before.raw"]


# --- the dialog -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def x_display():
    """A private Xvfb for the dialog; xdotool presses its buttons."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{' and '.join(missing)} missing (tests/gimp/setup.sh installs them)")
        pytest.skip(f"{' and '.join(missing)} missing")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        display = ":" + pipe.readline().strip()
    try:
        yield display
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def _press_ok_in_dialog(display: str, seen: dict):
    env = {**os.environ, "DISPLAY": display}

    def dialog():
        found = subprocess.run(
            ["xdotool", "search", "--name", "^Restyle$"], env=env, capture_output=True, text=True
        ).stdout.split()
        return found[0] if found else None

    window = wait_for(dialog, "the Restyle dialog", timeout=90)
    seen["dialog"] = True
    time.sleep(2.0)  # laid out and painted
    seen["screenshot"] = _window_shot(display, window)
    # A key pressed while the dialog is still being laid out can be lost: press until it
    # closes.
    for _attempt in range(30):
        subprocess.run(
            ["xdotool", "windowfocus", "--sync", window], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        subprocess.run(["xdotool", "key", "alt+o"], env=env, check=True)  # its _OK button
        for _ in range(20):
            if dialog() is None:
                seen["confirmed"] = True
                return
            time.sleep(0.1)


def _window_shot(display: str, window: str):
    """The window as the screen shows it (a PNG's bytes), cut from a grab of the whole display."""
    import io

    from PIL import ImageGrab

    env = {**os.environ, "DISPLAY": display}
    shape = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", window], env=env, capture_output=True, text=True
    ).stdout
    geometry = dict(line.split("=", 1) for line in shape.split() if "=" in line)
    x, y, w, h = (int(geometry[key]) for key in ("X", "Y", "WIDTH", "HEIGHT"))
    screen = ImageGrab.grab(xdisplay=display)
    out = io.BytesIO()
    screen.crop((max(0, x), max(0, y), min(screen.width, x + w), min(screen.height, y + h))).save(out, "PNG")
    return out.getvalue()


def test_from_the_menu_the_dialog_offers_another_layer_as_style_and_runs_on_ok(server, x_display):
    seen: dict = {}
    report = run_scenario(
        server,
        {"style-layer": None, "iterations": 2},
        display=x_display,
        while_running=lambda: _press_ok_in_dialog(x_display, seen),
    )
    assert seen.get("dialog") and seen.get("confirmed")
    assert report["run"]["status"] == "SUCCESS", report["run"]["error"]
    assert names(report) == ["Blue Stripes (restyled)", "Photo", "Blue Stripes"]
    shot_dir = os.environ.get("RESTYLE_GIMP_SCREENSHOT_DIR")
    if shot_dir and seen.get("screenshot"):
        (Path(shot_dir) / "gimp-dialog.png").write_bytes(seen["screenshot"])


# --- results on top, and one undo step (issue 14) ---------------------------------------------


def _press_undo_in_image_window(display: str, seen: dict):
    """Ctrl+Z once in the image's window, as an artist undoes; the driver renames the image
    when its layers change, and only a press that got lost is repeated."""
    env = {**os.environ, "DISPLAY": display}

    def image_window():
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "Untitled"], env=env, capture_output=True, text=True
        ).stdout.split()
        return found[-1] if found else None

    window = wait_for(image_window, "the image window", timeout=120)
    title = subprocess.run(["xdotool", "getwindowname", window], env=env, capture_output=True, text=True)
    seen["window"] = title.stdout
    for _attempt in range(10):
        subprocess.run(["xdotool", "windowactivate", "--sync", window], env=env, capture_output=True)
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, capture_output=True)
        subprocess.run(["xdotool", "key", "ctrl+z"], env=env, check=True)
        seen["presses"] = seen.get("presses", 0) + 1
        for _ in range(50):
            time.sleep(0.1)
            name = subprocess.run(["xdotool", "getwindowname", window], env=env, capture_output=True, text=True)
            if "undone" in name.stdout:
                seen["undone"] = True
                return


@pytest.fixture(scope="module")
def undo_run(server, x_display) -> tuple[dict, dict]:
    display = x_display
    seen: dict = {}
    report = run_scenario(
        server,
        {"mode": "draw", "keep-frames": True, "iterations": 10, "strength": 1.0},
        selection=None,
        display=display,
        gui=True,
        extra={"interactive": False, "runs_before": 1, "undo_in_display": True},
        while_running=lambda: _press_undo_in_image_window(display, seen),
    )
    return report, seen


def test_a_second_result_goes_on_top_of_the_first_with_its_own_name(undo_run):
    report, _seen = undo_run
    assert report["run"]["status"] == "SUCCESS", report["run"]["error"]
    assert report["undo"]["before"] == [
        "Blue Stripes (restyled 2)",
        "Blue Stripes (frames 2)",
        "Blue Stripes (restyled)",
        "Blue Stripes (frames)",
        "Photo",
        "Blue Stripes",
    ]


def test_everything_one_run_adds_is_one_undo_step_in_gimp(undo_run):
    """One Ctrl+Z in GIMP's window takes away the result and the frames of the last run, and nothing else."""
    report, seen = undo_run
    assert seen.get("undone"), (seen, report["output"][-2000:])
    assert report["undo"]["after"] == ["Blue Stripes (restyled)", "Blue Stripes (frames)", "Photo", "Blue Stripes"]
