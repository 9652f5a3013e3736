"""Restyle in real GIMP 3 on a machine without VGG19's weights, run as a script would run it.

server.json names a `restyle serve` on torchvision's weights, and the profile's home has
no torch cache: the plug-in must not start that server (it would try a 548 MB download
within its start-up time, and offline stop with advice for the command line), but say
what is needed and how to get it.  The dialog's questions (download, or a file the user
has) are tested on the host, in test_gimp_weights_logic.py.
"""

from __future__ import annotations

import pytest
from test_gimp_plugin import _free_endpoint, names, run_scenario

pytestmark = pytest.mark.gimp

FILE = "vgg19-dcbb9e9d.pth"


def test_a_script_without_the_weights_is_told_what_to_do_and_no_server_is_started(gimp_available):
    endpoint = _free_endpoint()
    marks_its_start = "open('{work}/server-started.log', 'w').write('started')"
    report = run_scenario(
        endpoint,
        {"iterations": 2},
        server_json={
            "endpoint": endpoint,
            "command": ["/usr/bin/python3", "-c", marks_its_start, "serve"],
            "log": "{work}/server.log",
        },
    )
    assert report["run"]["status"] == "EXECUTION_ERROR"
    message = report["run"]["error"]
    assert message.startswith("Restyle needs VGG19's pretrained weights, a 548 MB file that is downloaded once.")
    assert f"/.cache/torch/hub/checkpoints/{FILE}" in message
    assert "install.py --download-weights" in message and "Filters \u25b8 Artistic \u25b8 Restyle\u2026" in message
    assert " | " not in message and "--weights PATH" not in message
    assert "server-started.log" not in report["files"]
    assert names(report) == ["Photo", "Blue Stripes"]
