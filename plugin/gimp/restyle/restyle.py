#!/usr/bin/env python3
"""Restyle for GIMP 3: Filters > Artistic > Restyle...

The only file that touches GIMP (`gi`).  It reads layers and masks out of GIMP, hands
them to the plain modules beside it (request building, the server conversation) and
puts the answer back as new layers.  GIMP starts it as a script, so this folder is on
sys.path and the bundled `restyle_client` package imports as is.
"""

from __future__ import annotations

import sys
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GLib, GObject  # noqa: E402
from restyle_gimp_args import (  # noqa: E402
    ARGUMENTS,
    DIALOG_EXPANDERS,
    DIALOG_FRAMES,
    EXTRA_MASK_ARGUMENTS,
    MENU_LABEL,
    MENU_PATH,
    PROCEDURE_NAME,
    STYLE_ARGUMENTS,
    VALUE_ARGUMENTS,
)
from restyle_gimp_deps import install_hint, missing_packages  # noqa: E402

_RW = GObject.ParamFlags.READWRITE


# ---- registration ---------------------------------------------------------------


def _add_argument(procedure, arg) -> None:
    if arg.kind == "layer":
        procedure.add_layer_argument(arg.name, arg.nick, arg.blurb, True, _RW)
    elif arg.kind == "drawable":
        procedure.add_drawable_argument(arg.name, arg.nick, arg.blurb, True, _RW)
    elif arg.kind == "choice":
        choice = Gimp.Choice.new()
        for number, (value, label) in enumerate(arg.choices):
            choice.add(value, number, label, "")
        procedure.add_choice_argument(arg.name, arg.nick, arg.blurb, choice, arg.default, _RW)
    elif arg.kind == "double":
        procedure.add_double_argument(arg.name, arg.nick, arg.blurb, arg.minimum, arg.maximum, arg.default, _RW)
    elif arg.kind == "int":
        procedure.add_int_argument(arg.name, arg.nick, arg.blurb, int(arg.minimum), int(arg.maximum), arg.default, _RW)
    elif arg.kind == "boolean":
        procedure.add_boolean_argument(arg.name, arg.nick, arg.blurb, arg.default, _RW)
    elif arg.kind == "string":
        procedure.add_string_argument(arg.name, arg.nick, arg.blurb, arg.default, _RW)
    else:
        raise ValueError(f"unknown argument kind {arg.kind!r}")


class Restyle(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROCEDURE_NAME]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _run, None)
        procedure.set_image_types("RGB*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label(MENU_LABEL)
        procedure.add_menu_path(MENU_PATH)
        procedure.set_documentation(
            "Repaint a layer in the style of another layer",
            "Neural style transfer by a Restyle server (run `restyle serve`). The result is a "
            "new layer above the content layer, named after the style; the content layer is "
            "left as it is. The selection, or a chosen layer or channel, limits the change.",
            name,
        )
        procedure.set_attribution("Restyle", "Restyle contributors", "2026")
        for arg in ARGUMENTS:
            _add_argument(procedure, arg)
        return procedure


# ---- running ----------------------------------------------------------------------


def _fail(procedure, message, status=Gimp.PDBStatusType.EXECUTION_ERROR):
    return procedure.new_return_values(status, GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0))


def _run(procedure, run_mode, image, drawables, config, run_data):
    if run_mode == Gimp.RunMode.INTERACTIVE:
        _preselect_style(image, drawables, config)
        if not _dialog(procedure, config, _time_note(drawables, config)):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    missing = missing_packages()
    if missing:
        return _fail(procedure, install_hint(missing))
    if len(drawables) != 1 or not isinstance(drawables[0], Gimp.Layer):
        return _fail(
            procedure, "Select exactly one layer to restyle (not a mask or channel)", Gimp.PDBStatusType.CALLING_ERROR
        )
    from restyle_client.request import RequestError
    from restyle_client.settings import JobError

    try:
        status = _restyle(image, drawables[0], config, run_mode == Gimp.RunMode.INTERACTIVE)
    except (JobError, RequestError) as exc:
        return _fail(procedure, str(exc))
    except Exception as exc:  # a bug: say what broke in the dialog, keep the trace for reports
        traceback.print_exc()
        return _fail(procedure, f"Restyle failed: {type(exc).__name__}: {exc}")
    Gimp.displays_flush()
    return procedure.new_return_values(status, GLib.Error())


