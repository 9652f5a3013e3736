"""The server as an operator runs it: `restyle serve` in its own process, keys, signals."""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time

import pytest
from restyle_client import events as ev
from restyle_client.client import Client, ServerUnavailable
from support.server import (
    REPO,
    collect,
    connect,
    kill_mid_job,
    run_to_end,
    running_server,
    running_server_process,
    running_server_thread,
    serve_command,
    tiny_request,
)

from server.keys import load_client_keys, make_keys


def test_serve_says_where_it_listens_and_sigterm_cancels_the_running_job_and_tells_its_client():
    with running_server_process() as handle:
        log = handle.log()
        assert f"listening on {handle.endpoint}" in log
        assert "device cpu" in log and "random (seed 0)" in log
        with connect(handle.endpoint) as client:
            running = client.submit(tiny_request(iterations=20000, preview_every=0))
            waiting = client.submit(tiny_request(iterations=5, seed=2))
            collect({"c": client}, lambda s: any(isinstance(e, ev.Progress) for _, e in s))
            handle.process.send_signal(signal.SIGTERM)
            ended = {
                e.job_id: e
                for _, e in collect({"c": client}, lambda s: sum(ev.is_final(e) for _, e in s) == 2)
                if ev.is_final(e)
            }
        assert handle.process.wait(60) == 0
    for job_id in (running, waiting):
        assert isinstance(ended[job_id], ev.Result) and ended[job_id].cancelled
        assert ended[job_id].reason == "the server is shutting down"
        assert (ended[job_id].pixels.width, ended[job_id].pixels.height) == (40, 32)


def test_listening_beyond_loopback_without_keys_is_refused_with_the_reason():
    out = subprocess.run(
        [*serve_command(), "--bind", "tcp://0.0.0.0:0", "--weights", "random:0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "refusing to listen on tcp://0.0.0.0:0" in out.stderr
    assert "restyle keys" in out.stderr


def test_with_keys_only_an_allowed_client_gets_in(tmp_path):
    make_keys(tmp_path / "keys", ["alice"])
    make_keys(tmp_path / "other", ["mallory"])  # a well-formed key the server never allowed
    alice = load_client_keys(tmp_path / "keys", "alice")
    _, mallory_pair = load_client_keys(tmp_path / "other", "mallory")
    with running_server(keys=tmp_path / "keys", client_keys=alice) as endpoint:
        with Client(endpoint, server_public_key=alice[0], client_keys=mallory_pair) as mallory:
            with pytest.raises(ServerUnavailable):
                mallory.hello(timeout=2)
        with Client(endpoint) as plain:
            with pytest.raises(ServerUnavailable):
                plain.hello(timeout=2)
        with connect(endpoint, server_public_key=alice[0], client_keys=alice[1]) as client:
            client.submit(tiny_request(iterations=2))
            result = run_to_end(client)
        assert isinstance(result, ev.Result) and not result.cancelled


KILLED_CLIENT = textwrap.dedent(
    """
    import sys
    from restyle_client import events as ev
    from restyle_client.client import Client
    sys.path.insert(0, "tests")
    from support.server import tiny_request
    client = Client(sys.argv[1])
    client.hello(timeout=30)
    client.submit(tiny_request(iterations=5000))
    for event in client.events():
        if isinstance(event, ev.Progress):
            print("running", flush=True)
            break
    import time
    time.sleep(600)
    """
)


def test_a_client_killed_mid_job_is_noticed_and_its_job_freed_while_serving_goes_on():
    with running_server_thread() as server:
        kill_mid_job(server.endpoint, KILLED_CLIENT)
        with connect(server.endpoint) as observer:
            report = observer.status()
            assert report["running"] is not None and not report["running"]["mine"]
            deadline = time.monotonic() + 60
            while report["running"] is not None or report["jobs"]["clients_lost"] < 1:
                assert time.monotonic() < deadline, report
                time.sleep(0.2)
                report = observer.status()
            observer.submit(tiny_request(iterations=2))
            result = run_to_end(observer)
        assert isinstance(result, ev.Result) and not result.cancelled


def test_restyle_keys_makes_the_documented_layout_with_private_secrets(tmp_path, capsys):
    import argparse

    from server.cli_serve import add_keys_arguments, run_keys

    parser = argparse.ArgumentParser()
    add_keys_arguments(parser)
    assert run_keys(parser.parse_args([str(tmp_path / "k"), "--client", "krita", "--client", "gimp"])) == 0
    k = tmp_path / "k"
    for path in (
        "server.key",
        "server.key_secret",
        "authorized/krita.key",
        "authorized/gimp.key",
        "clients/krita.key",
        "clients/krita.key_secret",
        "clients/gimp.key_secret",
    ):
        assert (k / path).is_file(), path
    assert (k / "server.key_secret").stat().st_mode & 0o077 == 0
    assert (k / "clients/gimp.key_secret").stat().st_mode & 0o077 == 0
    assert "restyle serve --keys" in capsys.readouterr().out
    server_secret = (k / "server.key_secret").read_bytes()
    assert run_keys(parser.parse_args([str(k), "--client", "krita"])) == 0
    assert (k / "server.key_secret").read_bytes() == server_secret  # never replaced
