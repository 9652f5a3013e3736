"""Runs $RESTYLE_E2E_SCRIPT's `scenarios(ctx)` and writes $RESTYLE_E2E_REPORT.

Every way Krita can hang in a test is closed off: a watchdog ends the run, uncaught
exceptions are recorded instead of opening Krita's modal dialog, and documents are
marked unmodified before quitting so no "save changes?" dialog appears.
"""

import importlib.util
import json
import os
import sys
import time
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer

T0 = time.monotonic()


def log(message):
    print(f"[restyle_e2e {time.monotonic() - T0:6.2f}s] {message}", file=sys.stderr, flush=True)


class Wait:
    """Yielded by a scenario: resume when `condition()` is true, fail after `timeout` s."""

    def __init__(self, condition, timeout, what):
        self.condition, self.timeout, self.what = condition, timeout, what


class Context:
    def __init__(self, driver):
        self.driver = driver
        self.report = {"scenarios": {}}
        self.out = os.environ.get("RESTYLE_E2E_OUT", ".")
        self.log = log
        self.Wait = Wait

    def sleep(self, seconds):
        deadline = time.monotonic() + seconds
        return Wait(lambda: time.monotonic() >= deadline, seconds + 5, f"sleep {seconds}")


class Driver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.ctx = None
        self.started = False
        self.finished = False
        self.queue = []

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(800, self.start))
        QTimer.singleShot(20000, self.start)  # in case windowCreated came before we listened
        QTimer.singleShot(int(float(os.environ.get("RESTYLE_E2E_TIMEOUT", "150")) * 1000), self.watchdog)

    def createActions(self, window):
        pass

    def start(self):
        if self.started:
            return
        self.started = True
        self.ctx = Context(self)
        sys.excepthook = self.excepthook
        self.ctx.report["python"] = sys.version.split()[0]
        try:
            spec = importlib.util.spec_from_file_location("restyle_e2e_scenario", os.environ["RESTYLE_E2E_SCRIPT"])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.queue = list(module.scenarios(self.ctx))
        except Exception:
            self.finish(traceback.format_exc())
            return
        self.next_scenario()

    def next_scenario(self):
        if not self.queue:
            self.finish()
            return
        name, gen = self.queue.pop(0)
        log(f"scenario {name}")
        self.ctx.report["scenarios"][name] = {"started": round(time.monotonic() - T0, 2)}
        self.step(name, gen, None)

    def step(self, name, gen, error):
        section = self.ctx.report["scenarios"][name]
        try:
            wait = gen.throw(error) if error is not None else next(gen)
        except StopIteration:
            section["ok"] = True
            section["finished"] = round(time.monotonic() - T0, 2)
            QTimer.singleShot(0, self.next_scenario)
            return
        except Exception:
            section["error"] = traceback.format_exc()
            log(f"scenario {name} failed:\n{section['error']}")
            QTimer.singleShot(0, self.next_scenario)
            return
        deadline = time.monotonic() + wait.timeout

        def poll():
            if self.finished:
                return
            try:
                done = wait.condition()
            except Exception as exc:
                self.step(name, gen, exc)
                return
            if done:
                self.step(name, gen, None)
            elif time.monotonic() > deadline:
                self.step(name, gen, TimeoutError(f"gave up waiting {wait.timeout} s for: {wait.what}"))
            else:
                QTimer.singleShot(40, poll)

        QTimer.singleShot(0, poll)

    def excepthook(self, kind, value, tb):
        message = "".join(traceback.format_exception(kind, value, tb))
        log(f"uncaught exception:\n{message}")
        if self.ctx is not None:
            self.ctx.report.setdefault("uncaught", []).append(message)

    def watchdog(self):
        log("watchdog: the run took too long")
        if self.ctx is None:
            self.ctx = Context(self)
        self.finish("watchdog: the run took too long")

    def finish(self, error=None):
        if self.finished:
            return
        self.finished = True
        report = self.ctx.report
        if error:
            report["error"] = error
        report["modules"] = sorted(m for m in ("torch", "numpy") if m in sys.modules)
        report["elapsed"] = round(time.monotonic() - T0, 2)
        path = os.environ.get("RESTYLE_E2E_REPORT", "report.json")
        with open(path + ".tmp", "w") as f:
            json.dump(report, f, indent=1, default=str)
        os.replace(path + ".tmp", path)
        log(f"report written: {path}")
        QTimer.singleShot(0, self.quit)

    def quit(self):
        app = Krita.instance()
        for document in list(app.documents()):
            document.setModified(False)
            document.close()
        # QApplication.quit() crashes Krita; its own quit action does not.
        app.action("file_quit").trigger()
