"""Helpers for the test drivers that run inside GIMP (python-fu-eval).

The drivers only arrange an image, call the procedure as a script would, and write
down what GIMP then holds (report.json, raw layer bytes, exported files); every
judgement is made by the tests on the host.
"""

import json
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

PROCEDURE = "python-fu-restyle"
PIXELS = "R'G'B'A u8"


def params():
    import sys

    work = sys.path[0]
    with open(work + "/params.json") as f:
        return json.load(f)


def load_layer(image, path, name, x, y, position):
    layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(path))
    layer.set_name(name)
    image.insert_layer(layer, None, position)
    layer.set_offsets(x, y)
    return layer


def describe(image, layer):
    _ok, x, y = layer.get_offsets()
    parent = layer.get_parent()
    return {
        "name": layer.get_name(),
        "x": x,
        "y": y,
        "width": layer.get_width(),
        "height": layer.get_height(),
        "position": image.get_item_position(layer),
        "parent": parent.get_name() if parent else None,
        "group": layer.is_group(),
        "children": [describe(image, c) for c in layer.get_children()] if layer.is_group() else [],
    }


def raw_bytes(layer, pixel_format=PIXELS):
    w, h = layer.get_width(), layer.get_height()
    return bytes(layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, pixel_format, Gegl.AbyssPolicy.CLAMP))


def save_raw(layer, path, pixel_format=PIXELS):
    """The layer's pixels as raw bytes (R'G'B'A u8 unless told), for exact comparisons."""
    with open(path, "wb") as f:
        f.write(raw_bytes(layer, pixel_format))


def fill_raw(layer, path, pixel_format):
    with open(path, "rb") as f:
        fill_bytes(layer, f.read(), pixel_format)


def fill_bytes(layer, data, pixel_format):
    w, h = layer.get_width(), layer.get_height()
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), pixel_format, data)
    buffer.flush()


def run_restyle(image, content, arguments, interactive=False):
    """Call the procedure as a batch script would, or as the menu does (with its dialog)."""
    procedure = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    if procedure is None:
        return {"status": "NOT_REGISTERED", "error": ""}
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.INTERACTIVE if interactive else Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [content])
    for name, value in arguments.items():
        config.set_property(name, value)
    result = procedure.run(config)
    status = result.index(0)
    message = Gimp.get_pdb().get_last_error() if status != Gimp.PDBStatusType.SUCCESS else ""
    return {
        "status": status.value_nick.upper().replace("-", "_"),
        "error": message,
        "menu_paths": list(procedure.get_menu_paths()),
        "menu_label": procedure.get_menu_label(),
    }


def write_report(work, report):
    with open(work + "/report.json", "w") as f:
        json.dump(report, f, indent=1)


def guarded(main):
    """Run the driver; any exception still ends up in the report."""
    p = params()
    try:
        main(p)
    except Exception:
        write_report(p["work"], {"driver_error": traceback.format_exc()})
