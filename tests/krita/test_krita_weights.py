"""The docker's first run without VGG19's weights, in a real Krita.

server.json names a server on torchvision's weights, $TORCH_HOME is an empty folder, and
the "internet" is a local web server with a stand-in of the file: a VGG19 state dict of
torchvision's layout with random half-precision values (40 MB instead of 548), whose own
SHA-256 prefix stands in for torchvision's.  The server the docker then starts is the
real `restyle serve` of this checkout, on its default weights.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import kritarun
import pytest
from support.server import serve_command
from test_krita_e2e import KritaRun, free_endpoint, require_krita, stop_autostarted

pytestmark = pytest.mark.krita

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "scenario_weights.py"
FILE = "vgg19-dcbb9e9d.pth"


def stand_in_weights(path: Path) -> None:
    """What torchvision's file holds where the server reads it, at a fraction of the size."""
    import torch

    from core.vgg import build_features

    gen = torch.Generator().manual_seed(0)
    state = {
        f"features.{key}": (torch.randn(value.shape, generator=gen) * 0.02).half()
        for key, value in build_features().state_dict().items()
    }
    torch.save(state, path)


class Served:
    def __init__(self, base: str, digest: str) -> None:
        self.base, self.digest = base, digest


@pytest.fixture(scope="module")
def internet(tmp_path_factory) -> Iterator[Served]:
    """/fast/<file> at full speed, /slow/<file> at about 2 MB/s, so a person could press Cancel."""
    data_path = tmp_path_factory.mktemp("served") / FILE
    stand_in_weights(data_path)
    data = data_path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.rsplit("/", 1)[-1] != FILE:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            step = 64 * 1024
            try:
                for start in range(0, len(data), step):
                    self.wfile.write(data[start : start + step])
                    if self.path.startswith("/slow/"):
                        time.sleep(0.03)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the download was cancelled

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield Served(f"http://127.0.0.1:{httpd.server_port}", hashlib.sha256(data).hexdigest()[:8])
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, internet: Served) -> KritaRun:
    require_krita()
    template = kritarun.DEFAULT_TEMPLATE
    if not (template / ".restyle-template").exists():
        template = tmp_path_factory.mktemp("template") / "krita-home"
        kritarun.build_template(template)
    root = tmp_path_factory.mktemp("krita-weights")
    home, out, torch_home = root / "home", root / "out", root / "torch-home"
    kritarun.copy_home(template, home)
    wrong = root / "resnet50.pth"
    wrong.write_bytes(b"not VGG19 at all\n" * 1000)
    pid_file = root / "autostarted.pid"
    endpoint = free_endpoint()
    kritarun.install_plugin(home, endpoint)
    # What install.py records is `<venv>/bin/restyle serve`: here this checkout's server, on its
    # default weights, behind a shell that notes its process id so that the test can stop it.
    config_path = home / ".config" / "restyle" / "server.json"
    config = json.loads(config_path.read_text())
    config["command"] = [
        "/bin/sh",
        "-c",
        f'echo $$ > {pid_file}; exec "$0" "$@"',
        *serve_command(),
        "--heartbeat-interval",
        "0.5",
        "--heartbeat-timeout",
        "10",
    ]
    config["log"] = str(out / "server.log")
    config_path.write_text(json.dumps(config))
    try:
        rc, report, log = kritarun.run_krita(
            home,
            SCENARIO,
            out,
            timeout=280,
            env_extra={
                "TORCH_HOME": str(torch_home),
                "RESTYLE_E2E_PID_FILE": str(pid_file),
                "RESTYLE_E2E_WEIGHTS_HASH": internet.digest,
                "RESTYLE_E2E_SLOW_URL": f"{internet.base}/slow/{FILE}",
                "RESTYLE_E2E_FAST_URL": f"{internet.base}/fast/{FILE}",
                "RESTYLE_E2E_WRONG_FILE": str(wrong),
            },
        )
    finally:
        stop_autostarted(pid_file)
    shot_dir = os.environ.get("RESTYLE_KRITA_SCREENSHOT_DIR")
    if shot_dir and (out / "weights-panel.png").exists():
        shutil.copy2(out / "weights-panel.png", Path(shot_dir) / "krita-weights.png")
    run = KritaRun(rc, report, log, out, home)
    run.torch_home = torch_home  # type: ignore[attr-defined]
    return run


def test_krita_quits_cleanly_after_the_first_run(first_run):
    assert first_run.report, f"no report; Krita exit {first_run.rc}; log:\n{first_run.log[-4000:]}"
    assert not first_run.report.get("uncaught"), first_run.report["uncaught"]
    assert first_run.rc == 0, first_run.log[-4000:]


def test_the_docker_says_what_is_needed_why_and_how_big_in_full(first_run):
    weights = first_run.scenario("weights")
    text = weights["text"]
    assert "548 MB" in text and "once" in text and "\n" in text and " | " not in text
    assert str(first_run.torch_home / "hub" / "checkpoints" / FILE) in text
    assert weights["text_fits"] and not weights["scrolls_sideways"]
    assert weights["buttons"] == ["Download (548 MB)", "Use a file I have\u2026"]


def test_start_waits_for_the_weights_and_starts_nothing(first_run):
    weights = first_run.scenario("weights")
    assert weights["start_status"].startswith("First get VGG19's weights"), weights["start_status"]
    assert not weights["server_started_early"]


def test_a_download_shows_progress_keeps_krita_responsive_and_cancels_without_a_trace(first_run):
    weights = first_run.scenario("weights")
    assert weights["progress_text"].startswith("Downloading VGG19's weights:"), weights["progress_text"]
    assert " of 40 MB" in weights["progress_text"] and weights["cancel_visible"] and weights["progress_shown"]
    assert weights["longest_gap_s"] < 0.5
    assert weights["cancelled_status"] == "Stopped; nothing was kept." and weights["cancelled_status_shown"]
    assert weights["after_cancel"] == []


def test_a_picked_file_that_is_not_vgg19_is_refused(first_run):
    weights = first_run.scenario("weights")
    assert weights.get("file_dialogs"), weights.get("no_file_dialog")
    assert not weights.get("dialog_stayed_open")
    assert "resnet50.pth is not torchvision's VGG19 file" in weights["wrong_file_status"]
    assert weights["wrong_file_status_shown"]
    assert weights["after_wrong_file"] == [] and weights["panel_after_wrong_file"]


def test_the_finished_download_is_where_the_server_looks_and_the_server_starts_on_it(first_run):
    weights = first_run.scenario("weights")
    assert weights["after_download"] == ["hub", "hub/checkpoints", f"hub/checkpoints/{FILE}"]
    assert any(text.startswith("Starting the Restyle server") for text in weights["connection_texts"])
    assert weights["connection_texts"][-1].startswith("Connected"), weights["connection_texts"]
    assert "IMAGENET1K_V1" in (first_run.out / "server.log").read_text()
    assert weights["job_status"].startswith("Done"), weights["job_status"]
