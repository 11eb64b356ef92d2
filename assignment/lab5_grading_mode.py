"""Grading mode: what the autograder sets up inside the notebook's kernel while it grades it.

Shipped in the autograder zip only, never to students. The entry point (lab5_autograder.py) has otter
put one cell first in the notebook it grades, which calls :func:`enter`, and one cell last, which calls
:func:`export_answers`. In between, the notebook runs as the student wrote it, with:

- the lab5_results.json that was submitted, read before any cell of the notebook ran, as what
  ``lab.load_results`` gives back, and ``lab.save_results`` writing nothing;
- the training seed the submitted runs record as what ``lab.training_seed`` gives back (the upload
  carries no seed file, and none is drawn or written at grading);
- ``Trainer.train``/``evaluate``/``predict`` giving back the submitted run instead of computing,
  whatever the notebook's tags: nothing is trained at grading;
- any cell stopped after the per-cell time limit (the cells after it still run and are graded);
- in a sandbox (where every process of the kernel's user is this grading's), every process a cell
  started ended when the cell ends: nothing the notebook starts runs on between cells or after them.

None of this decides a grade. The kernel is the student's territory: its code can change anything in
it. The entry point decides the results questions in its own process, from the upload and the
notebook's answers that :func:`export_answers` writes (:func:`use_upload`, :func:`read_answers`).
"""

from __future__ import annotations

import enum
import json
import os
import signal
from pathlib import Path

import lab5_utils as lab


class NoteKind(str, enum.Enum):
    """What a grading note says happened: the kernel's (here) and the entry point's (lab5_autograder.py,
    which says which of them a TA must look at)."""

    TRAIN = "train"  # Trainer.train/evaluate/predict called at grading
    EVALUATE = "evaluate"
    PREDICT = "predict"
    SAVED = "saved"  # lab.save_results called at grading
    CELL_TIME_LIMIT = "cell time limit"
    PROCESSES_ENDED = "processes ended"
    RESULTS_TOO_LARGE = "results too large"
    RESULTS_REJECTED = "results rejected"  # its failing tests explain it: not shown as a note
    RESULTS_REWRITTEN = "results rewritten"
    CODE_REMOVED = "code removed"
    REMOVED = "removed"
    CHECKS_CHANGED = "checks changed"
    GRADER_FILES_CHANGED = "grader files changed"

_folder: Path | None = None  # the entry point's folder of grading facts (notes.jsonl, cell.txt)


def use_upload(data: bytes | None) -> None:
    """Make ``lab.load_results`` read ``data``: the bytes of the submitted results file (None: none)."""

    def load_results(run: str | None = None, path: str = lab.RESULTS_FILE) -> dict:
        return lab.parse_results(data, run, where=" in your submission")

    lab.load_results = load_results


