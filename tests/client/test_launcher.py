"""Starting the server that install.py recorded, as the editors do when nobody answers.

The real `restyle serve` of this venv is started from a temporary server.json, and
stopped again by its process id: the launcher detaches it on purpose, so that it
outlives the editor that started it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from restyle_client import launcher
from restyle_client.client import Client
from support.server import serve_command


def free_endpoint() -> str:
    with socket.socket() as s:  # a loopback port nobody listens on (the server binds it next)
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def write_config(folder: Path, command: list[str], endpoint: str = launcher.DEFAULT_ENDPOINT) -> Path:
    path = folder / "server.json"
    path.write_text(json.dumps({"endpoint": endpoint, "command": command, "log": str(folder / "logs" / "server.log")}))
    return path


def stop(process: launcher.ServerProcess) -> None:
    if process.pid is not None and process.exit_code() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except Exception:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_launch_is_ready_once_the_server_answers(tmp_path):
    sleeps = [sys.executable, "-c", "import time; time.sleep(60)"]
    launch = launcher.Launch(free_endpoint(), launcher.load(write_config(tmp_path, sleeps)))
    try:
        assert launch.start() is launcher.LaunchState.STARTING
        assert launch.text.startswith("Starting the Restyle server (")
        assert launch.poll(answered=False) is launcher.LaunchState.STARTING
        assert launch.poll(answered=True) is launcher.LaunchState.READY
        assert launch.poll(answered=False) is launcher.LaunchState.READY, "a ready server stays ready"
    finally:
        stop(launch.process)


def test_a_launch_that_never_answers_gives_up_after_its_time_out(tmp_path):
    sleeps = [sys.executable, "-c", "import time; time.sleep(60)"]
    clock = Clock()
    launch = launcher.Launch(free_endpoint(), launcher.load(write_config(tmp_path, sleeps)), timeout=5, clock=clock)
    try:
        launch.start()
        clock.now += 4.9
        assert launch.poll(answered=False) is launcher.LaunchState.STARTING
        clock.now += 0.2
        assert launch.poll(answered=False) is launcher.LaunchState.FAILED
        assert launch.error == (
            f"The Restyle server was started but did not answer within 5 s; see {tmp_path / 'logs' / 'server.log'}."
        )
    finally:
        stop(launch.process)


def test_a_launch_that_cannot_begin_fails_at_once_without_starting_anything(tmp_path):
    launch = launcher.Launch("tcp://192.0.2.7:7865", launcher.load(write_config(tmp_path, [*serve_command()])))
    assert launch.start() is launcher.LaunchState.FAILED and launch.process is None
    assert "on another machine" in launch.error
    assert launch.poll(answered=True) is launcher.LaunchState.FAILED


def test_the_recorded_server_is_started_and_answers(tmp_path):
    endpoint = free_endpoint()
    config = launcher.load(write_config(tmp_path, [*serve_command(), "--weights", "random:0"]))
    shown: list[str] = []
    process = launcher.start_and_wait(endpoint, config, launcher.hello_answers, report=shown.append, timeout=120)
    try:
        with Client(endpoint) as client:
            assert "random" in client.hello(timeout=10)["weights"]
        assert shown and shown[0].startswith("Starting the Restyle server (")
        assert process.exit_code() is None, "the server stopped although it answered"
        assert process.command[-2:] == ["--bind", endpoint]
    finally:
        stop(process)
    assert f"listening on {endpoint}" in (tmp_path / "logs" / "server.log").read_text()


def test_a_missing_server_program_is_named(tmp_path):
    config = launcher.load(write_config(tmp_path, [str(tmp_path / "venv" / "bin" / "restyle"), "serve"]))
    with pytest.raises(launcher.LaunchError) as failed:
        launcher.start_and_wait(free_endpoint(), config, launcher.hello_answers)
    message = str(failed.value)
    assert "No Restyle server answers at tcp://127.0.0.1:" in message
    assert f"{tmp_path / 'venv' / 'bin' / 'restyle'} does not exist (run install.py again)" in message


def test_a_server_that_dies_at_start_is_explained_by_its_log(tmp_path):
    dies = [sys.executable, "-c", "import sys; print('loading weights'); print('boom: no GPU'); sys.exit(3)"]
    config = launcher.load(write_config(tmp_path, dies))
    with pytest.raises(launcher.LaunchError) as failed:
        launcher.start_and_wait(free_endpoint(), config, launcher.hello_answers)
    assert str(failed.value) == (
        "The Restyle server could not start: the server stopped (exit code 3):\nloading weights\nboom: no GPU"
    )


def test_without_server_json_the_user_is_sent_to_the_installer(tmp_path):
    config = launcher.load(tmp_path / "server.json")
    with pytest.raises(launcher.LaunchError, match=r"none can be started: .*server.json does not exist .*install.py"):
        launcher.start_and_wait(free_endpoint(), config, launcher.hello_answers)


def test_a_server_on_another_machine_is_not_started_here(tmp_path):
    config = launcher.load(write_config(tmp_path, [*serve_command()]))
    with pytest.raises(launcher.LaunchError, match="on another machine"):
        launcher.start_and_wait("tcp://192.0.2.7:7865", config, launcher.hello_answers)
    assert not (tmp_path / "logs").exists(), "a server was started"


@pytest.mark.parametrize(
    "endpoint,local",
    [
        ("tcp://127.0.0.1:7865", True),
        ("tcp://localhost:7865", True),
        ("tcp://[::1]:7865", True),
        ("ipc:///tmp/restyle.sock", True),
        ("tcp://192.0.2.7:7865", False),
        ("tcp://*:7865", False),
        ("nonsense", False),
    ],
)
def test_only_local_endpoints_count_as_startable_here(endpoint, local):
    assert launcher.is_local(endpoint) is local


@pytest.mark.parametrize(
    "platform,expected",
    [
        ("linux", ".config/restyle"),
        ("darwin", "Library/Application Support/restyle"),
        ("win32", "AppData/Roaming/restyle"),
    ],
)
def test_config_folder_matches_what_install_py_writes(tmp_path, platform, expected):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    try:
        import install
    finally:
        sys.path.pop(0)
    places = install.Places(tmp_path, platform, environ={})
    assert launcher.config_dir(tmp_path, platform, environ={}) == tmp_path / expected == places.restyle_config


def test_config_without_a_file_says_to_run_the_installer(tmp_path):
    loaded = launcher.load(tmp_path / "server.json")
    assert loaded.endpoint == launcher.DEFAULT_ENDPOINT and loaded.command == []
    assert "install.py" in loaded.problem


def test_config_gives_the_start_command_for_an_endpoint(tmp_path):
    path = tmp_path / "server.json"
    path.write_text(json.dumps({"endpoint": "tcp://127.0.0.1:9999", "command": ["/v/bin/restyle", "serve"]}))
    loaded = launcher.load(path)
    assert loaded.endpoint == "tcp://127.0.0.1:9999"
    assert loaded.start_command("tcp://127.0.0.1:5") == ["/v/bin/restyle", "serve", "--bind", "tcp://127.0.0.1:5"]


def test_a_broken_config_file_is_reported(tmp_path):
    path = tmp_path / "server.json"
    path.write_text("{not json")
    assert "cannot be read" in launcher.load(path).problem
