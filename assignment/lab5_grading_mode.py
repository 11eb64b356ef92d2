"""Grading mode: what the autograder sets up inside the notebook's kernel while it grades it.

Shipped in the autograder zip, never to students; at grading it is on the student's side (it holds no
test and no answer). The student's side has otter put one cell first (lab5_otter_plugin.py) in the
notebook it grades, which calls :func:`enter`, and one cell last, which calls :func:`write_facts`. In
between, the notebook runs as the student wrote it, with:

- the lab5_results.json that was submitted, read before any cell of the notebook ran, as what
  ``lab.load_results`` gives back, and ``lab.save_results`` writing nothing;
- the training seed the submitted runs record as what ``lab.training_seed`` gives back (the upload
  carries no seed file, and none is drawn or written at grading);
- ``Trainer.train``/``evaluate``/``predict`` giving back the submitted run instead of computing,
  whatever the notebook's tags: nothing is trained at grading;
- any cell stopped after the per-cell time limit (the cells after it still run and are graded);
- in a sandbox (where every process of the kernel's user is this grading's), every process a cell
  started ended when the cell ends: nothing the notebook starts runs on between cells or after them.

- a cell that runs out of memory (where the grader limits the address space) told as such.

None of this decides a grade. The kernel is the student's territory: its code can change anything in
it. The entry point runs every test in its own process, on the notebook's facts that :func:`write_facts`
writes (lab5_facts.py) and on the upload (:func:`use_upload`, :func:`use_recorded_seed`, which it calls
in its own process too).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lab5_boundary as boundary
import lab5_student_side  # beside this module, wherever it is
import lab5_utils as lab
from lab5_boundary import NoteKind

_folder: Path | None = None  # the report folder (lab5_boundary: its notes, the running cell)


def use_upload(data: bytes | None) -> None:
    """Make ``lab.load_results`` read ``data``: the bytes of the submitted results file (None: none)."""

    def load_results(run: str | None = None, path: str = lab.RESULTS_FILE) -> dict:
        return lab.parse_results(data, run, where=" in your submission")

    lab.load_results = load_results


def _note(kind: NoteKind, message: str) -> None:
    """Tell the entry point (and through it the student and the TA) what happened at grading."""
    if _folder is not None:
        lab5_student_side.write_note(_folder, kind, message)


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
    return {key[len(run) + 1 :]: value for key, value in record.items() if key.startswith(run + "_")}


def _stand_in_trainer() -> None:
    """Replace Trainer.train/evaluate/predict with stand-ins that give back the submitted run."""
    import numpy as np
    from transformers import Trainer
    from transformers.trainer_utils import PredictionOutput, TrainOutput

    def told(what: str) -> None:
        message = (
            f"trainer.{what}() was called while your notebook was graded (a cell without the otter_ignore "
            f"tag, or code moved out of the training cells); the autograder does not {what}: it grades "
            f"the {lab.RESULTS_FILE} you submitted."
        )
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
            {"epoch": last["epoch"]} if "epoch" in last else {}
        )

    def predict(self, test_dataset, ignore_keys=None, metric_key_prefix="test", **kwargs):
        told("predict")
        run = _submitted_run(_which_run(self))
        size = len(test_dataset)
        logits = (
            np.asarray(run["logits"], dtype=np.float32)
            if len(run.get("logits", [])) == size
            else np.zeros((size, 3), np.float32)
        )
        column = next((c for c in ("labels", "label") if c in getattr(test_dataset, "column_names", [])), None)
        labels = np.asarray(test_dataset[column]) if column else None
        metrics = {f"{metric_key_prefix}_{k.split('_', 1)[1]}": v for k, v in run.get("metrics", {}).items()}
        return PredictionOutput(predictions=logits, label_ids=labels, metrics=metrics)

    Trainer.train, Trainer.evaluate, Trainer.predict = train, evaluate, predict


def use_recorded_seed() -> None:
    """Make ``lab.training_seed`` give the seed the submitted results record (the upload carries no
    seed file, and none is drawn or written at grading)."""

    def training_seed(path: str = lab.SEED_FILE) -> int:
        try:
            seed = lab.recorded_seed(lab.load_results())
        except lab.ResultsError:
            seed = None
        return lab.SEED if seed is None else seed

    lab.training_seed = training_seed


def _no_saving() -> None:
    def save_results(**kwargs) -> None:
        _note(
            NoteKind.SAVED,
            f"lab.save_results(...) was called while your notebook was graded; the autograder grades "
            f"the {lab.RESULTS_FILE} you submitted, so nothing was written.",
        )
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

    def running_line(frame) -> str:
        """The line of the notebook's cell that was running (IPython registers cell sources in linecache)."""
        while frame is not None:
            name = frame.f_code.co_filename
            if "ipykernel_" in name or name.startswith("<ipython-input"):
                return linecache.getline(name, frame.f_lineno).strip()[:80]
            frame = frame.f_back
        return ""

    def on_alarm(signum, frame):
        path = _folder / boundary.CELL_FILE
        cell = path.read_text(encoding="utf-8") if path.is_file() else "?"
        line = running_line(frame)
        at = f", at `{line}`," if line and line != cell.removesuffix(" ...") else ""
        message = (
            f"a cell never finished: the cell that starts with `{cell}` was still running after "
            f"{seconds:g} s{at} and was stopped (an endless loop, or training that the autograder does not "
            "skip). The cells after it were graded; make it finish, then submit again."
        )
        _note(NoteKind.CELL_TIME_LIMIT, message)
        raise CellTimeLimit(message)

    def before(info):
        (_folder / boundary.CELL_FILE).write_text(lab5_student_side.first_line(info.raw_cell or ""), encoding="utf-8")
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
            _note(
                NoteKind.PROCESSES_ENDED,
                f"the cell that starts with `{_first_line(result)}` left {len(ended)} process(es) "
                "running; they were ended (at grading, nothing a cell starts may run on after it).",
            )

    shell.events.register("post_run_cell", after)