def _preselect_style(image, drawables, config):
    """Start the dialog with some other layer as the style, not an empty chooser."""
    if config.get_property("style-layer") is not None:
        return
    others = [layer for layer in image.get_layers() if layer not in drawables]
    if others:
        config.set_property("style-layer", others[0])


def _time_note(drawables, config):
    """Each working size with its time on the server, when one answers at once; the size
    set to a quick one when the layer's own size would take long there."""
    if len(drawables) != 1 or missing_packages() or config.get_property("server-key-file"):
        return None
    from restyle_gimp_estimate import note, server_speed, suggested_size

    width, height = drawables[0].get_width(), drawables[0].get_height()
    iterations = config.get_property("iterations") or None
    speed = server_speed(config.get_property("endpoint"))
    size = suggested_size(width, height, speed, iterations, config.get_property("size"))
    config.set_property("size", size)
    return note(width, height, speed, iterations)


def _dialog(procedure, config, time_note=None) -> bool:
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi

    GimpUi.init(PROCEDURE_NAME)
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title="Restyle")
    if time_note:
        label = dialog.get_label("time-note", time_note, False, False)
        for call, value in (("set_line_wrap", True), ("set_max_width_chars", 48), ("set_xalign", 0.0)):
            if hasattr(label, call):
                getattr(label, call)(value)
    containers = []
    for fill, groups in ((dialog.fill_frame, DIALOG_FRAMES), (dialog.fill_expander, DIALOG_EXPANDERS)):
        for container, title, names in groups:
            dialog.get_label(f"{container}-title", title, False, False)
            if time_note and "size" in names:
                names = (*names[: names.index("size") + 1], "time-note", *names[names.index("size") + 1 :])
            dialog.fill_box(f"{container}-box", list(names))
            fill(container, f"{container}-title", False, f"{container}-box")
            containers.append(container)
    only_for_drawable = Gimp.ValueArray.new(1)
    only_for_drawable.append(GObject.Value(GObject.TYPE_STRING, "drawable"))
    dialog.set_sensitive_if_in("mask-drawable", None, "mask-source", only_for_drawable, True)
    dialog.fill(containers)
    ok = dialog.run()
    dialog.destroy()
    return bool(ok)


def _restyle(image, content, config, interactive=False):
    from restyle_client import watchdog
    from restyle_client.client import Client, new_routing_id
    from restyle_client.geometry import Rect
    from restyle_client.request import Region, Style
    from restyle_gimp_job import PluginError, build_request, parse_settings
    from restyle_gimp_keys import load_keys
    from restyle_gimp_pixels import sample_for_precision
    from restyle_gimp_session import reach_server, run_job

    settings = parse_settings({name: config.get_property(name) for name in VALUE_ARGUMENTS})
    sample = sample_for_precision(image.get_precision().value_nick)
    _ok, x, y = content.get_offsets()
    area = Rect(x, y, content.get_width(), content.get_height())

    regions, style_names = [], []
    for number, (style_arg, mask_arg) in enumerate(zip(STYLE_ARGUMENTS, EXTRA_MASK_ARGUMENTS, strict=True)):
        style_layer = config.get_property(style_arg)
        if style_layer is None:
            if number == 0:
                raise PluginError("Choose a style layer")
            continue
        if number == 0:
            mask = _first_mask(image, area, settings.mask_source, config.get_property("mask-drawable"))
        else:
            chosen = config.get_property(mask_arg)
            mask = _drawable_mask(chosen, area) if chosen is not None else None
        name = style_layer.get_name()
        regions.append(Region([Style(_read_color(style_layer, "u8"), 1.0, name)], mask))
        style_names.append(name)

    request = build_request(_read_color(content, sample), regions, settings)
    keys = load_keys(settings)
    curve = {"server_public_key": keys[0], "client_keys": keys[1]} if keys else {}
    # Our routing id is shared with the watchdog, which speaks for us once GIMP kills us.
    routing_id = new_routing_id()
    client = Client(settings.endpoint, name="restyle-gimp", routing_id=routing_id, **curve)
    changes = _Changes(image, content, style_names)
    Gimp.progress_init("Restyle")
    try:
        _ensure_weights(client, changes, keys is not None, interactive)
        reach_server(client, changes, with_keys=keys is not None)
        outcome = run_job(
            client,
            request,
            changes,
            keep_frames=settings.keep_frames,
            watch=lambda job_id: watchdog.start(settings.endpoint, routing_id, job_id, **curve),
        )
        changes.result(outcome.result, outcome.cancelled)
    finally:
        changes.close()
        client.close()
        Gimp.progress_end()
    return Gimp.PDBStatusType.CANCEL if outcome.cancelled else Gimp.PDBStatusType.SUCCESS


