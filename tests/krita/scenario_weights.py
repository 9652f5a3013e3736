"""Runs inside Krita: the docker's first run on a machine without VGG19's weights.

server.json names a server on torchvision's weights and $TORCH_HOME is empty, so the
docker must ask for the weights before it starts anything.  The "download" comes from
a local web server (the pytest side) serving a small stand-in of the right format, so
the scenario points restyle_client.weights_setup's URL and hash at it, as a test may.
It asserts nothing itself: it reports what a person would have seen.
"""

import importlib.util
import os
import time

from PyQt5.QtCore import QMetaObject, QTimer
from PyQt5.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QWidget,
)


def _restyle_scenario():
    """The main scenario's helpers (documents, the docker, jobs), loaded from beside this file."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenario_restyle.py")
    spec = importlib.util.spec_from_file_location("restyle_e2e_main_scenario", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


main = _restyle_scenario()
widget = main.widget


def scenarios(ctx):
    return [("weights", weights(ctx))]


def files_under(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, name), folder) for name in dirs + files]
    return sorted(found)


def accept_file_dialog(ctx, path, rep, tries=60):
    """What a person does in the file dialog: pick `path` and press Open."""
    dialog = QApplication.activeModalWidget()
    if isinstance(dialog, QFileDialog):
        rep.setdefault("file_dialogs", []).append(dialog.windowTitle())
        name = dialog.findChild(QLineEdit, "fileNameEdit")
        name.setText(path)
        QTimer.singleShot(300, lambda: press_open(dialog, rep))
    elif tries > 0:
        QTimer.singleShot(100, lambda: accept_file_dialog(ctx, path, rep, tries - 1))
    else:
        rep["no_file_dialog"] = repr(dialog)
        if dialog is not None:
            dialog.close()


def press_open(dialog, rep):
    rep["dialog_selected"] = dialog.selectedFiles()
    QMetaObject.invokeMethod(dialog, "accept")  # QFileDialog.accept is protected to PyQt
    QTimer.singleShot(1000, lambda: close_stuck_dialog(dialog, rep))


def close_stuck_dialog(dialog, rep):
    if QApplication.activeModalWidget() is dialog:
        rep["dialog_stayed_open"] = True
        QMetaObject.invokeMethod(dialog, "reject")


def weights(ctx):
    from restyle_client import weights_setup

    rep = ctx.report["scenarios"]["weights"]
    torch_home = os.environ["TORCH_HOME"]
    docks = main.tidy_window()
    main.make_room(docks)
    doc, view, content = main.make_document("first run")
    dock = yield from main.docker_listing(ctx, doc, content)
    panel = widget(dock, QWidget, "restyle_weights")
    status = widget(dock, QLabel, "restyle_status")
    yield ctx.Wait(panel.isVisible, 20, "the docker to ask for the weights")
    text = widget(dock, QLabel, "restyle_weights_text")
    scroll = dock.findChild(QScrollArea)
    rep["text"] = text.text()
    rep["text_fits"] = text.width() <= scroll.viewport().width()
    rep["scrolls_sideways"] = scroll.horizontalScrollBar().isVisible()
    rep["widths"] = {
        "viewport": scroll.viewport().width(),
        "body_min": scroll.widget().minimumSizeHint().width(),
        "panel_min": panel.minimumSizeHint().width(),
        "text_min": text.minimumSizeHint().width(),
    }
    rep["buttons"] = [
        widget(dock, QPushButton, name).text() for name in ("restyle_weights_download", "restyle_weights_pick")
    ]
    main.screenshot(ctx, "weights-panel.png")

    # Start before the weights are there: nothing is started, the docker says what comes first.
    main.pick_photo_and_stripes(dock)
    main.prepare_run(dock, iterations=3)
    widget(dock, QPushButton, "restyle_start").click()
    yield ctx.sleep(1.0)
    rep["start_status"] = status.text()
    rep["server_started_early"] = os.path.exists(os.environ["RESTYLE_E2E_PID_FILE"])

    # A download cancelled half-way leaves nothing.
    weights_setup.HASH_PREFIX = os.environ["RESTYLE_E2E_WEIGHTS_HASH"]
    weights_setup.URL = os.environ["RESTYLE_E2E_SLOW_URL"]
    download = widget(dock, QPushButton, "restyle_weights_download")
    cancel = widget(dock, QPushButton, "restyle_weights_cancel")
    bar = widget(dock, QProgressBar, "restyle_weights_progress")
    progress = widget(dock, QLabel, "restyle_weights_status")
    ticks = [time.monotonic()]
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))
    heartbeat.start(20)
    download.click()
    yield ctx.Wait(lambda: bar.value() > 0, 30, "the download's progress")
    rep["progress_text"] = progress.text()
    rep["progress_shown"] = progress.isVisible() and bar.isVisible()
    main.screenshot(ctx, "weights-downloading.png")
    rep["progress_value"] = bar.value()
    rep["cancel_visible"] = cancel.isVisible()
    yield ctx.sleep(0.5)
    heartbeat.stop()
    rep["longest_gap_s"] = round(max(b - a for a, b in zip(ticks, ticks[1:], strict=False)), 3)
    cancel.click()
    yield ctx.Wait(download.isEnabled, 30, "the cancelled download to end")
    rep["cancelled_status"] = progress.text()
    rep["cancelled_status_shown"] = progress.isVisible()
    rep["after_cancel"] = files_under(torch_home)

    # A file that is not VGG19 is refused, by name.
    pick = widget(dock, QPushButton, "restyle_weights_pick")
    QTimer.singleShot(200, lambda: accept_file_dialog(ctx, os.environ["RESTYLE_E2E_WRONG_FILE"], rep))
    pick.click()
    yield ctx.Wait(lambda: pick.isEnabled() and progress.text(), 30, "the picked file to be checked")
    rep["wrong_file_status"] = progress.text()
    rep["wrong_file_status_shown"] = progress.isVisible()
    rep["after_wrong_file"] = files_under(torch_home)
    rep["panel_after_wrong_file"] = panel.isVisible()

    # The download that completes puts the file in place and starts the server.
    connection = widget(dock, QLabel, "restyle_connection")
    seen = []

    def watch():
        if not seen or seen[-1] != connection.text():
            seen.append(connection.text())

    watcher = QTimer()
    watcher.timeout.connect(watch)
    watcher.start(50)
    weights_setup.URL = os.environ["RESTYLE_E2E_FAST_URL"]
    download.click()
    try:
        yield ctx.Wait(lambda: not panel.isVisible(), 60, "the download to finish")
        rep["after_download"] = files_under(torch_home)
        yield ctx.Wait(lambda: connection.text().startswith(("Connected", "The Restyle server")), 150, "the server")
    finally:
        watcher.stop()
    watch()
    rep["connection_texts"] = seen
    history = yield from main.press_start(
        ctx, dock, lambda t: t.startswith(("Done", "The server", "Restyle could", "No Restyle", "The Restyle")), 90
    )
    rep["job_status"] = history[-1]
    rep["layers"] = main.layer_list(doc)
    doc.setModified(False)
    doc.close()
