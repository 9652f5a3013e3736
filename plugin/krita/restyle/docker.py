"""The Restyle docker: the controls an artist sees, and the wiring from them to a job.

Only the widgets live here.  What the lists offer is `layer_lists`, which server is
`server_state`, and reading the choices out of the document is `job_input`: all
without Qt, so tested outside Krita.
"""

from __future__ import annotations

from krita import DockWidget, Krita
from PyQt5.QtCore import QSize, Qt, QTimer
from PyQt5.QtGui import QIcon, QPixmap
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
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from restyle_client import launcher, presets, settings, texts
from restyle_client.request import Request
from restyle_client.settings import Settings

from . import connection as conn_mod
from . import layers as ly
from .history import Entry, History
from .job import RestyleJob
from .job_input import Choices, RegionChoice, read_job
from .layer_lists import LayerLists, MaskChoice, MaskKind, content_for, current_layer, fallback_content, lists_of
from .nodes import document_key, find_node, node_id, walk
from .server_state import ServerState, endpoint_to_use
from .weights_panel import FIRST_TEXT, WeightsPanel

DOCKER_ID = "restyle_docker"
IDLE_TEXT = "Pick a style layer, then Start."
MIN_WIDTH = 260
THUMB = 48
# Krita's dark theme draws an unticked box a few grey levels off its background: draw our own.
STYLE_LIST_SHEET = """
QListWidget::indicator { width: 13px; height: 13px; border: 2px solid palette(highlight); border-radius: 3px; }
QListWidget::indicator:unchecked { background: palette(base); }
QListWidget::indicator:checked { background: palette(highlight); }
"""


def _shrinkable(combo: QComboBox) -> QComboBox:
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    return combo


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
        self.mask = _shrinkable(QComboBox(objectName=f"restyle_region_{index}_mask"))
        self.mask.setToolTip("Where this region's style goes")
        self.style = _shrinkable(QComboBox(objectName=f"restyle_region_{index}_style"))
        self.style.setToolTip("The style for this region")
        remove = QToolButton(text="\u2715", objectName=f"restyle_region_{index}_remove")
        remove.setToolTip("Remove this region")
        remove.clicked.connect(lambda: on_remove(self))
        row.addWidget(self.mask, 3)
        row.addWidget(QLabel("\u2192"))
        row.addWidget(self.style, 3)
        row.addWidget(remove)