def _note(kind: NoteKind, message: str) -> None:
    """Tell the entry point (and through it the student and the TA) what happened at grading."""
    if _folder is not None:
        with open(_folder / "notes.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind.value, "message": message}) + "\n")


# ---------------------------------------------------------------------------------------------
# Nothing trained, nothing saved
# ---------------------------------------------------------------------------------------------


def _which_run(trainer) -> str:
    """Which run of the results file a Trainer stands for: found by its name in the notebook."""
    try:
        namespace = get_ipython().user_ns  # noqa: F821  (defined inside IPython kernels)
    except NameError:
        return "ft"
    for run in lab.RUNS.values():
        if namespace.get(run.trainer) is trainer:
            return run.key
    return "ft"


def _submitted_run(run: str) -> dict:
    """The submitted record's part for ``run``, or {} when there is none or it is malformed."""
    try:
        record = lab.load_results()
    except lab.ResultsError:
        return {}
    import lab5_checks

    if lab5_checks.shape_problem(record, run, lab.get_profile().test_size):
        return {}
    return {key[len(run) + 1:]: value for key, value in record.items() if key.startswith(run + "_")}


def _stand_in_trainer() -> None:
    """Replace Trainer.train/evaluate/predict with stand-ins that give back the submitted run."""
    import numpy as np
    from transformers import Trainer
    from transformers.trainer_utils import PredictionOutput, TrainOutput

    def told(what: str) -> None:
        message = (f"trainer.{what}() was called while your notebook was graded (a cell without the otter_ignore "
                   f"tag, or code moved out of the training cells); the autograder does not {what}: it grades "
                   f"the {lab.RESULTS_FILE} you submitted.")
        _note(NoteKind(what), message)
        print("[autograder] " + message)

    def train(self, *args, **kwargs):
        told("train")
        run = _submitted_run(_which_run(self))
        self.state.log_history = list(run.get("log_history", []))
        summary = next((e for e in self.state.log_history if "train_runtime" in e), {})
        self.state.global_step = int(summary.get("step", 0))
        self.state.epoch = summary.get("epoch")
        metrics = {k: v for k, v in summary.items() if k.startswith("train_") or k == "total_flos"}
        return TrainOutput(self.state.global_step, summary.get("train_loss", float("nan")), metrics)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval", **kwargs):
        told("evaluate")
        run = _submitted_run(_which_run(self))
        last = next((e for e in reversed(run.get("log_history", [])) if "eval_accuracy" in e), {})
        return {f"{metric_key_prefix}_{k[5:]}": v for k, v in last.items() if k.startswith("eval_")} | (
            {"epoch": last["epoch"]} if "epoch" in last else {})

    def predict(self, test_dataset, ignore_keys=None, metric_key_prefix="test", **kwargs):
        told("predict")
        run = _submitted_run(_which_run(self))
        size = len(test_dataset)
        logits = np.asarray(run["logits"], dtype=np.float32) if len(run.get("logits", [])) == size else np.zeros((size, 3), np.float32)
        column = next((c for c in ("labels", "label") if c in getattr(test_dataset, "column_names", [])), None)
        labels = np.asarray(test_dataset[column]) if column else None
        metrics = {f"{metric_key_prefix}_{k.split('_', 1)[1]}": v for k, v in run.get("metrics", {}).items()}
        return PredictionOutput(predictions=logits, label_ids=labels, metrics=metrics)

    Trainer.train, Trainer.evaluate, Trainer.predict = train, evaluate, predict


def _recorded_seed() -> None:
    def training_seed(path: str = lab.SEED_FILE) -> int:
        try:
            seed = lab.recorded_seed(lab.load_results())
        except lab.ResultsError:
            seed = None
        return lab.SEED if seed is None else seed

    lab.training_seed = training_seed


def _no_saving() -> None:
    def save_results(**kwargs) -> None:
        _note(NoteKind.SAVED, f"lab.save_results(...) was called while your notebook was graded; the autograder grades "
              f"the {lab.RESULTS_FILE} you submitted, so nothing was written.")
        print(f"[autograder] {lab.RESULTS_FILE} is not rewritten at grading: the file you submitted is graded.")

    lab.save_results = save_results


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


class CellTimeLimit(BaseException):
    """A cell ran past the per-cell limit at grading (a BaseException, so `except Exception` in a
    student's loop cannot swallow it)."""


def _limit_cells(seconds: float) -> None:
    """Stop any cell that runs longer than ``seconds`` (the next cells still run and are graded)."""
    import linecache
    import signal

    try:
        shell = get_ipython()  # noqa: F821
    except NameError:
        return

    def first_line(source: str) -> str:
        lines = [l.strip() for l in source.splitlines() if l.strip() and not l.strip().startswith("#")]
        return (lines[0][:80] + (" ..." if len(lines) > 1 or len(lines[0]) > 80 else "")) if lines else "(empty)"

    def running_line(frame) -> str:
        """The line of the notebook's cell that was running (IPython registers cell sources in linecache)."""
        while frame is not None:
            name = frame.f_code.co_filename
            if "ipykernel_" in name or name.startswith("<ipython-input"):
                return linecache.getline(name, frame.f_lineno).strip()[:80]
            frame = frame.f_back
        return ""

    def on_alarm(signum, frame):
        path = _folder / "cell.txt"
        cell = path.read_text(encoding="utf-8") if path.is_file() else "?"
        line = running_line(frame)
        at = f", at `{line}`," if line and line != cell.removesuffix(" ...") else ""
        message = (f"a cell never finished: the cell that starts with `{cell}` was still running after "
                   f"{seconds:g} s{at} and was stopped (an endless loop, or training that the autograder does not "
                   "skip). The cells after it were graded; make it finish, then submit again.")
        _note(NoteKind.CELL_TIME_LIMIT, message)
        raise CellTimeLimit(message)

    def before(info):
        (_folder / "cell.txt").write_text(first_line(info.raw_cell or ""), encoding="utf-8")
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def after(result):
        signal.setitimer(signal.ITIMER_REAL, 0)

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


def _ancestors() -> set[int]:
    """This kernel and the processes above it (otter's, the sandbox's, its namespace's init)."""
    found, pid = {1}, os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def _leftovers() -> list[int]:
    """The processes of this kernel's user that are not the kernel or above it: what cells started."""
    keep, uid, found = _ancestors(), os.getuid(), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in keep:
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] != "Z":
                found.append(int(entry.name))
        except (OSError, ValueError, KeyError, IndexError):
            continue
    return found


