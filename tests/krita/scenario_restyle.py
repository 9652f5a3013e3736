"""Runs inside Krita (loaded by the restyle_e2e driver): uses the Restyle docker as a person would.

Each scenario builds a document, sets the docker's controls, presses its buttons and
waits for what a user would see.  It asserts nothing itself: it writes what it saw
(texts, layer geometry, raw pixel bytes) to the report and to files, and the pytest
side states the expectations.
"""

import hashlib
import json
import os
import random
import time

from krita import Krita, Selection
from PyQt5.QtCore import QPoint, Qt, QTimer
from PyQt5.QtGui import QImage
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
)

DOC_W, DOC_H = 96, 72
CONTENT_W, CONTENT_H = 64, 48
OFFSET = (12, 8)
SELECTION = (20, 14, 30, 24)  # x, y, w, h in document coordinates, inside the content
RESULT_NAME = "Stripes (restyled)"
ENDINGS = ("Done", "The server", "Restyle could", "No Restyle", "The layer")  # how a job's status can end


def scenarios(ctx):
    everything = [
        ("first_open", first_open(ctx)),
        ("stylize", stylize(ctx)),
        ("picking", picking(ctx)),
        ("results", results(ctx)),
        ("showcase", showcase(ctx)),
        ("reopen", reopen(ctx)),
        ("cancel", cancel(ctx)),
        ("regions", regions(ctx)),
        ("two_documents", two_documents(ctx)),
        ("full_size", full_size(ctx)),
        ("huge", huge(ctx)),
        ("depths", depths(ctx)),
        ("grey", grey(ctx)),
        ("no_server", no_server(ctx)),
        ("autostart", autostart(ctx)),
    ]
    only = os.environ.get("RESTYLE_E2E_ONLY", "").split(",")
    return [(name, gen) for name, gen in everything if name in only or only == [""]]


# --- building documents ---------------------------------------------------------------