def enter(folder: str, cell_limit: float, end_leftovers: bool = False) -> None:
    """Called by the cell the autograder puts first in the notebook it grades, before any of its own.
    ``end_leftovers``: the kernel runs in a sandbox, where every process of its user is this grading's."""
    global _folder
    lab5_student_side.keep_priority()  # the kernel is a session of its own
    _folder = Path(folder)
    submitted = Path(lab.RESULTS_FILE)
    use_upload(submitted.read_bytes() if submitted.is_file() else None)
    use_recorded_seed()
    _no_saving()
    _limit_cells(cell_limit)
    if end_leftovers:
        _end_leftovers()
    _tell_memory()
    _stand_in_trainer()


# ---------------------------------------------------------------------------------------------
# Memory, and the notebook's facts for the entry point
# ---------------------------------------------------------------------------------------------


def _out_of_memory(error) -> bool:
    return isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and "can't allocate memory" in str(error))


def _tell_memory() -> None:
    """Where the grader limits the address space (no memory cgroup), a cell whose allocation failed
    raised MemoryError (or torch's allocator error): say that it was memory."""
    limit = os.environ.get(boundary.ADDRESS_SPACE_ENV, "")
    try:
        shell = get_ipython()  # noqa: F821
    except NameError:
        return

    def after(result):
        if _out_of_memory(result.error_in_exec):
            at_most = f" (at most {int(limit) / 2**30:.1f} GB of address space)" if limit.isdigit() else ""
            _note(
                NoteKind.MEMORY,
                f"the cell that starts with `{_first_line(result)}` ran out of memory{at_most} and was "
                "stopped; the cells after it were graded. Make it use less memory, then submit again.",
            )

    shell.events.register("post_run_cell", after)


def _first_line(result) -> str:
    """The first line of the cell a post_run_cell ``result`` is of (IPython's ExecutionResult)."""
    source = (getattr(getattr(result, "info", None), "raw_cell", None) or "").strip()
    return source.splitlines()[0][:80] if source else ""


# The facts at grading (docs/design.md, "Facts, not verdicts"): each name in a process of its own.
NAME_LIMIT_S = 20  # one name's facts (a function's two calls of at most lab5_facts.CALL_LIMIT_S each)
FACTS_LIMIT_S = 60  # all of them
DELIVERED = 90  # the exit status of a process that wrote its name's line


def write_facts(namespace: dict, path: str) -> None:
    """The grading's last cell: the facts of the notebook's graded names (lab5_facts.py), for the entry
    point, which runs every test on them. Each name's facts are taken in a child process of this kernel
    (a fork: the notebook's objects as they are), which writes its line of the file and ends: whatever
    the notebook's code does when the facts call it (raise SystemExit, ignore or swallow the timer, loop,
    end its process) happens there, and costs that name alone; this process ends it at NAME_LIMIT_S and
    writes why. The file grows a line per name as they are taken, so nothing taken is lost."""
    import time

    import lab5_facts as facts

    signal.setitimer(signal.ITIMER_REAL, 0)  # this cell's own limits are these
    started = time.monotonic()
    found = facts._Names(namespace)
    names = facts.order([name for name in facts.GRADED if name in namespace])
    with open(path, "wb", buffering=0) as out:
        out.write(facts.header())
        for name in names:
            left = FACTS_LIMIT_S - (time.monotonic() - started)
            if left <= 0:
                why = f"the notebook's facts were cut off after {FACTS_LIMIT_S} s, before {name}'s"
                out.write(facts.line(name, facts.not_taken(why)))
                continue
            why = _take_in_child(name, namespace, found, out, min(NAME_LIMIT_S, left))
            if why:
                out.write(b"\n" + facts.line(name, facts.not_taken(why)))  # after any part-line the child left
        out.write(facts.end_line(taken=names, seconds=round(time.monotonic() - started, 2)))
    facts.TAKEN = path  # the kernel's own run of the public tests, after this cell, reads these


def _take_in_child(name: str, namespace: dict, found, out, seconds: float) -> str:
    """Take ``name``'s facts in a child process that writes them to ``out``; "" when it did, else why not."""
    import time

    pid = os.fork()
    if pid == 0:  # the child: nothing it does reaches the kernel
        status = 1
        try:
            status = _child(name, namespace, found, out)
        finally:
            os._exit(status)
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return (
                f"taking its facts did not finish within {seconds:.0f} s (the notebook's code it calls never returned)"
            )
        time.sleep(0.005)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == DELIVERED:
        return ""
    how = f"exit status {os.WEXITSTATUS(status)}" if os.WIFEXITED(status) else f"signal {os.WTERMSIG(status)}"
    return f"taking its facts ended the process that took them ({how}: the notebook's code it calls ended it)"


def _child(name: str, namespace: dict, found, out) -> int:
    import lab5_facts as facts

    quiet = open(os.devnull, "w")  # noqa: SIM115 (the kernel's output streams belong to its threads, not here)
    os.dup2(quiet.fileno(), 1)
    os.dup2(quiet.fileno(), 2)
    import sys

    sys.stdout = sys.stderr = quiet
    if "torch" in sys.modules:  # OpenMP's threads do not survive a fork
        sys.modules["torch"].set_num_threads(1)
    facts.GUARD = BaseException
    data = memoryview(facts.line(name, facts.take(name, namespace[name], found)))
    while data:
        data = data[os.write(out.fileno(), data) :]
    return DELIVERED