def _end_leftovers() -> None:
    """After each cell, end every process it left running (a daemon, a fork bomb, a server): at
    grading, nothing the notebook starts may run on while the grader works."""
    try:
        shell = get_ipython()  # noqa: F821
    except NameError:
        return
    cell = {"first": ""}

    def before(info):
        cell["first"] = (info.raw_cell or "").strip().splitlines()[0][:80] if (info.raw_cell or "").strip() else ""

    def after(result):
        import time

        ended = set()
        for _ in range(50):  # what forks while it is being ended is found in the next round
            pids = _leftovers()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    ended.add(pid)
                except OSError:
                    pass
            for pid in pids:  # the kernel's own children: reaped, or as zombies they still count as processes
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
            time.sleep(0.01)
        if ended:
            _note(NoteKind.PROCESSES_ENDED, f"the cell that starts with `{cell['first']}` left {len(ended)} process(es) running; "
                  "they were ended (at grading, nothing a cell starts may run on after it).")

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


def enter(folder: str, cell_limit: float, end_leftovers: bool = False) -> None:
    """Called by the cell the autograder puts first in the notebook it grades, before any of its own.
    ``end_leftovers``: the kernel runs in a sandbox, where every process of its user is this grading's."""
    global _folder
    import lab5_sandbox  # beside this module in the autograder's files

    lab5_sandbox.keep_priority()  # the kernel is a session of its own
    _folder = Path(folder)
    submitted = Path(lab.RESULTS_FILE)
    use_upload(submitted.read_bytes() if submitted.is_file() else None)
    _recorded_seed()
    _no_saving()
    _limit_cells(cell_limit)
    if end_leftovers:
        _end_leftovers()
    _stand_in_trainer()


# ---------------------------------------------------------------------------------------------
# The notebook's answers, for the entry point
# ---------------------------------------------------------------------------------------------


class Unreadable:
    """A value of the notebook that is not a plain number or string, as the entry point sees it:
    it shows as the notebook's value did (its repr), and is no number."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _encoded(value) -> dict:
    if value is Ellipsis:
        return {"ellipsis": True}
    if value is None or type(value) in (bool, int, float) or (type(value) is str and len(value) <= 200):
        return {"value": value}
    dtype = getattr(value, "dtype", None)
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == () and dtype is not None and dtype.kind in "biuf":
        return {"value": value.item(), "numpy": str(dtype)}
    return {"repr": repr(value)[:200]}


def _decoded(item):
    if not isinstance(item, dict):
        return Unreadable(repr(item)[:200])
    if item.get("ellipsis") is True:
        return Ellipsis
    value = item.get("value")
    if "numpy" in item:
        import numpy as np

        try:
            dtype = np.dtype(str(item["numpy"]))
        except TypeError:
            return Unreadable(repr(value)[:200])
        return dtype.type(value) if dtype.kind in "biuf" and type(value) in (bool, int, float) else Unreadable(repr(value)[:200])
    if "value" in item and (value is None or type(value) in (bool, int, float, str)):
        return value
    return Unreadable(str(item.get("repr", "?"))[:200])


def export_answers(namespace: dict, path: str) -> None:
    """Write the notebook's values of lab.ACCURACIES (those it defines) to ``path`` as JSON, keeping whether
    each is an int, a float, a numpy number, a string, ``...`` or something else."""
    answers = {name: _encoded(namespace[name]) for name in lab.ACCURACIES if name in namespace}
    Path(path).write_text(json.dumps(answers), encoding="utf-8")


def read_answers(data: bytes | None) -> dict:
    """The notebook's answers that :func:`export_answers` wrote (``data``: the file's bytes; nothing
    when it is missing or unreadable: the questions then say the names are not defined)."""
    try:
        answers = json.loads((data or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    if not isinstance(answers, dict):
        return {}
    return {name: _decoded(answers[name]) for name in lab.ACCURACIES if name in answers}
