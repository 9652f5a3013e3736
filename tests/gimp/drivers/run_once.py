"""Arrange an image as params.json says, run Restyle once, and record what GIMP holds.

params: image [w, h]; content {path, name, x, y}; style {path, name, x, y, visible};
selection [x, y, w, h] or null; arguments (procedure arguments; "@style" and
"@content" stand for those layers); export (bool); interactive (bool: show the dialog);
channels and mask_layers ({name, rect}: made before the selection, usable as "@name");
precision (a Gimp.Precision name) with content_raw (raw pixels in raw_format that replace
the content's after loading); raw_format (how layers are saved for the host);
content_size [w, h]: the content is a new layer of that size, filled from content_raw
(for layers too large for a file GIMP loads quickly); digests (bool): layers are reported
by their SHA-256 instead of saved, for layers of hundreds of MB.
"""

import hashlib

from gimp_driver_common import (
    PIXELS,
    Gimp,
    Gio,
    describe,
    fill_bytes,
    fill_raw,
    guarded,
    load_layer,
    raw_bytes,
    run_restyle,
    save_raw,
    write_report,
)


def main(p):
    work = p["work"]
    w, h = p["image"]
    precision = getattr(Gimp.Precision, p.get("precision", "U8_NON_LINEAR"))
    raw_format = p.get("raw_format", PIXELS)
    image = Gimp.Image.new_with_precision(w, h, Gimp.ImageBaseType.RGB, precision)
    style = load_layer(image, work + "/" + p["style"]["path"], p["style"]["name"], p["style"]["x"], p["style"]["y"], 0)
    style.set_visible(p["style"].get("visible", False))
    if p.get("content_size"):
        cw, ch = p["content_size"]
        content = Gimp.Layer.new(image, p["content"]["name"], cw, ch, Gimp.ImageType.RGBA_IMAGE, 100.0,
                                 Gimp.LayerMode.NORMAL)
        image.insert_layer(content, None, 0)
        content.set_offsets(p["content"]["x"], p["content"]["y"])
    else:
        content = load_layer(
            image, work + "/" + p["content"]["path"], p["content"]["name"], p["content"]["x"], p["content"]["y"], 0
        )
    if p.get("content_raw"):
        fill_raw(content, work + "/" + p["content_raw"], p["content_raw_format"])
    roles = {"style": style, "content": content}
    for spec in p.get("channels", []):  # saved selections
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *spec["rect"])
        channel = Gimp.Selection.save(image)
        channel.set_name(spec["name"])
        roles[spec["name"]] = channel
    Gimp.Selection.none(image)
    for spec in p.get("mask_layers", []):  # hidden layers, opaque white where they mask
        x, y, mw, mh = spec["rect"]
        mask = Gimp.Layer.new(image, spec["name"], mw, mh, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
        image.insert_layer(mask, None, len(image.get_layers()))
        mask.set_offsets(x, y)
        mask.set_visible(False)
        fill_bytes(mask, bytes([255]) * (mw * mh * 4), PIXELS)
        roles[spec["name"]] = mask
    if p.get("selection"):
        Gimp.context_set_feather(False)
        Gimp.context_set_antialias(False)
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *p["selection"])
    digests = {}

    def keep(layer, path, pixel_format):
        if p.get("digests"):
            digests[path.rsplit("/", 1)[1]] = hashlib.sha256(raw_bytes(layer, pixel_format)).hexdigest()
        else:
            save_raw(layer, path, pixel_format)

    keep(content, work + "/content-before.raw", raw_format)
    arguments = {
        name: roles[value[1:]] if isinstance(value, str) and value.startswith("@") else value
        for name, value in p["arguments"].items()
    }

    existing = set(image.get_layers())
    for _ in range(p.get("runs_before", 0)):  # earlier tries on the same content
        run_restyle(image, content, arguments)
    run = run_restyle(image, content, arguments, interactive=p.get("interactive", False))
    undo = undo_from_the_keyboard(image) if p.get("undo_in_display") else None

    layers = [describe(image, layer) for layer in image.get_layers()]
    keep(content, work + "/content-after.raw", raw_format)
    for layer in image.get_layers() if undo is None else ():  # an undone layer has no pixels left to read
        if layer not in existing and not layer.is_group():
            keep(layer, work + "/result.raw", raw_format)
    if p.get("export"):
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(work + "/export.png"), None)
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(work + "/export.xcf"), None)
    write_report(
        work,
        {
            "run": run,
            "layers": layers,
            "precision": image.get_precision().value_nick,
            "selection_empty": Gimp.Selection.is_empty(image),
            "undo": undo,
            "digests": digests,
        },
    )


def undo_from_the_keyboard(image):
    """Show the image; the host presses Ctrl+Z in its window (GIMP's PDB has no undo).

    GIMP's core handles the key while this plug-in waits, so the layers are read again
    until they change.  What one Ctrl+Z took away is what the run added in one step.
    """
    import time

    before = [describe(image, layer)["name"] for layer in image.get_layers()]
    display = Gimp.Display.new(image)
    Gimp.displays_flush()
    deadline = time.monotonic() + 60
    after = before
    while time.monotonic() < deadline and after == before:
        time.sleep(0.1)
        after = [describe(image, layer)["name"] for layer in image.get_layers()]
    image.set_file(Gio.File.new_for_path("/tmp/undone.xcf"))  # the window's title tells the host to stop
    Gimp.displays_flush()
    time.sleep(1.5)
    after = [describe(image, layer)["name"] for layer in image.get_layers()]
    return {"before": before, "after": after, "display": display.get_id()}


guarded(main)
