"""Arrange an image as params.json says, run Restyle once, and record what GIMP holds.

params: image [w, h]; content {path, name, x, y}; style {path, name, x, y, visible};
selection [x, y, w, h] or null; arguments (procedure arguments; "@style" and
"@content" stand for those layers); export (bool); interactive (bool: show the dialog).
"""

from gimp_driver_common import Gimp, Gio, describe, guarded, load_layer, run_restyle, save_raw, write_report


def main(p):
    work = p["work"]
    w, h = p["image"]
    image = Gimp.Image.new(w, h, Gimp.ImageBaseType.RGB)
    style = load_layer(image, work + "/" + p["style"]["path"], p["style"]["name"],
                       p["style"]["x"], p["style"]["y"], 0)
    style.set_visible(p["style"].get("visible", False))
    content = load_layer(image, work + "/" + p["content"]["path"], p["content"]["name"],
                         p["content"]["x"], p["content"]["y"], 0)
    roles = {"style": style, "content": content}
    if p.get("selection"):
        Gimp.context_set_feather(False)
        Gimp.context_set_antialias(False)
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *p["selection"])
    save_raw(content, work + "/content-before.raw")
    arguments = {name: roles[value[1:]] if isinstance(value, str) and value.startswith("@") else value
                 for name, value in p["arguments"].items()}

    run = run_restyle(image, content, arguments, interactive=p.get("interactive", False))

    layers = [describe(image, layer) for layer in image.get_layers()]
    save_raw(content, work + "/content-after.raw")
    for layer in image.get_layers():
        if layer not in (style, content) and not layer.is_group():
            save_raw(layer, work + "/result.raw")
    if p.get("export"):
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(work + "/export.png"), None)
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(work + "/export.xcf"), None)
    write_report(work, {"run": run, "layers": layers,
                        "selection_empty": Gimp.Selection.is_empty(image)})


guarded(main)
