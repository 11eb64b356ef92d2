"""The student's side as the grader drives it: its workspace, its process, what it hands back, and
the words for why it was stopped.

Shipped in the autograder zip only: the grader's side. The entry point (lab5_autograder.py) starts
the student's side (lab5_student_side.py, in a sandbox: lab5_sandbox.py) before it loads what it
grades with, gives it the upload, waits for it within the time budget and the write limit, ends every
process of it, and only then reads its report folder (lab5_boundary.REPORT_LIMITS) as untrusted data
(docs/design.md, "The student's side").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import lab5_boundary as boundary
import lab5_facts as facts
import lab5_sandbox as sandbox
import lab5_utils as lab
from lab5_boundary import Note, NoteKind
from lab5_intake import CODE_SUFFIXES, RESULTS_LIMIT, Upload

# What the student's side gets of the autograder's files (source/files), and where the public tests are
# (the build puts the students' tests/ there): nothing else of the autograder reaches it.
STUDENT_SIDE = (
    "lab5_utils.py",
    "lab5_checks.py",
    "lab5_facts.py",
    "lab5_boundary.py",
    "lab5_grading_mode.py",
    "lab5_student_side.py",
    "lab5_otter_plugin.py",
)
PUBLIC_TESTS = "public_tests"
LOG_TAIL = 2**16  # the last bytes of the student's side's output kept for the log


def sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def given_files(ag_dir: Path) -> dict[str, str]:
    """The digest of each file the student's side is given, by the path of otter's copy beside the notebook."""
    source = ag_dir / "source"
    files = {name: sha((source / "files" / name).read_bytes()) for name in STUDENT_SIDE}
    tests = {f"tests/{p.name}": sha(p.read_bytes()) for p in sorted((source / PUBLIC_TESTS).iterdir()) if p.is_file()}
    return files | tests


def changed_given_files(box: Path, before: dict[str, str]) -> list[str]:
    """Otter's copies of the files the student's side was given, beside the notebook (in its workspace
    ``box``), that changed while the notebook ran, and the Python files that appeared among them."""
    submission = box / "autograder" / "submission"
    changed = []
    for rel, digest in before.items():
        try:
            copy = sandbox.read_back(submission, rel, RESULTS_LIMIT)
        except sandbox.TooLarge:
            copy = b""
        if copy is not None and sha(copy) != digest:
            changed.append(rel)
    seen = 0
    try:
        walk = os.fwalk(submission, follow_symlinks=False)
        for folder, dirs, files, _ in walk:
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                seen += 1
                rel = Path(os.path.relpath(os.path.join(folder, name), submission)).as_posix()
                if (
                    rel not in before
                    and rel not in ("__init__.py", lab.RESULTS_FILE)
                    and Path(name).suffix in CODE_SUFFIXES
                ):
                    changed.append(rel)
            if seen > 5000:
                break
    except OSError:
        pass
    return sorted(set(changed))


class StudentSide:
    """The otter process in its sandbox (lab5_sandbox.py, lab5_student_side.py): started first, so that
    it imports otter while this process loads what it grades with; told to go once its workspace holds
    the upload. Its workspace holds what STUDENT_SIDE names and the public tests, nothing else."""

    def __init__(self, ag_dir: Path, box: sandbox.Sandbox):
        self.box = box
        self.ws = ws = box.make_workspace()
        source = ws.path("autograder", "source")
        (source / "files").mkdir(parents=True)
        for name in STUDENT_SIDE:
            shutil.copyfile(ag_dir / "source" / "files" / name, source / "files" / name)
        shutil.copytree(
            ag_dir / "source" / PUBLIC_TESTS, source / "tests", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copyfile(ag_dir / "source" / "otter_config.json", source / "otter_config.json")  # otter rewrites it
        ws.path("autograder", "submission_metadata.json").write_text("{}")
        box.give(ws.path("autograder"))
        env = box.environment(
            {boundary.REPORT_ENV: ws.seen("report"), boundary.CELL_LIMIT_ENV: f"{boundary.CELL_LIMIT_S:g}"}
        )
        entry = ws.seen("autograder", "source", "files", "lab5_student_side.py")
        self.tail = bytearray()
        self.proc = box.start(
            [sys.executable, entry, "--otter", ws.seen("autograder"), ws.seen("report")], env, stdout=subprocess.PIPE
        )
        self.reader = threading.Thread(target=self._read_output, daemon=True)
        self.reader.start()

    def _read_output(self) -> None:
        """Keep the last LOG_TAIL bytes of what the student's side prints (it may print without end)."""
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.tail += chunk
            del self.tail[:-LOG_TAIL]

    def go(self, upload: Upload) -> None:
        folder = self.ws.path("autograder", "submission")
        (folder / upload.notebook_name).write_bytes(upload.notebook)
        if upload.results is not None:
            (folder / lab.RESULTS_FILE).write_bytes(upload.results)
        self.box.give(folder)
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):  # it stopped already; its output says why
            pass

    def wait(self, started: float) -> tuple[str, str] | None:
        """Wait for the student's side to finish; (status, reason) when it is stopped first: at the
        time budget, or when it has written more to disk than WRITE_LIMIT."""
        checked = 0.0
        while self.proc.poll() is None:
            now = time.monotonic()
            if now - started > boundary.BUDGET_S:
                return boundary.TIMED_OUT, budget_reason(boundary.BUDGET_S, self.cell())
            if now - checked >= 1:
                checked = now
                written, where = self.box.written()
                if written > boundary.WRITE_LIMIT:
                    return boundary.STOPPED, (
                        f"Your notebook wrote more than {boundary.size_text(boundary.WRITE_LIMIT)} to disk while it was graded ({where}), "
                        f"so grading stopped there (the cell that starts with `{self.cell() or '?'}`) and nothing "
                        "could be graded. Write no large files in the notebook, then submit again."
                    )
            time.sleep(0.2)
        return None

    def end(self) -> None:
        """End every process of the student's side, then write what it printed to the log."""
        self.box.end()
        self.reader.join(timeout=5)
        if self.tail:
            sys.stdout.write(self.tail.decode("utf-8", "replace"))
            sys.stdout.flush()
            self.tail.clear()

    def read(self, name: str) -> bytes | None:
        """A file of the report folder, as the student's side left it (None: missing, a link, too large)."""
        try:
            return sandbox.read_back(self.ws.path("report"), name, boundary.REPORT_LIMITS[name])
        except sandbox.TooLarge:
            return None

    def cell(self) -> str:
        """The first line of the cell the notebook was running (written by the grading-mode cell)."""
        data = self.read(boundary.CELL_FILE)
        return data.decode("utf-8", "replace").strip().splitlines()[0][:90] if data and data.strip() else ""

    def results_file(self) -> bytes | None:
        """The results file beside the notebook after it ran (b"" when it is too large to read)."""
        try:
            return sandbox.read_back(self.ws.path("autograder", "submission"), lab.RESULTS_FILE, RESULTS_LIMIT)
        except sandbox.TooLarge:
            return b""

    def network(self) -> str:
        """How the notebook's kernel was kept off the network, as its launcher said (untrusted: said only)."""
        said = (self.read(boundary.NETWORK_FILE) or b"").decode("utf-8", "replace").strip()[:200]
        return self.box.describe_network(said)