def pattern(width, height, seed):
    """Smooth colour gradients with blocky noise: something a style can visibly change."""
    rng = random.Random(seed)
    blocks = [[rng.randrange(256) for _ in range(16)] for _ in range(16)]
    out = bytearray()
    for y in range(height):
        for x in range(width):
            n = blocks[(y // 6) % 16][(x // 6) % 16]
            r, g, b = (x * 255 // width + n) // 2, (y * 255 // height + n) // 2, (255 - n)
            out += bytes((b, g, r, 255))  # Krita's BGRA
    return bytes(out)


def stripes(width, height):
    out = bytearray()
    for y in range(height):
        for x in range(width):
            on = ((x + y) // 4) % 2
            out += bytes((30, 200, 250, 255)) if on else bytes((90, 20, 10, 255))
    return bytes(out)


def noise_rows(width, height, pixel_bytes, seed, opaque=False):
    """Noise for layers of thousands of pixels, where a loop over pixels would take minutes:
    one random row, shifted on every line.  `opaque` sets U8 alpha to 255."""
    rng = random.Random(seed)
    row = bytearray(rng.randbytes((width + 97) * pixel_bytes))
    if opaque:
        row[3::4] = b"\xff" * (len(row) // 4)
    line = width * pixel_bytes
    return b"".join(bytes(row[(y * 13 % 97) * pixel_bytes:][:line]) for y in range(height))


def large_document(name, side, depth, content_pixels, style_side=256):
    """A side x side document whose "Photo" layer fills it, under a small "Stripes" style."""
    app = Krita.instance()
    doc = app.createDocument(side, side, name, "RGBA", depth, "", 300.0)
    view = app.activeWindow().addView(doc)
    root = doc.rootNode()
    content = doc.createNode("Photo", "paintlayer")
    root.addChildNode(content, None)
    content.setPixelData(content_pixels, 0, 0, side, side)
    style = doc.createNode("Stripes", "paintlayer")
    root.addChildNode(style, None)
    pixel = 8 if depth == "U16" else 4
    style.setPixelData(noise_rows(style_side, style_side, pixel, 5, opaque=pixel == 4), 0, 0, style_side, style_side)
    style.setVisible(False)
    doc.refreshProjection()
    doc.waitForDone()
    return doc, view, content


def make_document(name, model="RGBA", depth="U8"):
    app = Krita.instance()
    doc = app.createDocument(DOC_W, DOC_H, name, "RGBA", "U8", "", 72.0)
    window = app.activeWindow()
    view = window.addView(doc)
    root = doc.rootNode()
    content = doc.createNode("Photo", "paintlayer")
    root.addChildNode(content, None)
    content.setPixelData(pattern(CONTENT_W, CONTENT_H, 7), 0, 0, CONTENT_W, CONTENT_H)
    content.move(*OFFSET)
    style = doc.createNode("Stripes", "paintlayer")
    root.addChildNode(style, None)
    style.setPixelData(stripes(40, 40), 0, 0, 40, 40)
    style.setVisible(False)
    if (model, depth) != ("RGBA", "U8"):
        assert doc.setColorSpace(model, depth, ""), f"Krita could not convert to {model}/{depth}"
    doc.refreshProjection()
    doc.waitForDone()
    return doc, view, content


def click_layer(doc, node):
    """What clicking a layer in the Layers docker does."""
    doc.setActiveNode(node)


def offered_styles(dock):
    styles = widget(dock, QListWidget, "restyle_styles")
    return [styles.item(i).text().strip() for i in range(styles.count())]


def select(doc, rect):
    selection = Selection()
    selection.select(*rect, 255)
    doc.setSelection(selection)


# --- the docker, found as a user finds it -------------------------------------------------


def open_docker():
    """Tools ▸ Scripts ▸ Restyle Layer… opens the docker; return its widgets by name."""
    app = Krita.instance()
    action = app.action("restyle_layer")
    assert action is not None, "the Restyle Layer action is not registered"
    action.trigger()
    qwindow = app.activeWindow().qwindow()
    dock = next(d for d in qwindow.findChildren(QDockWidget) if d.objectName() == "restyle_docker")
    return dock


def docker_listing(ctx, doc, content, layers=("Photo", "Stripes")):
    """Make `content` current, open the docker and wait until it offers `layers`."""
    yield ctx.sleep(0.3)
    click_layer(doc, content)
    dock = open_docker()
    yield ctx.Wait(lambda: set(layers) <= set(offered_styles(dock)), 10, "the docker to list the document's layers")
    return dock


def pick_photo_and_stripes(dock, quality="Full size"):
    choose(widget(dock, QComboBox, "restyle_content"), "Photo")
    tick_style(dock, "Stripes")
    if quality is not None:
        choose(widget(dock, QComboBox, "restyle_quality"), quality)


def widget(dock, kind, name):
    found = dock.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name} in the docker"
    return found


def choose(combo, text):
    """As a person picks: the quality's label may carry its time (\u201cDraft (512 px) \u00b7 about 1 min\u201d)."""
    flags = Qt.MatchStartsWith if combo.objectName() == "restyle_quality" else Qt.MatchEndsWith
    index = combo.findText(text, flags)
    assert index >= 0, (
        f"{text!r} is not offered in {combo.objectName()}: {[combo.itemText(i) for i in range(combo.count())]}"
    )
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def tick_style(dock, name):
    styles = widget(dock, QListWidget, "restyle_styles")
    offered = [styles.item(i).text().strip() for i in range(styles.count())]
    assert name in offered, f"{name!r} is not offered as a style: {offered}"
    for i in range(styles.count()):
        item = styles.item(i)
        item.setCheckState(Qt.Checked if item.text().strip() == name else Qt.Unchecked)
    return [(styles.item(i).text(), int(styles.item(i).checkState())) for i in range(styles.count())]


def layer_list(doc):
    out = []
    for node in doc.rootNode().childNodes():
        bounds = node.bounds()
        out.append(
            {
                "name": node.name(),
                "type": node.type(),
                "position": [node.position().x(), node.position().y()],
                "bounds": [bounds.x(), bounds.y(), bounds.width(), bounds.height()],
            }
        )
    return out  # bottom to top


def node_named(doc, name):
    for node in doc.rootNode().childNodes():
        if node.name() == name:
            return node
    return None


def dump(ctx, name, data):
    with open(os.path.join(ctx.out, name), "wb") as f:
        f.write(bytes(data))


def prepare_run(dock, iterations, endpoint=None):
    if endpoint is not None:
        field = widget(dock, QLineEdit, "restyle_endpoint")
        field.setText(endpoint)
        field.editingFinished.emit()
    widget(dock, QSpinBox, "restyle_iterations").setValue(iterations)


def tidy_window():
    """Xvfb has no window manager: size the window to the screen and make room for the docker."""
    qwindow = Krita.instance().activeWindow().qwindow()
    qwindow.setGeometry(QApplication.primaryScreen().geometry())
    docks = {dock.objectName(): dock for dock in qwindow.findChildren(QDockWidget)}
    for name, dock in docks.items():
        if name not in ("KisLayerBox", "restyle_docker"):
            dock.hide()
    if "restyle_docker" in docks and docks["restyle_docker"].isFloating():
        docks["restyle_docker"].setFloating(False)
    return docks


def make_room(docks):
    if "KisLayerBox" in docks and "restyle_docker" in docks:
        qwindow = Krita.instance().activeWindow().qwindow()
        pair = [docks["KisLayerBox"], docks["restyle_docker"]]
        qwindow.resizeDocks(pair, [230, 760], Qt.Vertical)
        qwindow.resizeDocks([docks["restyle_docker"]], [430], Qt.Horizontal)


def screenshot(ctx, name):
    screen = QApplication.primaryScreen()
    image = screen.grabWindow(0)  # the whole Xvfb screen, as a person would see it
    image.save(os.path.join(ctx.out, name), "PNG")


# --- scenarios ----------------------------------------------------------------------------


def stylize(ctx):
    rep = ctx.report["scenarios"]["stylize"]
    tidy_window()
    doc, view, content = make_document("stylize")
    select(doc, SELECTION)
    yield ctx.sleep(0.2)
    click_layer(doc, content)
    before = bytes(content.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    dump(ctx, "content_before.bin", before)
    dump(ctx, "selection.bin", doc.selection().pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    yield ctx.sleep(0.3)
    click_layer(doc, content)
    dock = open_docker()
    rep["docker_visible"] = dock.isVisible()
    make_room(tidy_window())
    content_combo = widget(dock, QComboBox, "restyle_content")
    settled = time.monotonic() + 4
    yield ctx.Wait(
        lambda: content_combo.currentText().strip() == "Photo" or time.monotonic() > settled,
        10,
        "the content layer to follow the current layer",
    )
    rep["content_default"] = content_combo.currentText().strip()
    choose(content_combo, "Photo")
    rep["styles_ticked"] = tick_style(dock, "Stripes")
    choose(widget(dock, QComboBox, "restyle_quality"), "Full size")
    prepare_run(dock, iterations=25)
    connection = widget(dock, QLabel, "restyle_connection")
    yield ctx.Wait(lambda: connection.text().startswith("Connected"), 20, "the docker to show the server as connected")
    rep["connection_text"] = connection.text()
    status = widget(dock, QLabel, "restyle_status")
    start = widget(dock, QPushButton, "restyle_start")
    progress = widget(dock, QProgressBar, "restyle_progress")
    started = time.monotonic()
    seen = {"preview": 0, "previews": set(), "progress": set(), "status": [status.text()]}
    start.click()

    def watch():
        preview = node_named(doc, "Restyle preview")
        if preview is not None and preview.bounds().width() > 0:
            seen["preview"] += 1
            seen["previews"].add(hash(bytes(preview.pixelData(*OFFSET, CONTENT_W, CONTENT_H))))
            seen.setdefault(
                "preview_bounds",
                [preview.bounds().x(), preview.bounds().y(), preview.bounds().width(), preview.bounds().height()],
            )
            if "shot" not in seen and progress.value() >= 60:
                seen["shot"] = True
                screenshot(ctx, "krita-docker-pattern.png")
        seen["progress"].add(progress.value())
        if not seen["status"] or seen["status"][-1] != status.text():
            seen["status"].append(status.text())
            rep["status_history"] = seen["status"]
        return start.isEnabled() and len(seen["status"]) > 1

    yield ctx.Wait(watch, 60, "the job to finish")
    rep["seconds"] = round(time.monotonic() - started, 2)
    rep["final_status"] = status.text()
    rep["status_history"] = seen["status"]
    rep["preview_polls"] = seen["preview"]
    rep["distinct_previews"] = len(seen["previews"])
    rep["preview_bounds"] = seen.get("preview_bounds")
    rep["progress_values"] = sorted(seen["progress"])
    rep["start_enabled_after"] = widget(dock, QPushButton, "restyle_start").isEnabled()
    rep["layers"] = layer_list(doc)
    after = bytes(content.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    dump(ctx, "content_after.bin", after)
    result = node_named(doc, "Stripes (restyled)")
    if result is not None:
        dump(ctx, "result.bin", result.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    rep["active_after"] = doc.activeNode().name() if doc.activeNode() else None
    yield ctx.sleep(0.2)
    screenshot(ctx, "krita-docker-done.png")
    path = os.path.join(ctx.out, "stylized.kra")
    doc.setBatchmode(True)
    rep["saved"] = doc.saveAs(path)
    doc.waitForDone()
    doc.setModified(False)
    doc.close()
    ctx.kra = path


def reopen(ctx):
    rep = ctx.report["scenarios"]["reopen"]
    path = os.path.join(ctx.out, "stylized.kra")
    assert os.path.exists(path), "the stylize scenario saved nothing"  # opening it would show a modal error
    doc = Krita.instance().openDocument(path)
    assert doc is not None, f"Krita could not open {path}"
    yield ctx.sleep(0.2)
    doc.waitForDone()
    rep["layers"] = layer_list(doc)
    result = node_named(doc, "Stripes (restyled)")
    if result is not None:
        dump(ctx, "result_reopened.bin", result.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    content = node_named(doc, "Photo")
    if content is not None:
        dump(ctx, "content_reopened.bin", content.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    doc.setModified(False)
    doc.close()


def cancel(ctx):
    rep = ctx.report["scenarios"]["cancel"]
    doc, view, content = make_document("cancel")
    before = bytes(content.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    dock = yield from docker_listing(ctx, doc, content)
    pick_photo_and_stripes(dock)
    prepare_run(dock, iterations=2000)
    status = widget(dock, QLabel, "restyle_status")
    widget(dock, QPushButton, "restyle_start").click()
    yield ctx.Wait(
        lambda: "iteration" in status.text() and node_named(doc, "Restyle preview") is not None,
        60,
        "the job to run and show a preview",
    )
    rep["status_before_cancel"] = status.text()
    widget(dock, QPushButton, "restyle_cancel").click()
    yield ctx.Wait(
        lambda: status.text().startswith(("Cancelled", "The server", "Restyle could")), 60, "the cancelled job to end"
    )
    rep["final_status"] = status.text()
    rep["progress_after"] = widget(dock, QProgressBar, "restyle_progress").value()
    rep["layers"] = layer_list(doc)
    result = node_named(doc, "Stripes (restyled, cancelled)")
    if result is not None:
        dump(ctx, "cancel_result.bin", result.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
    rep["content_unchanged"] = bytes(content.pixelData(*OFFSET, CONTENT_W, CONTENT_H)) == before
    dump(ctx, "cancel_content.bin", before)
    doc.setModified(False)
    doc.close()


def no_server(ctx):
    rep = ctx.report["scenarios"]["no_server"]
    doc, view, content = make_document("no server")
    dock = yield from docker_listing(ctx, doc, content)
    pick_photo_and_stripes(dock, quality=None)
    prepare_run(dock, iterations=5, endpoint=os.environ["RESTYLE_E2E_DEAD_ENDPOINT"])
    status = widget(dock, QLabel, "restyle_status")
    start = widget(dock, QPushButton, "restyle_start")
    started = time.monotonic()
    start.click()
    yield ctx.Wait(
        lambda: start.isEnabled() and not status.text().startswith("Connecting"),
        60,
        "the docker to give up on the missing server",
    )
    rep["seconds"] = round(time.monotonic() - started, 2)
    rep["final_status"] = status.text()
    rep["connection_text"] = widget(dock, QLabel, "restyle_connection").text()
    rep["layers"] = layer_list(doc)
    doc.setModified(False)
    doc.close()


def run_job(ctx, dock, doc, content, iterations, finished_prefixes):
    """Pick Photo and Stripes, press Start and wait until the docker is idle again."""
    widget(dock, QCheckBox, "restyle_limit_selection").setChecked(True)
    pick_photo_and_stripes(dock)
    prepare_run(dock, iterations=iterations)
    return (yield from press_start(ctx, dock, lambda text: text.startswith(finished_prefixes), 90))


def press_start(ctx, dock, finished, timeout):
    """Press Start and wait until the docker is idle again with `finished(status)`; the statuses shown."""
    status = widget(dock, QLabel, "restyle_status")
    start = widget(dock, QPushButton, "restyle_start")
    history = [status.text()]

    def idle():
        if history[-1] != status.text():
            history.append(status.text())
        return start.isEnabled() and len(history) > 1 and finished(status.text())

    start.click()
    yield ctx.Wait(idle, timeout, "the job to end")
    return history


def full_size(ctx):
    """"Full size" on a 5000 px layer: the stages too large for the server's memory run in
    blocks, and a cancel there brings back the picture so far at the layer's own size."""
    rep = ctx.report["scenarios"]["full_size"]
    side = 5000
    doc, view, content = large_document("full size", side, "U8", noise_rows(side, side, 4, 3, opaque=True))
    before = hashlib.sha256(bytes(content.pixelData(0, 0, side, side))).hexdigest()
    dock = yield from docker_listing(ctx, doc, content)
    pick_photo_and_stripes(dock)
    rep["quality"] = widget(dock, QComboBox, "restyle_quality").currentText()
    prepare_run(dock, iterations=1)
    status = widget(dock, QLabel, "restyle_status")
    widget(dock, QPushButton, "restyle_start").click()
    yield ctx.Wait(lambda: "blocks" in status.text() or not widget(dock, QPushButton, "restyle_cancel").isEnabled(),
                   600, "a stage to run in blocks")
    rep["status_in_blocks"] = status.text()
    widget(dock, QPushButton, "restyle_cancel").click()
    yield ctx.Wait(lambda: widget(dock, QPushButton, "restyle_start").isEnabled(), 600, "the cancelled job to end")
    rep["final_status"] = status.text()
    rep["layers"] = layer_list(doc)
    result = node_named(doc, "Stripes (restyled, cancelled)")
    if result is not None:
        rep["result_differs"] = hashlib.sha256(bytes(result.pixelData(0, 0, side, side))).hexdigest() != before
    rep["content_unchanged"] = hashlib.sha256(bytes(content.pixelData(0, 0, side, side))).hexdigest() == before
    doc.setModified(False)
    doc.close()


def huge(ctx):
    """An 8192 x 8192 RGBA 16-bit layer goes to the server and comes back whole: at
    strength 0 the result is the layer itself, to the last bit."""
    rep = ctx.report["scenarios"]["huge"]
    side = 8192
    doc, view, content = large_document("huge", side, "U16", noise_rows(side, side, 8, 11))
    before = hashlib.sha256(bytes(content.pixelData(0, 0, side, side))).hexdigest()
    dock = yield from docker_listing(ctx, doc, content)
    pick_photo_and_stripes(dock)
    strength = widget(dock, QDoubleSpinBox, "restyle_strength")
    chosen = strength.value()
    strength.setValue(0.0)
    history = yield from press_start(ctx, dock, lambda text: text.startswith(ENDINGS), 600)
    strength.setValue(chosen)  # the docker keeps its settings for the next document
    rep["status"] = history[-1]
    rep["layers"] = layer_list(doc)
    result = node_named(doc, "Stripes (restyled)")
    if result is not None:
        rep["result_depth"] = result.colorDepth()
        rep["result_equals_content"] = hashlib.sha256(bytes(result.pixelData(0, 0, side, side))).hexdigest() == before
    rep["content_unchanged"] = hashlib.sha256(bytes(content.pixelData(0, 0, side, side))).hexdigest() == before
    doc.setModified(False)
    doc.close()


def depths(ctx):
    """16-bit integer and 16/32-bit float documents: lossless outside the selection."""
    rep = ctx.report["scenarios"]["depths"]
    for depth in ("U16", "F16", "F32"):
        doc, view, content = make_document(f"depth {depth}", "RGBA", depth)
        select(doc, SELECTION)
        dock = yield from docker_listing(ctx, doc, content)
        before = bytes(content.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
        history = yield from run_job(ctx, dock, doc, content, 3, ("Done", "The server", "Restyle could", "No Restyle"))
        section = rep[depth] = {"depth": content.colorDepth(), "status": history[-1]}
        result = node_named(doc, "Stripes (restyled)")
        section["result_depth"] = result.colorDepth() if result is not None else None
        if result is not None:
            dump(ctx, f"depth_{depth}_result.bin", result.pixelData(*OFFSET, CONTENT_W, CONTENT_H))
        dump(ctx, f"depth_{depth}_content.bin", before)
        dump(ctx, f"depth_{depth}_selection.bin", doc.selection().pixelData(*OFFSET, CONTENT_W, CONTENT_H))
        section["content_unchanged"] = bytes(content.pixelData(*OFFSET, CONTENT_W, CONTENT_H)) == before
        doc.setModified(False)
        doc.close()
        yield ctx.sleep(0.2)


def grey(ctx):
    """A greyscale document gets a message, not a crash or a silent nothing."""
    rep = ctx.report["scenarios"]["grey"]
    doc, view, content = make_document("grey", "GRAYA", "U8")
    dock = yield from docker_listing(ctx, doc, content)
    history = yield from run_job(ctx, dock, doc, content, 3, ("The layer",))
    rep["status"] = history[-1]
    rep["layers"] = layer_list(doc)
    doc.setModified(False)
    doc.close()


def autostart(ctx):
    """No server answers, but install.py recorded how to start one: the plugin starts it."""
    rep = ctx.report["scenarios"]["autostart"]
    command = json.loads(os.environ["RESTYLE_E2E_SERVER_COMMAND"])
    endpoint = os.environ["RESTYLE_E2E_AUTOSTART_ENDPOINT"]
    config = os.path.join(os.environ["HOME"], ".config", "restyle", "server.json")
    with open(config, "w") as f:
        json.dump({"endpoint": endpoint, "command": command, "log": os.path.join(ctx.out, "autostart-server.log")}, f)
    doc, view, content = make_document("autostart")
    dock = yield from docker_listing(ctx, doc, content)
    seen = []
    connection = widget(dock, QLabel, "restyle_connection")

    def watch_connection():
        if not seen or seen[-1] != connection.text():
            seen.append(connection.text())
        return False

    timer_keepalive = QTimer()
    timer_keepalive.timeout.connect(watch_connection)
    timer_keepalive.start(50)
    field = widget(dock, QLineEdit, "restyle_endpoint")
    field.setText(endpoint)
    field.editingFinished.emit()
    try:
        history = yield from run_job(
            ctx, dock, doc, content, 3, ("Done", "The server", "Restyle could", "No Restyle", "The Restyle server")
        )
    finally:
        timer_keepalive.stop()
    rep["status"] = history[-1]
    rep["connection_texts"] = seen
    rep["layers"] = layer_list(doc)
    doc.setModified(False)
    doc.close()


def front_name():
    doc = Krita.instance().activeDocument()
    return doc.name() if doc is not None else None


def bring_to_front(window, view):
    """What clicking a document's tab does."""
    window.showView(view)
    view.setVisible()


def two_documents(ctx):
    """Two documents restyle at once through the one server; each result lands in its own document."""
    rep = ctx.report["scenarios"]["two_documents"]
    window = Krita.instance().activeWindow()
    first, first_view, first_content = make_document("first")
    second, second_view, second_content = make_document("second")
    yield ctx.sleep(0.3)
    bring_to_front(window, first_view)
    click_layer(first, first_content)
    dock = open_docker()
    start = widget(dock, QPushButton, "restyle_start")
    status = widget(dock, QLabel, "restyle_status")
    rep["front_after_switch"] = front_name()
    yield ctx.Wait(
        lambda: front_name() == "first" and {"Photo", "Stripes"} <= set(offered_styles(dock)),
        10,
        "the first document in front",
    )
    pick_photo_and_stripes(dock)
    # Long enough to still be running while the second document is set up and sent, on
    # an idle machine too: the second job must wait in the queue behind it.
    prepare_run(dock, iterations=300)
    start.click()
    yield ctx.Wait(
        lambda: not start.isEnabled() and status.text() != "Connecting to the server…", 20, "the first job to be sent"
    )
    bring_to_front(window, second_view)
    click_layer(second, second_content)
    yield ctx.Wait(
        lambda: front_name() == "second" and start.isEnabled(),
        10,
        "the docker to show the second document, which has no job yet",
    )
    yield ctx.Wait(
        lambda: widget(dock, QComboBox, "restyle_content").currentText().strip() == "Photo",
        10,
        "the second document's layers",
    )
    tick_style(dock, "Stripes")
    prepare_run(dock, iterations=5)
    second_history = [status.text()]

    def both_done():
        if second_history[-1] != status.text():
            second_history.append(status.text())
        return node_named(first, RESULT_NAME) is not None and node_named(second, RESULT_NAME) is not None

    start.click()
    yield ctx.Wait(both_done, 90, "both documents to get their result")
    rep["second_status_history"] = second_history
    bring_to_front(window, first_view)
    yield ctx.Wait(lambda: status.text().startswith("Done"), 10, "the docker to show the first document's outcome")
    rep["first_status_when_back"] = status.text()
    rep["first_layers"] = layer_list(first)
    rep["second_layers"] = layer_list(second)
    for doc in (first, second):
        doc.setModified(False)
        doc.close()


def regions(ctx):
    """Regions: the selection, the light part of a layer and a Krita mask, each with its own style."""
    rep = ctx.report["scenarios"]["regions"]
    doc, view, content = make_document("regions")
    mask_layer = doc.createNode("Sky mask", "paintlayer")
    doc.rootNode().addChildNode(mask_layer, None)
    mask_layer.setPixelData(bytes([255, 255, 255, 255]) * (CONTENT_W * 12), OFFSET[0], OFFSET[1], CONTENT_W, 12)
    mask_layer.setVisible(False)
    dots = doc.createNode("Dots", "paintlayer")
    doc.rootNode().addChildNode(dots, None)
    dots.setPixelData(bytes([40, 40, 40, 255, 250, 250, 250, 255]) * (40 * 20), 0, 0, 40, 40)
    dots.setVisible(False)
    select(doc, SELECTION)
    dock = yield from docker_listing(ctx, doc, content, ("Photo", "Stripes", "Sky mask", "Dots"))
    styles = widget(dock, QListWidget, "restyle_styles")
    for i in range(styles.count()):
        styles.item(i).setCheckState(Qt.Unchecked)
    widget(dock, QCheckBox, "restyle_limit_selection").setChecked(False)
    add = widget(dock, QPushButton, "restyle_add_region")
    for _ in range(3):
        add.click()
    choose(widget(dock, QComboBox, "restyle_region_0_mask"), "Current selection")
    choose(widget(dock, QComboBox, "restyle_region_0_style"), "Stripes")
    choose(widget(dock, QComboBox, "restyle_region_1_mask"), "Light parts of \u201cSky mask\u201d")
    choose(widget(dock, QComboBox, "restyle_region_1_style"), "Stripes")
    choose(widget(dock, QComboBox, "restyle_region_2_mask"), "Mask \u201cSelection Mask\u201d")
    choose(widget(dock, QComboBox, "restyle_region_2_style"), "Dots")
    rep["mask_choices"] = [
        widget(dock, QComboBox, "restyle_region_1_mask").itemText(i)
        for i in range(widget(dock, QComboBox, "restyle_region_1_mask").count())
    ]
    choose(widget(dock, QComboBox, "restyle_quality"), "Full size")
    prepare_run(dock, iterations=3)
    history = yield from press_start(ctx, dock, lambda text: not text.endswith("\u2026"), 60)
    rep["status"] = history[-1]
    rep["layers"] = layer_list(doc)
    for row in list(dock.findChildren(QToolButton)):
        if row.objectName().startswith("restyle_region_") and row.objectName().endswith("_remove"):
            row.click()
    widget(dock, QCheckBox, "restyle_limit_selection").setChecked(True)
    doc.setModified(False)
    doc.close()


# --- the first hour: finding the docker, picking layers, results, history, undo -------------


def essentials_in_view(dock):
    """Whether the style list and Start show inside the docker without scrolling."""
    scroll = dock.findChild(QScrollArea, "restyle_scroll")
    viewport = scroll.viewport()
    seen = {}
    for name, kind in (("restyle_styles", QListWidget), ("restyle_start", QPushButton)):
        w = widget(dock, kind, name)
        top_left = w.mapTo(viewport, QPoint(0, 0))
        inside = viewport.rect().contains(top_left) and viewport.rect().contains(
            top_left + QPoint(w.width() - 1, w.height() - 1)
        )
        seen[name] = bool(inside and w.isVisible() and dock.isVisible())
    return seen


def first_open(ctx):
    """Krita's default layout, a fresh HOME: the menu action must bring the docker into view."""
    rep = ctx.report["scenarios"]["first_open"]
    app = Krita.instance()
    qwindow = app.activeWindow().qwindow()
    qwindow.setGeometry(QApplication.primaryScreen().geometry())
    doc, view, content = make_document("first open")
    yield ctx.sleep(0.5)
    dock = next(d for d in qwindow.findChildren(QDockWidget) if d.objectName() == "restyle_docker")
    rep["visible_before"] = dock.isVisible()
    dock.hide()  # as on a first start, where the docker is not showing
    yield ctx.sleep(0.2)
    open_docker()
    yield ctx.sleep(0.8)
    rep["visible"] = dock.isVisible()
    rep["floating"] = dock.isFloating()
    rep["size"] = [dock.width(), dock.height()]
    rep["in_view"] = essentials_in_view(dock)
    screenshot(ctx, "krita-first-open.png")
    doc.setModified(False)
    doc.close()


def box_contrast(styles, row):
    """How far the tick box of an unticked row stands out from the row's background, in grey levels."""
    rect = styles.visualItemRect(styles.item(row))
    image = styles.viewport().grab(rect).toImage().convertToFormat(QImage.Format_RGB32)
    background = image.pixelColor(image.width() - 2, image.height() // 2).lightness()
    left = [image.pixelColor(x, y).lightness() for x in range(min(30, image.width())) for y in range(image.height())]
    return max(abs(value - background) for value in left)


def click_name(styles, row):
    """A real mouse click on the layer's name (not its box)."""
    rect = styles.visualItemRect(styles.item(row))
    QTest.mouseClick(styles.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(rect.left() + 60, rect.center().y()))


def row_of(styles, name):
    return next(i for i in range(styles.count()) if styles.item(i).text().strip() == name)


def picking(ctx):
    """Picking layers: a click on a name ticks it; the content never becomes a ticked style; refusals go stale."""
    rep = ctx.report["scenarios"]["picking"]
    doc, view, content = make_document("picking")
    dock = yield from docker_listing(ctx, doc, content)
    styles = widget(dock, QListWidget, "restyle_styles")
    content_combo = widget(dock, QComboBox, "restyle_content")
    status = widget(dock, QLabel, "restyle_status")
    for i in range(styles.count()):
        styles.item(i).setCheckState(Qt.Unchecked)
    rep["box_contrast"] = box_contrast(styles, row_of(styles, "Stripes"))
    yield ctx.Wait(lambda: content_combo.currentText().strip() == "Photo", 10, "the content to follow Photo")
    swirls = doc.createNode("Swirls", "paintlayer")
    doc.rootNode().addChildNode(swirls, None)
    swirls.setPixelData(stripes(20, 20), 0, 0, 20, 20)
    click_layer(doc, swirls)  # a layer just added is the current one
    yield ctx.Wait(lambda: "Swirls" in offered_styles(dock), 10, "the docker to list Swirls")
    yield ctx.Wait(lambda: content_combo.currentText().strip() == "Swirls", 10, "the content to follow Swirls")
    rep["content_after_adding"] = content_combo.currentText().strip()
    click_name(styles, row_of(styles, "Swirls"))
    rep["ticked_by_name_click"] = styles.item(row_of(styles, "Swirls")).checkState() == Qt.Checked
    rep["content_after_ticking"] = content_combo.currentText().strip()
    click_name(styles, row_of(styles, "Stripes"))
    click_name(styles, row_of(styles, "Stripes"))
    rep["second_click_unticks"] = styles.item(row_of(styles, "Stripes")).checkState() == Qt.Unchecked
    yield ctx.sleep(1.7)  # a refresh of the lists keeps the ticks and the content
    rep["content_after_refresh"] = content_combo.currentText().strip()
    choose(content_combo, "Swirls")
    widget(dock, QPushButton, "restyle_start").click()
    rep["refusal"] = status.text()
    choose(content_combo, "Photo")
    rep["status_after_fixing"] = status.text()
    connection = dock.connection
    rep["server_speed"] = repr(connection.speed)
    connection.speed = None  # as before the server has measured itself
    dock._show_estimates()
    rep["quality_labels_unmeasured"] = [widget(dock, QComboBox, "restyle_quality").itemText(i) for i in range(4)]
    dock._quality_chosen = False  # as in a fresh docker, where nobody has picked a quality yet
    from restyle_client.estimate import Speed

    connection.speed = Speed(iteration_s=0.05, megapixel_s=6.0)  # as a 2-core CPU server measures itself
    dock._show_estimates()
    quality = widget(dock, QComboBox, "restyle_quality")
    rep["quality_labels_measured"] = [quality.itemText(i) for i in range(quality.count())]
    rep["quality_default_measured"] = quality.currentText()
    connection.speed = None
    dock._show_estimates()
    iterations = widget(dock, QSpinBox, "restyle_iterations")
    rep["iterations_label"] = [label.text() for label in dock.findChildren(QLabel) if label.buddy() is iterations]
    doc.setModified(False)
    doc.close()


def results(ctx):
    """Two tries on one photo: the second lands on top with its own name; history; one undo step each."""
    rep = ctx.report["scenarios"]["results"]
    doc, view, content = make_document("results")
    yield ctx.sleep(0.2)
    dock = yield from docker_listing(ctx, doc, content)
    rep["before"] = layer_list(doc)
    finished = ("Done", "The server", "Restyle could", "No Restyle")
    first = yield from run_job(ctx, dock, doc, content, 3, finished)
    widget(dock, QSpinBox, "restyle_seed").setValue(5)
    second = yield from run_job(ctx, dock, doc, content, 3, finished)
    rep["statuses"] = [first[-1], second[-1]]
    rep["after_two"] = layer_list(doc)
    history = dock.findChild(QListWidget, "restyle_history_list")
    yield ctx.Wait(lambda: history.count() == 2, 10, "the history to list both results")
    rep["history"] = [history.item(i).text() for i in range(history.count())]
    rep["history_has_thumbnails"] = all(not history.item(i).icon().isNull() for i in range(history.count()))
    older = history.item(1)
    rect = history.visualItemRect(older)
    QTest.mouseClick(history.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    yield ctx.sleep(0.3)
    rep["visible_after_picking_older"] = {
        node.name(): node.visible() for node in doc.rootNode().childNodes() if "restyled" in node.name()
    }
    widget(dock, QSpinBox, "restyle_seed").setValue(99)
    history.setCurrentRow(0)
    widget(dock, QPushButton, "restyle_history_reuse").click()
    rep["seed_after_reuse"] = widget(dock, QSpinBox, "restyle_seed").value()
    undo = Krita.instance().action("edit_undo")
    doc.waitForDone()
    undo.trigger()
    yield ctx.sleep(0.5)
    doc.waitForDone()
    rep["after_one_undo"] = layer_list(doc)
    undo.trigger()
    yield ctx.sleep(0.5)
    doc.waitForDone()
    rep["after_two_undos"] = layer_list(doc)
    undo.trigger()
    yield ctx.sleep(0.5)
    doc.waitForDone()
    rep["after_three_undos"] = layer_list(doc)
    yield ctx.sleep(1.7)
    rep["history_after_undo"] = history.count()
    doc.setModified(False)
    doc.close()


def photo_document(name):
    """A real photograph with a real style image as a hidden layer (docs/images, free licences)."""
    app = Krita.instance()
    images = os.environ["RESTYLE_E2E_IMAGES"]
    photo = QImage(os.path.join(images, "coffee.png")).convertToFormat(QImage.Format_ARGB32)
    style = QImage(os.path.join(images, "deep-field.png")).convertToFormat(QImage.Format_ARGB32)
    doc = app.createDocument(photo.width(), photo.height(), name, "RGBA", "U8", "", 72.0)
    view = app.activeWindow().addView(doc)
    root = doc.rootNode()
    content = doc.createNode("Coffee", "paintlayer")
    root.addChildNode(content, None)
    content.setPixelData(qimage_bytes(photo), 0, 0, photo.width(), photo.height())
    deep = doc.createNode("Deep field", "paintlayer")
    root.addChildNode(deep, None)
    deep.setPixelData(qimage_bytes(style), 0, 0, style.width(), style.height())
    deep.setVisible(False)
    doc.refreshProjection()
    doc.waitForDone()
    return doc, view, content


def qimage_bytes(image):
    """ARGB32 is BGRA in memory on little-endian machines: Krita's own order."""
    ptr = image.constBits()
    ptr.setsize(image.byteCount())
    return bytes(ptr)


def showcase(ctx):
    """The README's screenshot: the docker at work on a photograph."""
    rep = ctx.report["scenarios"]["showcase"]
    dock = open_docker()
    make_room(tidy_window())  # the canvas has its final size before the photo's view opens, so Krita centres it
    yield ctx.sleep(0.5)
    doc, view, content = photo_document("Coffee")
    yield ctx.sleep(0.5)
    click_layer(doc, content)
    yield ctx.Wait(lambda: "Deep field" in offered_styles(dock), 10, "the docker to list the photo's layers")
    rep["zoom"] = view.canvas().zoomLevel()
    choose(widget(dock, QComboBox, "restyle_content"), "Coffee")
    tick_style(dock, "Deep field")
    choose(widget(dock, QComboBox, "restyle_quality"), "Draft")
    widget(dock, QCheckBox, "restyle_limit_selection").setChecked(False)
    widget(dock, QSpinBox, "restyle_seed").setValue(0)
    choose(widget(dock, QComboBox, "restyle_preserve_colors"), "(matched histogram)")
    widget(dock, QSpinBox, "restyle_iterations").setValue(2)
    start = widget(dock, QPushButton, "restyle_start")
    status = widget(dock, QLabel, "restyle_status")
    yield from press_start(ctx, dock, lambda text: not text.endswith("\u2026"), 90)  # a first try, for the history
    choose(widget(dock, QComboBox, "restyle_preserve_colors"), "The style's")
    widget(dock, QSpinBox, "restyle_iterations").setValue(8)
    progress = widget(dock, QProgressBar, "restyle_progress")
    shot = {}

    def watch():
        if "taken" not in shot and progress.value() >= 55 and node_named(doc, "Restyle preview") is not None:
            shot["taken"] = progress.value()
            screenshot(ctx, "krita-docker.png")
        return start.isEnabled() and status.text().startswith(("Done", "The", "Restyle"))

    rep["estimate"] = widget(dock, QComboBox, "restyle_quality").currentText()
    started = time.monotonic()
    start.click()
    yield ctx.Wait(watch, 120, "the photograph to be restyled")
    rep["seconds"] = round(time.monotonic() - started, 1)
    rep["shot_at"] = shot.get("taken")
    rep["status"] = widget(dock, QLabel, "restyle_status").text()
    yield ctx.sleep(0.3)
    screenshot(ctx, "krita-docker-done.png")
    doc.setModified(False)
    doc.close()