def _ensure_weights(client, changes, with_keys, interactive):
    """VGG19's weights before a server that needs them is started (restyle_gimp_weights)."""
    from restyle_client import launcher
    from restyle_client.client import ServerUnavailable
    from restyle_gimp_job import PluginError
    from restyle_gimp_weights import get_weights, missing, script_text

    target = missing(client.endpoint, launcher.load(), with_keys)
    if target is None:
        return
    try:
        client.hello(timeout=3.0)
        return  # a server answers, so it has its weights
    except ServerUnavailable:
        pass
    if not interactive:
        raise PluginError(script_text(target))
    get_weights(target, _ask_weights, _pick_weights, changes.status)


def _ask_weights(text):
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk
    from restyle_client.weights_setup import SIZE_TEXT
    from restyle_gimp_weights import Choice

    dialog = Gtk.MessageDialog(
        message_type=Gtk.MessageType.QUESTION, buttons=Gtk.ButtonsType.NONE, text="Needed once: the network's weights"
    )
    dialog.set_title("Restyle: VGG19's weights")
    dialog.format_secondary_text(text)
    dialog.add_buttons("_Cancel", Gtk.ResponseType.CANCEL, "_Use a file I have\u2026", 2, f"_Download ({SIZE_TEXT})", 1)
    dialog.set_default_response(1)
    response = dialog.run()
    dialog.destroy()
    return {1: Choice.DOWNLOAD, 2: Choice.PICK}.get(response, Choice.CANCEL)


def _pick_weights():
    from pathlib import Path

    from gi.repository import Gtk
    from restyle_client.weights_setup import FILE

    chooser = Gtk.FileChooserDialog(title=f"Pick a copy of {FILE}", action=Gtk.FileChooserAction.OPEN)
    chooser.add_buttons("_Cancel", Gtk.ResponseType.CANCEL, "_Open", Gtk.ResponseType.ACCEPT)
    weights = Gtk.FileFilter()
    weights.set_name("PyTorch weights (*.pth, *.pt)")
    weights.add_pattern("*.pth")
    weights.add_pattern("*.pt")
    chooser.add_filter(weights)
    path = chooser.get_filename() if chooser.run() == Gtk.ResponseType.ACCEPT else None
    chooser.destroy()
    return Path(path) if path else None


# ---- pixels in --------------------------------------------------------------------


def _read_color(drawable, sample):
    from restyle_gimp_pixels import babl_format, color_pixels

    width, height = drawable.get_width(), drawable.get_height()
    has_alpha = drawable.has_alpha()
    data = drawable.get_buffer().get(
        Gegl.Rectangle.new(0, 0, width, height), 1.0, babl_format(4 if has_alpha else 3, sample), Gegl.AbyssPolicy.CLAMP
    )
    return color_pixels(width, height, has_alpha, sample, bytes(data))


def _first_mask(image, area, source, drawable):
    from restyle_gimp_job import PluginError

    if source == "none":
        return None
    if source == "selection":
        return None if Gimp.Selection.is_empty(image) else _selection_mask(image, area)
    if drawable is None:
        raise PluginError("'Restyle where' is set to a mask layer or channel, but none is chosen")
    return _drawable_mask(drawable, area)


def _selection_mask(image, area):
    from restyle_client.geometry import Rect
    from restyle_gimp_pixels import MASK_FORMAT, mask_pixels, place_mask

    read = area.intersect(Rect(0, 0, image.get_width(), image.get_height()))
    data = b""
    if not read.empty:
        data = bytes(
            image.get_selection()
            .get_buffer()
            .get(Gegl.Rectangle.new(read.x, read.y, read.width, read.height), 1.0, MASK_FORMAT, Gegl.AbyssPolicy.NONE)
        )
    else:
        read = Rect(area.x, area.y, 0, 0)
    return mask_pixels(place_mask(data, read, area), area)


