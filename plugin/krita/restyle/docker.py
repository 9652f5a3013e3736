"""The Restyle docker: the controls an artist sees, and the wiring from them to a job."""

from __future__ import annotations

from krita import DockWidget, Krita
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from restyle_client.request import RequestError, Style

from . import config as config_mod
from . import connection as conn_mod
from . import jobspec
from . import layers as ly
from . import pixels as px
from .job import RestyleJob

DOCKER_ID = "restyle_docker"
SELECTION = "selection"
IDLE_TEXT = "Pick a style layer, then Start."


def _spin(box, low, high, step, value):
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class RegionRow(QWidget):
    """One region: where (a mask source) and which style."""

    def __init__(self, index: int, on_remove) -> None:
        super().__init__()
        self.setObjectName(f"restyle_region_{index}")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.mask = QComboBox(objectName=f"restyle_region_{index}_mask")
        self.mask.setToolTip("Where this region's style goes")
        self.style = QComboBox(objectName=f"restyle_region_{index}_style")
        self.style.setToolTip("The style for this region")
        remove = QToolButton(text="\u2715", objectName=f"restyle_region_{index}_remove")
        remove.setToolTip("Remove this region")
        remove.clicked.connect(lambda: on_remove(self))
        row.addWidget(self.mask, 3)
        row.addWidget(QLabel("\u2192"))
        row.addWidget(self.style, 3)
        row.addWidget(remove)


class RestyleDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Restyle")
        self.server_config = config_mod.load()
        self.jobs: dict[str, RestyleJob] = {}  # by document: each document runs its own job
        self.connection: conn_mod.Connection | None = None
        self._signature: tuple = ()
        self._active_id: str | None = None
        self._regions: list[RegionRow] = []
        self._build()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.timeout.connect(self.refresh_layers)
        self._refresh_timer.start(1500)
        QTimer.singleShot(0, self._use_endpoint)

    # --- building ---------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget()
        col = QVBoxLayout(body)
        form = QFormLayout()
        self.content = QComboBox(objectName="restyle_content")
        self.content.setToolTip("The layer to repaint; it is never changed")
        form.addRow("Content layer", self.content)
        self.styles = QListWidget(objectName="restyle_styles")
        self.styles.setToolTip("Tick one or more layers whose look to copy")
        self.styles.setMaximumHeight(110)
        form.addRow("Style layers", self.styles)
        self.limit = QCheckBox("Only change the selected area", objectName="restyle_limit_selection")
        self.limit.setChecked(True)
        form.addRow("", self.limit)
        col.addLayout(form)

        regions = QGroupBox("Regions (optional)")
        self.regions_box = QVBoxLayout(regions)
        add = QPushButton("Add region", objectName="restyle_add_region")
        add.setToolTip("Give part of the picture its own style")
        add.clicked.connect(self.add_region)
        self.regions_box.addWidget(add)
        col.addWidget(regions)

        look = QFormLayout()
        self.strength = _spin(QDoubleSpinBox(objectName="restyle_strength", decimals=2), 0.0, 1.0, 0.05, 0.5)
        self.strength.setToolTip("0 keeps the content, 1 is all style")
        look.addRow("Strength", self.strength)
        self.style_scale = _spin(QDoubleSpinBox(objectName="restyle_style_scale", decimals=2), 0.1, 8.0, 0.1, 1.0)
        self.style_scale.setToolTip("Bigger makes the style's brush strokes and textures larger")
        look.addRow("Style scale", self.style_scale)
        self.quality = QComboBox(objectName="restyle_quality")
        for label, _ in jobspec.PRESETS:
            self.quality.addItem(label)
        self.quality.setCurrentIndex(jobspec.DEFAULT_PRESET)
        self.quality.setToolTip("The size the server works at; the result always has the layer's size")
        look.addRow("Quality", self.quality)
        self.preserve = QComboBox(objectName="restyle_preserve_colors")
        for label, value in jobspec.PRESERVE_COLORS:
            self.preserve.addItem(label, value)
        look.addRow("Keep colours", self.preserve)
        self.seed = _spin(QSpinBox(objectName="restyle_seed"), 0, 2**31 - 1, 1, 0)
        self.seed.setToolTip("Another seed gives another variation")
        look.addRow("Seed", self.seed)
        self.iterations = _spin(QSpinBox(objectName="restyle_iterations"), 0, 5000, 10, 0)
        self.iterations.setSpecialValueText("automatic")
        self.iterations.setToolTip("Iterations per stage; automatic suits most pictures")
        look.addRow("Iterations", self.iterations)
        col.addLayout(look)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start", objectName="restyle_start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", objectName="restyle_cancel", enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        col.addLayout(buttons)
        self.progress = QProgressBar(objectName="restyle_progress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        col.addWidget(self.progress)
        self.status = QLabel(IDLE_TEXT, objectName="restyle_status", wordWrap=True)
        col.addWidget(self.status)

        server = QHBoxLayout()
        self.connection_label = QLabel("Server: not checked yet", objectName="restyle_connection", wordWrap=True)
        self.connection_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        server.addWidget(self.connection_label, 1)
        check = QToolButton(text="\u27f3", objectName="restyle_check_server")
        check.setToolTip("Check the connection to the server again")
        check.clicked.connect(self._use_endpoint)
        server.addWidget(check)
        col.addLayout(server)
        self.endpoint = QLineEdit(self.server_config.endpoint, objectName="restyle_endpoint")
        self.endpoint.setToolTip("Where the Restyle server listens (set by install.py)")
        self.endpoint.editingFinished.connect(self._use_endpoint)
        endpoint_row = QFormLayout()
        endpoint_row.addRow("Server", self.endpoint)
        col.addLayout(endpoint_row)
        col.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.setWidget(scroll)

    # --- Krita hooks --------------------------------------------------------------------

    def canvasChanged(self, canvas) -> None:  # noqa: N802 (Krita's name)
        self._signature = ()
        self._active_id = None
        self.refresh_layers()
        self._show_job()

    def document(self):
        return Krita.instance().activeDocument()

    # --- layer lists --------------------------------------------------------------------

    def refresh_layers(self) -> None:
        """Keep the lists in step with the document; the content follows the current layer."""
        doc = self.document()
        layer_list = ly.layers(doc) if doc is not None else []
        mask_list = ly.masks(doc) if doc is not None else []
        signature = (
            doc.fileName() if doc is not None else None,
            tuple((ly.node_id(n), n.name(), d) for n, d in layer_list),
            tuple((ly.node_id(n), n.name()) for n, _ in mask_list),
        )
        if signature != self._signature:
            self._signature = signature
            self._fill_layers(self.content, layer_list, keep=True)
            checked = {
                self.styles.item(i).data(Qt.UserRole)
                for i in range(self.styles.count())
                if self.styles.item(i).checkState() == Qt.Checked
            }
            self.styles.clear()
            for node, depth in layer_list:
                item = QListWidgetItem("    " * depth + node.name())
                item.setData(Qt.UserRole, ly.node_id(node))
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked if ly.node_id(node) in checked else Qt.Unchecked)
                self.styles.addItem(item)
            for row in self._regions:
                self._fill_region(row, layer_list, mask_list)
        active = doc.activeNode() if doc is not None else None
        active_id = ly.node_id(active) if active is not None and active.type() in ly.LAYER_TYPES else None
        if active_id != self._active_id:
            self._active_id = active_id
            index = self.content.findData(active_id) if active_id else -1
            if index >= 0:
                self.content.setCurrentIndex(index)

    def _fill_layers(self, combo: QComboBox, layer_list, keep: bool) -> None:
        current = combo.currentData() if keep else None
        combo.blockSignals(True)
        combo.clear()
        for node, depth in layer_list:
            combo.addItem("    " * depth + node.name(), ly.node_id(node))
        index = combo.findData(current) if current else -1
        combo.setCurrentIndex(index if index >= 0 else 0)
        combo.blockSignals(False)

    def _fill_region(self, row: RegionRow, layer_list, mask_list) -> None:
        current = row.mask.currentData()
        row.mask.clear()
        row.mask.addItem("Current selection", (SELECTION, ""))
        for node, _ in layer_list:
            row.mask.addItem(f"Opaque parts of \u201c{node.name()}\u201d", ("alpha", ly.node_id(node)))
            row.mask.addItem(f"Light parts of \u201c{node.name()}\u201d", ("grey", ly.node_id(node)))
        for node, _ in mask_list:
            row.mask.addItem(f"Mask \u201c{node.name()}\u201d", ("mask", ly.node_id(node)))
        index = row.mask.findData(current) if current else -1
        row.mask.setCurrentIndex(max(0, index))
        self._fill_layers(row.style, layer_list, keep=True)

    def add_region(self) -> RegionRow:
        row = RegionRow(len(self._regions), self._remove_region)
        self.regions_box.insertWidget(self.regions_box.count() - 1, row)
        self._regions.append(row)
        doc = self.document()
        if doc is not None:
            self._fill_region(row, ly.layers(doc), ly.masks(doc))
        return row

    def _remove_region(self, row: RegionRow) -> None:
        self._regions.remove(row)
        row.setParent(None)
        row.deleteLater()

    # --- server -------------------------------------------------------------------------

    def _use_endpoint(self) -> None:
        endpoint = self.endpoint.text().strip() or self.server_config.endpoint
        if self.connection is not None and self.connection.endpoint == endpoint:
            self.connection.check()
            return
        if self.connection is not None:
            self.connection.stateChanged.disconnect(self._show_connection)
        self.connection = conn_mod.get(endpoint)
        self.connection.stateChanged.connect(self._show_connection)
        self.connection.check()

    def _show_connection(self, state: str, detail: str) -> None:
        self.connection_label.setText(detail)
        self.connection_label.setProperty("state", state)

    # --- running ------------------------------------------------------------------------

    def settings(self) -> jobspec.Settings:
        return jobspec.Settings(
            strength=self.strength.value(),
            style_scale=self.style_scale.value(),
            preset=self.quality.currentIndex(),
            preserve_colors=self.preserve.currentData(),
            seed=self.seed.value(),
            iterations=self.iterations.value() or None,
        )

    def current_job(self) -> RestyleJob | None:
        doc = self.document()
        return self.jobs.get(ly.document_key(doc)) if doc is not None else None

    def start(self) -> None:
        job = self.current_job()
        if job is not None and not job.done:
            return
        self.refresh_layers()
        try:
            job, request = self._prepare()
        except (ly.LayerError, px.UnsupportedFormat, RequestError, ValueError) as exc:
            self._say(str(exc))
            return
        self._use_endpoint_quietly()
        self.jobs[job.key] = job
        job.say("Connecting to the server\u2026")
        self._show_job()
        self.connection.ensure_server(lambda: self._submit(job, request), lambda why: self._not_started(job, why))

    def _use_endpoint_quietly(self) -> None:
        endpoint = self.endpoint.text().strip() or self.server_config.endpoint
        if self.connection is None or self.connection.endpoint != endpoint:
            self._use_endpoint()

    def _prepare(self) -> tuple[RestyleJob, object]:
        doc = self.document()
        if doc is None:
            raise ly.LayerError("Open a document first.")
        content = ly.find_node(doc, self.content.currentData() or "")
        if content is None:
            raise ly.LayerError("Pick the content layer to restyle.")
        style_nodes = []
        for i in range(self.styles.count()):
            item = self.styles.item(i)
            if item.checkState() == Qt.Checked:
                node = ly.find_node(doc, item.data(Qt.UserRole))
                if node is not None:
                    style_nodes.append(node)
        if not style_nodes and not self._regions:
            raise ly.LayerError("Tick at least one style layer.")
        if any(ly.node_id(n) == ly.node_id(content) for n in style_nodes):
            raise ly.LayerError("The content layer cannot also be its own style.")
        wire, rect, native = ly.read_layer(content)
        styles = [Style(ly.read_layer(n)[0], 1.0, n.name()) for n in style_nodes]
        regions = []
        names = [n.name() for n in style_nodes]
        for row in self._regions:
            kind, uid = row.mask.currentData() or (SELECTION, "")
            style_node = ly.find_node(doc, row.style.currentData() or "")
            if style_node is None:
                raise ly.LayerError("Each region needs a style layer.")
            plane = self._region_plane(doc, kind, uid, rect)
            mask = px.mask_pixels(plane, rect.width, rect.height) if plane is not None else None
            if mask is None:
                raise ly.LayerError(
                    f"The region \u201c{row.mask.currentText()}\u201d covers nothing of the content layer."
                )
            regions.append((mask, [Style(ly.read_layer(style_node)[0], 1.0, style_node.name())]))
            names.append(style_node.name())
        plane = ly.selection_plane(doc, rect) if self.limit.isChecked() else None
        request = jobspec.build_request(wire, styles, regions, self.settings())
        job = RestyleJob(doc, content, rect, content.colorDepth(), native, plane, names)
        job.changed.connect(lambda j=job: self._show_job() if j is self.current_job() else None)
        return job, request

    def _region_plane(self, doc, kind: str, uid: str, rect: ly.Rect) -> bytes | None:
        if kind == SELECTION:
            plane = ly.selection_plane(doc, rect)
            if plane is None:
                raise ly.LayerError("A region uses the current selection, but nothing is selected.")
            return plane
        node = ly.find_node(doc, uid)
        if node is None:
            raise ly.LayerError("A region's mask layer no longer exists.")
        if kind == "alpha":
            return ly.layer_alpha_plane(node, rect)
        if kind == "grey":
            return ly.layer_gray_plane(node, rect)
        return ly.mask_node_plane(node, rect)

    def _submit(self, job: RestyleJob, request) -> None:
        if job.done:
            return
        try:
            job.start(self.connection, request)
        except Exception as exc:  # RequestError, or a socket that cannot send
            job.fail(f"The request was not sent: {exc}")

    def _not_started(self, job: RestyleJob, why: str) -> None:
        job.fail(why)

    def cancel(self) -> None:
        job = self.current_job()
        if job is None or job.done:
            return
        if job.job_id is None:
            job.fail("Cancelled before the server started the job.")
        else:
            job.cancel()

    def _show_job(self) -> None:
        """The controls show the job of the document in front; other documents' jobs run on."""
        job = self.current_job()
        busy = job is not None and not job.done
        self.start_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setValue(job.percent if job is not None else 0)
        self._say(job.message if job is not None else IDLE_TEXT)

    def _say(self, text: str) -> None:
        self.status.setText(text)