def budget_reason(seconds: float, cell: str = "") -> str:
    """Why a submission was stopped after ``seconds``: the same words from the entry point's budget
    and from the TA command's timeout."""
    where = f"the cell that starts with `{cell}`" if cell else "a cell"
    return (
        f"A cell never finished: grading stopped after {seconds:g} s while {where} was running (an "
        "endless loop, or training that the autograder does not skip). Nothing could be graded: make "
        "every cell finish (run the notebook top to bottom once), then submit again."
    )


# What grading the lab needs at most, all processes together (docs/performance.md, "The full profile")
GRADING_MEMORY = "1.1 GB"


def memory_reason(memory: sandbox.Memory, cell: str = "") -> str:
    """Why a submission was stopped when its notebook used more memory than the grading allows."""
    where = f"the cell that starts with `{cell}`" if cell else "a cell"
    if memory.machine_ran_out:  # the container's limit: the instructor's setting, or the notebook
        return (
            f"The grading machine's memory ({memory.machine_limit / 2**20:.0f} MB for all of grading) ran out while your "
            f"notebook was graded, so grading stopped there ({where}) and nothing could be graded. The lab needs about "
            f"{GRADING_MEMORY} at grading: if your notebook keeps nothing beyond what the lab asks for, tell your instructor "
            "(the autograder's memory setting); else make that cell use less memory, then submit again."
        )
    limit = memory.limit
    return (
        f"Your notebook used more than {limit / 2**30:.1f} GB of memory while it was graded, so grading stopped "
        f"there ({where}) and nothing could be graded. At grading nothing is trained: make that cell use less "
        "memory (no copies of the data or the models beyond the lab's), then submit again."
    )


