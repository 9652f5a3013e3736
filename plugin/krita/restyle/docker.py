"""The Restyle docker: the controls an artist sees, and the wiring from them to a job.

Only the widgets live here.  What the lists offer is `layer_lists`, which server is
`server_state`, and reading the choices out of the document is `job_input`: all
without Qt, so tested outside Krita.
"""

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
from restyle_client import launcher, settings, texts
from restyle_client.request import Request
from restyle_client.settings import Settings

from . import connection as conn_mod
from . import layers as ly
from .job import RestyleJob
from .job_input import Choices, RegionChoice, read_job
from .layer_lists import LayerLists, MaskChoice, MaskKind, current_layer, lists_of
from .nodes import document_key
from .server_state import ServerState, endpoint_to_use
from .weights_panel import FIRST_TEXT, WeightsPanel

DOCKER_ID = "restyle_docker"
IDLE_TEXT = "Pick a style layer, then Start."


def _spin(box, control: settings.Range):
    box.setRange(control.minimum, control.maximum)
    box.setSingleStep(control.step)
    box.setValue(control.default)
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
        self.server_config = launcher.load()
        self.jobs: dict[str, RestyleJob] = {}  # by document: each document runs its own job
        self.connection: conn_mod.Connection | None = None
        self._lists: LayerLists | None = None  # None: to be filled afresh
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
        self.weights_panel = WeightsPanel(lambda: self.connection)
        col.addWidget(self.weights_panel)
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
        self.strength = _spin(QDoubleSpinBox(objectName="restyle_strength", decimals=2), settings.STRENGTH)
        self.strength.setToolTip("0 keeps the content, 1 is all style")
        look.addRow("Strength", self.strength)
        self.style_scale = _spin(QDoubleSpinBox(objectName="restyle_style_scale", decimals=2), settings.STYLE_SCALE)
        self.style_scale.setToolTip("Bigger makes the style's brush strokes and textures larger")
        look.addRow("Style scale", self.style_scale)
        self.quality = QComboBox(objectName="restyle_quality")
        for label, _ in settings.QUALITIES:
            self.quality.addItem(label)
        self.quality.setCurrentIndex(settings.DEFAULT_QUALITY)
        self.quality.setToolTip("The size the server works at; the result always has the layer's size")
        look.addRow("Quality", self.quality)
        self.preserve = QComboBox(objectName="restyle_preserve_colors")
        for value, label in settings.PRESERVE_COLORS:
            self.preserve.addItem(label, value)
        look.addRow("Keep colours", self.preserve)
        self.seed = _spin(QSpinBox(objectName="restyle_seed"), settings.SEED)
        self.seed.setToolTip("Another seed gives another variation")
        look.addRow("Seed", self.seed)
        self.iterations = _spin(QSpinBox(objectName="restyle_iterations"), settings.ITERATIONS)
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
        self._lists = None
        self._active_id = None
        self.refresh_layers()
        self._show_job()

    def document(self):
        return Krita.instance().activeDocument()

    # --- layer lists --------------------------------------------------------------------

    def refresh_layers(self) -> None:
        """Keep the lists in step with the document; the content follows the current layer."""
        doc = self.document()
        lists = lists_of(doc)
        if lists != self._lists:
            self._lists = lists
            self._fill_layers(self.content)
            checked = {uid for uid, ticked in self._style_items() if ticked}
            self.styles.clear()
            for layer in lists.layers:
                item = QListWidgetItem(layer.label)
                item.setData(Qt.UserRole, layer.uid)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked if layer.uid in checked else Qt.Unchecked)
                self.styles.addItem(item)
            for row in self._regions:
                self._fill_region(row)
        active_id = current_layer(doc)
        if active_id != self._active_id:
            self._active_id = active_id
            index = self.content.findData(active_id) if active_id else -1
            if index >= 0:
                self.content.setCurrentIndex(index)

    def _style_items(self) -> list[tuple[str, bool]]:
        items = (self.styles.item(i) for i in range(self.styles.count()))
        return [(item.data(Qt.UserRole), item.checkState() == Qt.Checked) for item in items]

    def _fill_layers(self, combo: QComboBox) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for layer in self._lists.layers:
            combo.addItem(layer.label, layer.uid)
        index = combo.findData(current) if current else -1
        combo.setCurrentIndex(index if index >= 0 else 0)
        combo.blockSignals(False)

    def _fill_region(self, row: RegionRow) -> None:
        current = row.mask.currentData()
        row.mask.clear()
        for mask in self._lists.masks:
            row.mask.addItem(mask.label, mask.key)
        index = row.mask.findData(current) if current else -1
        row.mask.setCurrentIndex(max(0, index))
        self._fill_layers(row.style)

    def add_region(self) -> RegionRow:
        row = RegionRow(len(self._regions), self._remove_region)
        self.regions_box.insertWidget(self.regions_box.count() - 1, row)
        self._regions.append(row)
        if self._lists is not None:
            self._fill_region(row)
        return row

    def _remove_region(self, row: RegionRow) -> None:
        self._regions.remove(row)
        row.setParent(None)
        row.deleteLater()

    # --- server -------------------------------------------------------------------------

    def _endpoint(self) -> str:
        return endpoint_to_use(self.endpoint.text(), self.server_config.endpoint)

    def _use_endpoint(self) -> None:
        endpoint = self._endpoint()
        if self.connection is not None and self.connection.endpoint == endpoint:
            self.connection.check()
            return
        if self.connection is not None:
            self.connection.stateChanged.disconnect(self._show_connection)
        self.connection = conn_mod.get(endpoint)
        self.connection.stateChanged.connect(self._show_connection)
        self.connection.check()

    def _show_connection(self, state: ServerState, detail: str) -> None:
        self.connection_label.setText(detail)
        self.connection_label.setProperty("state", state.value)
        self.weights_panel.follow(state, self.connection.endpoint, self.connection.server_config)

    # --- running ------------------------------------------------------------------------

    def choices(self) -> Choices:
        """What the widgets say, as plain values for `read_job`."""
        regions = []
        for row in self._regions:
            kind, uid = row.mask.currentData() or (MaskKind.SELECTION.value, "")
            mask = MaskChoice(row.mask.currentText(), MaskKind(kind), uid)
            regions.append(RegionChoice(mask, row.style.currentData() or ""))
        return Choices(
            content_uid=self.content.currentData() or "",
            style_uids=[uid for uid, ticked in self._style_items() if ticked],
            regions=regions,
            only_selection=self.limit.isChecked(),
            quality=self.quality.currentIndex(),
            settings=Settings(
                strength=self.strength.value(),
                style_scale=self.style_scale.value(),
                preserve_colors=self.preserve.currentData(),
                seed=self.seed.value(),
                iterations=self.iterations.value() or None,
            ),
        )

    def current_job(self) -> RestyleJob | None:
        doc = self.document()
        return self.jobs.get(document_key(doc)) if doc is not None else None

    def start(self) -> None:
        job = self.current_job()
        if job is not None and not job.done:
            return
        if self.weights_panel.holds_back():
            self._say(FIRST_TEXT)
            return
        self.refresh_layers()
        doc = self.document()
        try:
            job_input = read_job(doc, self.choices(), ly)
        except ValueError as exc:  # LayerError, UnsupportedFormat, JobError, RequestError: all for the user
            self._say(str(exc))
            return
        job = RestyleJob(doc, job_input)
        job.changed.connect(lambda j=job: self._show_job() if j is self.current_job() else None)
        if self.connection is None or self.connection.endpoint != self._endpoint():
            self._use_endpoint()
        self.jobs[job.key] = job
        job.say(texts.CONNECTING)
        self._show_job()
        request = job_input.request
        self.connection.ensure_server(lambda: self._submit(job, request), job.fail)

    def _submit(self, job: RestyleJob, request: Request) -> None:
        if job.done:
            return
        try:
            job.start(self.connection, request)
        except Exception as exc:  # RequestError, or a socket that cannot send
            job.fail(f"The request was not sent: {exc}")

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