class HistoryView(QGroupBox):
    """This document's results, newest first: pick one to see it alone, or reuse its settings."""

    def __init__(self, docker) -> None:
        super().__init__("History")
        self.setObjectName("restyle_history")
        col = QVBoxLayout(self)
        self.list = QListWidget(objectName="restyle_history_list")
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setWordWrap(True)
        self.list.setMaximumHeight(4 * (THUMB + 8))
        self.list.setToolTip("Click a result to see it alone on the canvas")
        self.list.itemClicked.connect(lambda item: docker.show_result(item.data(Qt.UserRole)))
        col.addWidget(self.list)
        row = QHBoxLayout()
        self.reuse = QPushButton("Use these settings", objectName="restyle_history_reuse")
        self.reuse.setToolTip("Set the controls as they were for the chosen result")
        self.reuse.clicked.connect(lambda: docker.reuse(self.chosen()))
        row.addWidget(self.reuse)
        col.addLayout(row)
        self.setVisible(False)

    def chosen(self):
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def show_entries(self, entries, icon_of) -> None:
        shown = [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]
        self.setVisible(bool(entries))
        if shown == entries:
            return
        current = self.chosen()
        self.list.clear()
        for entry in entries:
            item = QListWidgetItem(icon_of(entry), f"{entry.title()}\n{entry.summary()}")
            item.setData(Qt.UserRole, entry)
            item.setToolTip(entry.summary())
            self.list.addItem(item)
            if entry == current:
                self.list.setCurrentItem(item)


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
        self.history = History()
        self._last_content: dict[str, str] = {}  # by document: the layer last restyled
        self._complaint = False  # the status shows why Start refused, until the person changes something
        self._quality_chosen = False  # the person picked a quality: estimates no longer move it
        self._content_size: tuple[int, int] | None = None
        self._previous_content: str | None = None  # before the content followed the current layer
        self._icons: dict[str, object] = {}
        self._build()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.timeout.connect(self.refresh_layers)
        self._refresh_timer.start(1500)
        QTimer.singleShot(0, self._use_endpoint)

    # --- building ---------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget()
        col = QVBoxLayout(body)
        col.setContentsMargins(4, 4, 4, 4)
        self.weights_panel = WeightsPanel(lambda: self.connection)
        col.addWidget(self.weights_panel)
        form = QFormLayout()
        self.content = QComboBox(objectName="restyle_content")
        self.content.setToolTip("The layer to repaint; it is never changed")
        self.content.currentIndexChanged.connect(self._content_changed)
        form.addRow("Content layer", self.content)
        self.styles = QListWidget(objectName="restyle_styles")
        self.styles.setToolTip("Click the layers whose look to copy; click again to drop one")
        self.styles.setMaximumHeight(110)
        self.styles.setStyleSheet(STYLE_LIST_SHEET)
        self.styles.itemClicked.connect(self._toggle_style)
        self.styles.itemChanged.connect(self._styles_changed)
        form.addRow("Style layers", self.styles)
        self.quality = QComboBox(objectName="restyle_quality")
        for label, _ in settings.QUALITIES:
            self.quality.addItem(label)
        self.quality.setCurrentIndex(settings.DEFAULT_QUALITY)
        self.quality.setToolTip(
            "The size the server works at, and how long that takes there; the result always has the layer's size"
        )
        self.quality.activated.connect(self._quality_picked)
        form.addRow("Quality", self.quality)
        essentials = QWidget(objectName="restyle_essentials")
        top = QVBoxLayout(essentials)
        top.setContentsMargins(0, 0, 0, 0)
        top.addLayout(form)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start", objectName="restyle_start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", objectName="restyle_cancel", enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        top.addLayout(buttons)
        self.progress = QProgressBar(objectName="restyle_progress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        top.addWidget(self.progress)
        self.status = QLabel(IDLE_TEXT, objectName="restyle_status", wordWrap=True)
        top.addWidget(self.status)
        col.addWidget(essentials)
        self.essentials = essentials  # what shows without scrolling, whatever the docker's size

        look_box = QGroupBox("Look")
        look = QFormLayout(look_box)
        self.limit = QCheckBox("Only the selected area", objectName="restyle_limit_selection")
        self.limit.setToolTip("With a selection, only the selected area changes, with its soft edges blended")
        self.limit.setChecked(True)
        look.addRow(self.limit)
        self.strength = _spin(QDoubleSpinBox(objectName="restyle_strength", decimals=2), settings.STRENGTH)
        self.strength.setToolTip("0 keeps the content, 1 is all style")
        look.addRow("Strength", self.strength)
        self.style_scale = _spin(QDoubleSpinBox(objectName="restyle_style_scale", decimals=2), settings.STYLE_SCALE)
        self.style_scale.setToolTip("Bigger makes the style's brush strokes and textures larger")
        look.addRow("Style scale", self.style_scale)
        self.preserve = QComboBox(objectName="restyle_preserve_colors")
        for value, label in settings.PRESERVE_COLORS:
            self.preserve.addItem(label, value)
        self.preserve.setToolTip("Whose colours the result has: the style's, or the content's, kept as chosen")
        look.addRow("Colours", self.preserve)
        self.seed = _spin(QSpinBox(objectName="restyle_seed"), settings.SEED)
        self.seed.setToolTip("Another seed gives another variation")
        look.addRow("Seed", self.seed)
        self.iterations = _spin(QSpinBox(objectName="restyle_iterations"), settings.ITERATIONS)
        self.iterations.setSpecialValueText("automatic")
        self.iterations.setToolTip("Iterations at each stage (small to full size); automatic suits most pictures")
        self.iterations.valueChanged.connect(lambda _value: self._show_estimates())
        look.addRow("Iterations per stage", self.iterations)
        col.addWidget(look_box)

        regions = QGroupBox("Regions (optional)")
        self.regions_box = QVBoxLayout(regions)
        add = QPushButton("Add region", objectName="restyle_add_region")
        add.setToolTip("Give part of the picture its own style")
        add.clicked.connect(self.add_region)
        self.regions_box.addWidget(add)
        col.addWidget(regions)

        self.history_view = HistoryView(self)
        col.addWidget(self.history_view)

        server = QHBoxLayout()
        self.connection_label = QLabel("Server: not checked yet", objectName="restyle_connection", wordWrap=True)
        self.connection_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.connection_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # an address does not wrap
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

        for combo in body.findChildren(QComboBox):  # long layer names and timed labels must not widen the docker
            _shrinkable(combo)
        for form_layout in body.findChildren(QFormLayout):  # a narrow docker puts labels above their fields
            form_layout.setRowWrapPolicy(QFormLayout.WrapLongRows)
        scroll = QScrollArea(objectName="restyle_scroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self.setWidget(scroll)
        scroll.setMinimumSize(MIN_WIDTH, self.minimum_height())

    def wanted_width(self) -> int:
        """Wide enough that nothing is cut off at the right."""
        return max(MIN_WIDTH, self.widget().widget().minimumSizeHint().width() + 24)

    def minimum_height(self) -> int:
        """Tall enough to show the content, the styles, the quality and Start unscrolled."""
        return self.essentials.sizeHint().height() + 24

    # --- Krita hooks --------------------------------------------------------------------

    def canvasChanged(self, canvas) -> None:  # noqa: N802 (Krita's name)
        self._lists = None
        self._active_id = None
        self._content_size = None
        self._previous_content = None
        self.refresh_layers()
        self._show_job()

    def document(self):
        return Krita.instance().activeDocument()

    # --- layer lists --------------------------------------------------------------------

    def refresh_layers(self) -> None:
        """Keep the lists in step with the document; the content follows the current layer
        unless that layer is ticked as a style."""
        doc = self.document()
        lists = lists_of(doc)
        if lists != self._lists:
            self._lists = lists
            self._fill_layers(self.content)
            checked = {uid for uid, ticked in self._style_items() if ticked}
            self.styles.blockSignals(True)
            self.styles.clear()
            for layer in lists.layers:
                item = QListWidgetItem(layer.label)
                item.setData(Qt.UserRole, layer.uid)
                # Not user-checkable: a click anywhere on the row toggles, through _toggle_style.
                item.setFlags(item.flags() & ~Qt.ItemIsUserCheckable)
                self._mark(item, layer.uid in checked)
                self.styles.addItem(item)
            self.styles.blockSignals(False)
            for row in self._regions:
                self._fill_region(row)
            self._show_history()
        active_id = current_layer(doc)
        if active_id != self._active_id:
            self._active_id = active_id
            before = self.content.currentData()
            chosen = content_for(lists, active_id, self._ticked(), self._last_used(), self._previous_content)
            if chosen != before:
                self._previous_content = before
            self._choose_content(chosen)
        self._show_estimates()

    def _mark(self, item: QListWidgetItem, ticked: bool) -> None:
        item.setCheckState(Qt.Checked if ticked else Qt.Unchecked)
        font = item.font()
        font.setBold(ticked)
        item.setFont(font)

    def _ticked(self) -> set[str]:
        return {uid for uid, ticked in self._style_items() if ticked}

    def _last_used(self) -> str | None:
        doc = self.document()
        return self._last_content.get(document_key(doc)) if doc is not None else None

    def _choose_content(self, uid: str | None) -> None:
        index = self.content.findData(uid) if uid else -1
        if index >= 0 and index != self.content.currentIndex():
            self.content.setCurrentIndex(index)

    def _toggle_style(self, item: QListWidgetItem) -> None:
        """Clicking a layer's name picks it, as clicking its box does."""
        self._mark(item, item.checkState() != Qt.Checked)

    def _styles_changed(self, _item=None) -> None:
        ticked = self._ticked()
        if self.content.currentData() in ticked and self._lists is not None:
            self._choose_content(fallback_content(self._lists, ticked, self._last_used(), self._previous_content))
        self._changed()

    def _content_changed(self, _index=None) -> None:
        self._content_size = None
        self._show_estimates()
        self._changed()

    def _changed(self) -> None:
        """The person changed a choice: a refusal of the old choices no longer applies."""
        if self._complaint:
            self._complaint = False
            self._show_job()

    # --- how long it will take ----------------------------------------------------------

    def _quality_picked(self, _index: int) -> None:
        self._quality_chosen = True
        self._changed()

    def _layer_size(self) -> tuple[int, int] | None:
        if self._content_size is None:
            doc = self.document()
            node = find_node(doc, self.content.currentData() or "") if doc is not None else None
            bounds = node.bounds() if node is not None else None
            if bounds is None or bounds.width() <= 0 or bounds.height() <= 0:
                return None
            self._content_size = (bounds.width(), bounds.height())
        return self._content_size

    def _show_estimates(self) -> None:
        """Each quality with its time on the connected server; first the largest that is quick."""
        speed = self.connection.speed if self.connection is not None else None
        size = self._layer_size()
        iterations = self.iterations.value() or None
        seconds = presets.preset_seconds(*size, speed, iterations) if size else [None] * len(settings.QUALITIES)
        for index, (label, _) in enumerate(settings.QUALITIES):
            text = texts.quality_label(label, seconds[index])
            if self.quality.itemText(index) != text:
                self.quality.setItemText(index, text)
        if not self._quality_chosen and size and speed:
            self.quality.setCurrentIndex(presets.default_preset(seconds))
        chosen = seconds[self.quality.currentIndex()]
        self.quality.setToolTip(
            "The size the server works at; the result always has the layer's size. "
            + (texts.estimate_text(chosen).capitalize() + "." if chosen is not None else "")
        )

    # --- history ------------------------------------------------------------------------

    def _show_history(self) -> None:
        doc = self.document()
        if doc is None:
            self.history_view.show_entries([], self._icon)
            return
        alive = {node_id(node) for node, _ in walk(doc.rootNode())}
        self.history_view.show_entries(self.history.entries(document_key(doc), alive), self._icon)

    def _icon(self, entry: Entry):
        icon = self._icons.get(entry.layer_uid)
        if icon is None:
            doc = self.document()
            node = find_node(doc, entry.layer_uid) if doc is not None else None
            image = node.thumbnail(THUMB, THUMB) if node is not None else None
            icon = QIcon(QPixmap.fromImage(image)) if image is not None and not image.isNull() else QIcon()
            self._icons[entry.layer_uid] = icon
        return icon

    def show_result(self, entry: Entry) -> None:
        """See one result alone: the other results of its content are hidden, this one shown and current."""
        doc = self.document()
        if doc is None or entry is None:
            return
        for other in self.history.others_of_content(document_key(doc), entry):
            node = find_node(doc, other.layer_uid)
            if node is not None:
                node.setVisible(False)
        node = find_node(doc, entry.layer_uid)
        if node is not None:
            node.setVisible(True)
            doc.setActiveNode(node)
            doc.refreshProjection()

    def reuse(self, entry: Entry | None) -> None:
        """Set the controls as they were for `entry`, to run it again or vary one thing."""
        if entry is None:
            return
        self._choose_content(entry.content_uid)
        for i in range(self.styles.count()):
            item = self.styles.item(i)
            self._mark(item, item.data(Qt.UserRole) in entry.style_uids)
        self.quality.setCurrentIndex(entry.quality)
        self._quality_chosen = True
        s = entry.settings
        self.strength.setValue(s.strength)
        self.style_scale.setValue(s.style_scale)
        self.preserve.setCurrentIndex(max(0, self.preserve.findData(s.preserve_colors)))
        self.seed.setValue(s.seed)
        self.iterations.setValue(s.iterations or 0)

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
        self._show_estimates()
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
        choices = self.choices()
        try:
            job_input = read_job(doc, choices, ly)
        except ValueError as exc:  # LayerError, UnsupportedFormat, JobError, RequestError: all for the user
            self._say(str(exc))
            self._complaint = True
            return
        self._complaint = False
        self._last_content[document_key(doc)] = choices.content_uid
        job = RestyleJob(doc, job_input)
        job.changed.connect(lambda j=job, c=choices: self._job_changed(j, c))
        if self.connection is None or self.connection.endpoint != self._endpoint():
            self._use_endpoint()
        self.jobs[job.key] = job
        job.say(texts.CONNECTING)
        self._show_job()
        request = job_input.request
        self.connection.ensure_server(lambda: self._submit(job, request), job.fail)

    def _job_changed(self, job: RestyleJob, choices: Choices) -> None:
        if job.done and job.result_layer is not None:
            entry = Entry(
                node_id(job.result_layer),
                job.result_layer.name(),
                choices.content_uid,
                tuple(choices.style_uids),
                tuple(job.style_names),
                choices.quality,
                choices.settings,
                job.seconds,
                job.cancelled,
            )
            self.history.add(job.key, entry)
            if self.connection is not None:
                self.connection.refresh()  # the server knows its speed better after a job
            if job is self.current_job():
                self._show_history()
        if job is self.current_job():
            self._show_job()

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