def _drawable_mask(drawable, area):
    from restyle_client.geometry import Rect
    from restyle_gimp_pixels import LAYER_AS_MASK_FORMAT, MASK_FORMAT, gray_alpha_to_mask, mask_pixels, place_mask

    _ok, x, y = drawable.get_offsets()
    read = Rect(x, y, drawable.get_width(), drawable.get_height()).intersect(area)
    data = b""
    if read.empty:
        read = Rect(area.x, area.y, 0, 0)
    else:
        is_channel = isinstance(drawable, Gimp.Channel)
        raw = bytes(
            drawable.get_buffer().get(
                Gegl.Rectangle.new(read.x - x, read.y - y, read.width, read.height),
                1.0,
                MASK_FORMAT if is_channel else LAYER_AS_MASK_FORMAT,
                Gegl.AbyssPolicy.NONE,
            )
        )
        data = raw if is_channel else gray_alpha_to_mask(raw)
    return mask_pixels(place_mask(data, read, area), area)


# ---- layers out -------------------------------------------------------------------


def _all_layers(image):
    """Every layer of the image, inside groups too: result names are unique in the image."""
    pending, found = list(image.get_layers()), []
    while pending:
        layer = pending.pop()
        found.append(layer)
        if layer.is_group():
            pending.extend(layer.get_children())
    return found


class _Changes:
    """Everything the job adds to the image: one undo group, begun at the first change.

    Also the session's sink, so progress and the drawing frames land here as they come.
    """

    def __init__(self, image, content, style_names):
        self.image, self.content, self.style_names = image, content, style_names
        self.group = None
        self.undo_open = False

    def status(self, text, fraction):
        Gimp.progress_set_text(text)
        if fraction is None:
            Gimp.progress_pulse()
        else:
            Gimp.progress_update(fraction)

    def frame(self, index, pixels):
        from restyle_client.texts import frame_layer_name, next_frames_name

        if self.group is None:
            self._begin()
            taken = [layer.get_name() for layer in _all_layers(self.image)]
            self.group = Gimp.GroupLayer.new(self.image, next_frames_name(self.style_names, taken))
            self.image.insert_layer(self.group, self.content.get_parent(), self._top_of_results())
        layer = self._layer(frame_layer_name(index), pixels, self.group, 0)
        if (layer.get_width(), layer.get_height()) != (self.content.get_width(), self.content.get_height()):
            layer.scale(self.content.get_width(), self.content.get_height(), False)
            _ok, x, y = self.content.get_offsets()
            layer.set_offsets(x, y)
        Gimp.displays_flush()

    def result(self, pixels, cancelled):
        """On top of the content's earlier results (and this job's frames), named apart from them."""
        from restyle_client.texts import next_result_name

        self._begin()
        name = next_result_name(self.style_names, cancelled, [layer.get_name() for layer in _all_layers(self.image)])
        self._layer(name, pixels, self.content.get_parent(), self._top_of_results())

    def _top_of_results(self):
        """The stack position right above the content's earlier results: 0 is the top."""
        from restyle_client.stacking import earlier_results

        parent = self.content.get_parent()
        siblings = parent.get_children() if parent is not None else self.image.get_layers()  # top first
        position = self.image.get_item_position(self.content)
        above = [layer.get_name() for layer in reversed(siblings[:position])]  # nearest first
        return position - earlier_results(above)

    def close(self):
        if self.undo_open:
            self.image.undo_group_end()
            self.undo_open = False

    def _begin(self):
        if not self.undo_open:
            self.image.undo_group_start()
            self.undo_open = True

    def _layer(self, name, pixels, parent, position):
        from restyle_gimp_pixels import babl_format

        layer = Gimp.Layer.new(
            self.image, name, pixels.width, pixels.height, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL
        )
        self.image.insert_layer(layer, parent, position)
        _ok, x, y = self.content.get_offsets()
        layer.set_offsets(x, y)
        buffer = layer.get_buffer()
        buffer.set(
            Gegl.Rectangle.new(0, 0, pixels.width, pixels.height),
            babl_format(pixels.channels, pixels.sample),
            pixels.data,
        )
        buffer.flush()
        layer.update(0, 0, pixels.width, pixels.height)
        return layer


Gimp.main(Restyle.__gtype__, sys.argv)