def kernel_died_reason(memory: sandbox.Memory, cell: str = "") -> str:
    """Why a submission was stopped when its kernel died in every pass (no memory cgroup saw it run out)."""
    where = f"the cell that starts with `{cell}`" if cell else "a cell"
    return (
        f"The notebook's kernel died while it was graded ({where}), so nothing could be graded: a cell that ends "
        f"its own process (os._exit, a crash in native code), or memory (at grading your notebook may use "
        f"{memory.describe()}). Make that cell finish, run the notebook top to bottom, then submit again."
    )


def exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def no_facts(side: StudentSide, kernel: dict) -> tuple[str, str]:
    """(status, reason) of a submission whose student's side handed back no facts at all."""
    error = str(kernel.get("error") or "")[:1000]
    if "kernel died" in error.lower():  # in every pass: nbclient's DeadKernelError
        return boundary.STOPPED, kernel_died_reason(side.box.memory, side.cell())
    if error:  # otter's own errors (e.g. another assignment's notebook)
        return boundary.NOT_GRADABLE, f"This submission could not be graded: {error}"
    cell = side.cell()
    where = f" while the cell that starts with `{cell}` ran" if cell else ""
    return boundary.STOPPED, (
        f"Grading stopped before the tests ran: the processes that run your notebook ended without results "
        f"({exit_text(side.proc.returncode)}){where}, before the notebook's last cell, which reads its variables, "
        "could run: a cell that ends processes (os.kill, kill -1) or that uses up the memory. Run the notebook top "
        "to bottom, then submit again."
    )


def ending(side: StudentSide, kernel: dict, env: facts.FactsEnv, size: int) -> tuple[dict, list[Note]]:
    """How the student's side ended, for the TA (``extra_data.student_side``), and the notes it makes:
    otter's exit (seen here), its passes and skipped cells (as it said), whether the facts reached their
    end (their ``size`` in bytes, the values counted), the names that could not be taken and why. Abnormal
    ends are flagged."""
    said = lab.read_json(side.read(boundary.SIDE_FILE) or b"null")
    said = said if isinstance(said, dict) else {}
    skipped = said.get("skipped") if isinstance(said.get("skipped"), dict) else {}
    skipped = {str(cell)[:90]: str(why)[:90] for cell, why in list(skipped.items())[:5]}
    passes = said.get("passes") if isinstance(said.get("passes"), list) else []
    not_taken = {name: value.reason for name, value in env.items() if isinstance(value, facts.Unreadable)}
    found = {
        "otter_exit": side.proc.returncode,
        "kernel_error": str(kernel.get("error") or "")[:300],
        "passes": len(passes),
        "skipped": skipped,
        "facts": "complete" if env.end is not None else "cut off before their end",
        "facts_seconds": (env.end or {}).get("seconds"),
        "facts_bytes": size,
        "facts_values": env.counted,
        "not_taken": {name: reason[:200] for name, reason in not_taken.items()},
    }
    notes = []
    if not_taken:
        listed = "; ".join(f"{name}: {reason}" for name, reason in list(not_taken.items())[:4])
        notes.append(
            Note(
                NoteKind.FACTS_NOT_TAKEN,
                f"The autograder could not read {', '.join(not_taken)} from your notebook ({listed[:600]}); the tests "
                "that need them failed with that reason, and everything else was graded.",
                listed[:300],
            )
        )
    abnormal = []
    if side.proc.returncode != 0:
        abnormal.append(f"otter {exit_text(side.proc.returncode)}")
    if kernel.get("error"):
        abnormal.append(f"otter: {str(kernel['error'])[:120]}")
    elif not kernel:
        abnormal.append("no verdicts from its kernel")
    if env.end is None:
        abnormal.append("the notebook's facts stop before their end")
    if not said:
        abnormal.append("it did not say how it ended")
    if abnormal:
        notes.append(
            Note(
                NoteKind.SIDE_ENDED,
                "The processes that ran your notebook ended before grading was done; what they handed back was graded.",
                "; ".join(abnormal) + " (graded from what it handed back: look at the notebook)",
            )
        )
    return found, notes


def kernel_notes(data: bytes | None) -> list[Note]:
    """What the grading mode saw in the kernel (training called, a cell stopped, processes ended)."""
    notes = []
    for line in (data or b"").decode("utf-8", "replace").splitlines()[:200]:
        try:
            note = json.loads(line)
            kind = str(note["kind"])[:40]
            notes.append(Note(boundary.note_kind(kind), str(note["message"])[:1000]))
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
    return notes
