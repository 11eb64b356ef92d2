"""The autograder's entry point: take the upload, let otter grade the notebook on the student's side,
decide the results questions here, within a time budget.

Gradescope's run_autograder (as root) and the TA command (tools/grade.py, as the TA) run

    python /autograder/source/files/lab5_autograder.py /autograder

docs/design.md, "The trust boundary". Grading is a function of the uploaded files, on two sides:

- The grader's side, this process (root on Gradescope), never runs the notebook's code. It
  1. takes the upload into memory: the notebook and lab5_results.json, each read with a size limit
     (a zip is read, never unpacked to disk); an unreadable upload gets zero on every test case with a
     message that says what to upload instead; everything else is left out (the student is told; code
     that could be imported instead of the autograder's own files is flagged for the TA);
  2. loads, before any of the notebook's code runs, what decides the results questions: the
     autograder's modules and test files, the true labels of the test subset, and the uploaded
     lab5_results.json, kept in memory;
  3. makes the student's side (lab5_sandbox.py): a workspace holding a copy of the autograder's files
     and of the two uploaded files, and a process that runs otter there, as an unprivileged user or in
     a bubblewrap sandbox, within the time budget and a limit on what it writes;
  4. ends every process of the student's side, then reads what it handed back (its report folder:
     each test case's result in the kernel, the notebook's answers, notes) as untrusted data,
     size-limited, no links followed;
  5. grades the results questions (RESULTS_QUESTIONS) itself, with the same test files, from the
     upload and the notebook's answers (lab5_utils.ACCURACIES); takes the kernel's verdict on the
     other questions, which need the notebook's objects; flags a notebook whose kernel came to another
     verdict on a results question, changed its copy of the autograder's files, or rewrote the results
     file; and writes Gradescope's results.json itself (scores, messages, and in extra_data for the TA
     each test case, the graded results file's facts, the sandbox and the flags).
- The student's side (``--otter``) runs otter's run_autograder with the GradingMode plugin: one cell
  first in the notebook (lab5_grading_mode.enter: nothing trained, the submitted results file as what
  the notebook reads, a time limit per cell, processes a cell leaves behind ended) and one cell last
  (lab5_grading_mode.export_answers). All it reports comes from the student's kernel.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

FILES = Path(__file__).resolve().parent  # the autograder's own files: this one, the helper, the reference
sys.path.insert(0, str(FILES))
import lab5_sandbox as sandbox  # noqa: E402  (beside this file, in the autograder's files)
import lab5_utils as lab  # noqa: E402  (the names of the lab's files, runs and answers)
from lab5_grading_mode import NoteKind  # noqa: E402  (the kinds of grading notes)

sys.path.remove(str(FILES))

# The time limits of grading: the one place to change them (or set the environment variables).
CELL_LIMIT_S = float(os.environ.get("LAB5_CELL_LIMIT_S") or 60)  # one cell of the notebook
BUDGET_S = float(os.environ.get("LAB5_GRADING_BUDGET_S") or 300)  # the whole submission; Gradescope's default is 600
GRADING_ENV = "LAB5_GRADING_DIR"  # tells the student's side where its report folder is
# What the upload may hold, unpacked: a notebook with its outputs is a few MB, a results file of this
# lab about 0.3 MB. Anything larger is not read (a zip is never unpacked to disk).
NOTEBOOK_LIMIT = 64 * 2**20
RESULTS_LIMIT = 16 * 2**20
# What the student's side may hand back (its report folder): more is not read.
REPORT_LIMITS = {"kernel.json": 8 * 2**20, "answers.json": 2**16, "notes.jsonl": 2**18, "cell.txt": 2**10}
LOG_TAIL = 2**16  # the last bytes of the student's side's output kept for the log
# The questions decided in this process, from the upload: their tests read no more of the notebook
# than its accuracies (lab5_utils.ACCURACIES; a test checks this).
RESULTS_QUESTIONS = ("q5_results", "q7_scratch_results")
MODULES = ("lab5_utils", "lab5_checks", "lab5_answer_key", "lab5_grading_mode")
CODE_SUFFIXES = {".py", ".pyc", ".pyo", ".pyd", ".so", ".pth"}
# What operating systems and Jupyter put beside a notebook by themselves: never code of the student's.
CLUTTER = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", ".OTTER_LOG"}

NOTEBOOK_HINT = (
    "Upload the zip that the last cell of lab5.ipynb makes (or, from Colab, lab5.ipynb together "
    "with lab5_results.json)."
)
GRADING_CELL = (
    "# Added by the autograder: the notebook runs in grading mode (nothing is trained; your submitted\n"
    "# lab5_results.json is graded; a cell that runs too long is stopped).\n"
    "import lab5_grading_mode as _lab5_grading\n"
    "_lab5_grading.enter({folder!r}, {limit}, end_leftovers={isolated})\n"
)
ANSWERS_CELL = (
    "# Added by the autograder: the accuracies that questions 5 and 7 compare with lab5_results.json.\n"
    "import lab5_grading_mode as _lab5_grading\n"
    "_lab5_grading.export_answers(globals(), {path!r})\n"
)


@cache
def _grading_mode_plugin():
    from otter.plugins import AbstractOtterPlugin

    class GradingMode(AbstractOtterPlugin):
        """Otter plugin: the grading-mode cell goes first in the notebook otter executes (otter's own
        cells come before it) and the answers cell last (otter's tests come after it); the uploaded
        file is not changed."""

        def before_execution(self, submission):
            import nbformat

            folder = Path(os.environ[GRADING_ENV])
            isolated = os.environ.get(sandbox.ISOLATED_ENV) == "1"
            first = GRADING_CELL.format(folder=str(folder), limit=CELL_LIMIT_S, isolated=isolated)
            submission.cells.insert(0, nbformat.v4.new_code_cell(first))
            submission.cells.append(nbformat.v4.new_code_cell(ANSWERS_CELL.format(path=str(folder / "answers.json"))))
            return submission

    return GradingMode


def __getattr__(name: str):
    # Otter loads the plugin as lab5_autograder.GradingMode; made on that first use, so that the entry
    # point does not import otter (a second or more) before it starts the otter process.
    if name == "GradingMode":
        return _grading_mode_plugin()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def test_cases(ag_dir: Path) -> dict[str, dict[str, float]]:
    """Question -> {test case name: points}, as the autograder's test files define them."""
    from otter.test_files import ExceptionTestFile

    questions = {}
    for path in sorted((ag_dir / "source" / "tests").glob("*.py")):
        test_file = ExceptionTestFile.from_file(str(path))
        questions[test_file.name] = {case.name: case.points for case in test_file.test_cases}
    return questions


# The statuses of a submission that was not graded in full: for the TA's report, each with a flag.
FLAGGED_STATUSES = ("timed out", "stopped")


def zero_results(ag_dir: Path, reason: str, status: str = "not gradable") -> dict:
    """Gradescope results as otter writes them (one entry per question), all at zero, each saying
    why; ``extra_data`` tells graders what happened."""
    questions = test_cases(ag_dir)
    tests = [
        {"name": question, "score": 0, "max_score": sum(cases.values()), "output": reason, "visibility": "visible"}
        for question, cases in questions.items()
    ]
    cases = {name: {"passed": False, "score": 0, "max_score": points, "message": reason}
             for question in questions.values() for name, points in question.items()}
    return {"score": 0, "output": reason, "tests": tests,
            "extra_data": {"status": status, "reason": reason, "cases": cases,
                           "flags": [reason] if status in FLAGGED_STATUSES else []}}


def write_results(ag_dir: Path, results: dict) -> None:
    path = ag_dir / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


# --------------------------------------------------------------------------------------------
# 1. The upload
# --------------------------------------------------------------------------------------------


class Note(NamedTuple):
    """Something that happened at grading: ``message`` tells the student (shown unless its kind is
    "results rejected", which the failing tests explain); ``flag``, if the kind is FLAGGED, tells the
    TA in a few words (default: the message)."""

    kind: NoteKind | str  # a string: a kind the kernel reported that this lab does not know
    message: str
    flag: str = ""


class _Entry(NamedTuple):
    """A file of the upload: its path (in the folder, or in a zip of it), its size, how to read it."""

    name: str
    size: int
    read: object  # (limit) -> bytes
    link: bool = False


@dataclass
class Upload:
    """What was handed in, as grading takes it: the notebook and the results file (bytes, or None),
    what was left out (code, and the rest), why it cannot be graded (``problem``), and notes."""

    notebook_name: str = ""
    notebook: bytes | None = None
    results: bytes | None = None
    code: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    problem: str | None = None
    notes: list[Note] = field(default_factory=list)


def _folder_entries(submission: Path) -> list[_Entry]:
    """The files of the submission folder (no link followed)."""
    entries = []
    for top, dirs, files in os.walk(submission, followlinks=False):
        for name in files + [d for d in dirs if (Path(top) / d).is_symlink()]:
            path = Path(top) / name
            rel = path.relative_to(submission).as_posix()
            if path.is_symlink():
                entries.append(_Entry(rel, 0, lambda limit: b"", link=True))
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            entries.append(_Entry(rel, size, lambda limit, p=path: sandbox.read_back(p.parent, p.name, limit) or b""))
    return entries


def _zip_entries(archive: Path) -> list[_Entry]:
    """The files of a zip, read on demand (a member is never read past its limit; nothing is unpacked)."""
    zf = zipfile.ZipFile(archive)

    def read(info, limit):
        with zf.open(info) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise sandbox.TooLarge(info.filename)
        return data

    return [_Entry(info.filename.lstrip("/"), info.file_size, lambda limit, i=info: read(i, limit))
            for info in zf.infolist() if not info.is_dir()]


def _is_code(name: str, entries: list[_Entry]) -> bool:
    """Whether the top-level ``name`` (a file, or a folder of ``entries``) could be imported or run by
    Python, unless it is an unchanged copy of one of the autograder's own files (a student's lab5_utils.py)."""
    if name in CLUTTER:
        return False

    def code_like(rel: str) -> bool:
        path = Path(rel)
        return path.suffix in CODE_SUFFIXES or path.stem in ("sitecustomize", "usercustomize")

    if len(entries) == 1 and entries[0].name == name:  # a file
        entry = entries[0]
        if not code_like(name) or entry.link:
            return code_like(name)
        own = FILES / name
        if own.is_file() and entry.size == own.stat().st_size:
            try:
                return entry.read(entry.size) != own.read_bytes()
            except Exception:  # noqa: BLE001 (a damaged member is not the autograder's file)
                return True
        return True
    return any(code_like(e.name) for e in entries)


def _listed(names: list[str], most: int = 12) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def take_upload(submission: Path) -> Upload:
    """Read the upload in ``submission`` (a folder, as Gradescope keeps it): its files, or, when it
    holds no notebook, the files of its zips (Gradescope may keep an uploaded zip whole)."""
    import nbformat

    upload = Upload()
    entries = _folder_entries(submission)
    unpacked, damaged = [], []
    if not any("/" not in e.name and e.name.endswith(".ipynb") and not e.link for e in entries):
        for entry in [e for e in entries if "/" not in e.name and e.name.lower().endswith(".zip") and not e.link]:
            try:
                entries += _zip_entries(submission / entry.name)
                unpacked.append(entry.name)
            except (zipfile.BadZipFile, OSError, ValueError):
                damaged.append(entry.name)
    entries = [e for e in entries if e.name not in unpacked]
    notebooks = sorted(e.name for e in entries if "/" not in e.name and e.name.endswith(".ipynb") and not e.link)
    if not notebooks:
        upload.problem = (f"The uploaded zip file is damaged and cannot be opened. {NOTEBOOK_HINT}" if damaged
                          else f"The submission has no notebook (.ipynb file). {NOTEBOOK_HINT}")
        return upload
    if len(notebooks) > 1:
        upload.problem = f"The submission has {len(notebooks)} notebooks ({', '.join(notebooks)}); keep only lab5.ipynb."
        return upload
    name = notebooks[0]
    entry = next(e for e in entries if e.name == name)
    if entry.size > NOTEBOOK_LIMIT:
        upload.problem = (f"{name} is {_size(entry.size)}, more than the {_size(NOTEBOOK_LIMIT)} a notebook of this lab "
                          "may be: clear its outputs (Kernel > Restart Kernel and Clear Outputs), save, and export again.")
        return upload
    try:
        data = entry.read(NOTEBOOK_LIMIT)
        nbformat.validate(nbformat.reads(data.decode("utf-8"), as_version=4))
    except Exception as e:  # nbformat, json and zip raise several kinds for unreadable files
        text = str(e).strip()
        first_line = text.splitlines()[0] if text else type(e).__name__
        upload.problem = (f"{name} is not a readable Jupyter notebook ({first_line[:200]}). Open it in "
                          f"Jupyter, save it, and submit again. {NOTEBOOK_HINT}")
        return upload
    upload.notebook_name, upload.notebook = name, data

    results = next((e for e in entries if e.name == lab.RESULTS_FILE), None)
    if results is not None and not results.link:
        if results.size > RESULTS_LIMIT:
            upload.notes.append(Note(NoteKind.RESULTS_TOO_LARGE, (
                f"The {lab.RESULTS_FILE} you submitted is {_size(results.size)} unpacked; a results file of this lab is "
                f"about 0.3 MB (at most {_size(RESULTS_LIMIT)} is read). It was not read: questions 5 and 7 are graded "
                f"as if none was submitted. Submit the {lab.RESULTS_FILE} that lab.save_results wrote."),
                f"{lab.RESULTS_FILE} of {_size(results.size)} not read"))
        else:
            try:
                upload.results = results.read(RESULTS_LIMIT)
            except Exception:  # noqa: BLE001 (a damaged zip member: graded as not submitted)
                upload.notes.append(Note(NoteKind.RESULTS_TOO_LARGE, (
                    f"The {lab.RESULTS_FILE} in your zip could not be unpacked (the zip is damaged): questions 5 and 7 are "
                    "graded as if none was submitted. Export the zip again."), f"{lab.RESULTS_FILE} damaged in the zip"))

    tops: dict[str, list[_Entry]] = {}
    for e in entries:
        tops.setdefault(e.name.split("/", 1)[0], []).append(e)
    for top in sorted(tops):
        members = tops[top]
        is_file = len(members) == 1 and members[0].name == top
        if top == name or (top == lab.RESULTS_FILE and is_file and not members[0].link):
            continue
        shown = top + ("" if is_file else "/")
        if _is_code(top, members) and not (is_file and members[0].link):
            upload.code.append(shown)
        elif top not in (f"{Path(name).stem}.pdf", ".OTTER_LOG"):
            upload.other.append(shown)
    return upload


# --------------------------------------------------------------------------------------------
# 2. What decides the results questions, loaded before the notebook runs
# --------------------------------------------------------------------------------------------


class ResultsGrader:
    """The autograder's modules and test files, the true labels, and the upload, in this process."""

    def __init__(self, ag_dir: Path, upload: bytes | None):
        import importlib

        from otter.run.run_autograder.autograder_config import AutograderConfig
        from otter.test_files import ExceptionTestFile

        sys.path.insert(0, str(FILES))
        try:
            modules = {name: importlib.import_module(name) for name in MODULES}
        finally:
            sys.path.remove(str(FILES))
        for name, module in modules.items():
            if Path(module.__file__).resolve().parent != FILES:
                raise RuntimeError(f"{name} was imported from {module.__file__}, not from the autograder's files")
        # Nothing imported from here on comes from FILES (the student's side has its own copy of them).
        while str(FILES) in sys.path:
            sys.path.remove(str(FILES))
        self.lab, self.checks, self.ref, self.mode = (modules[name] for name in MODULES)
        self.upload = upload
        self.mode.use_upload(upload)
        self.config = AutograderConfig(json.loads((ag_dir / "source" / "otter_config.json").read_text()))
        self.test_files = {}
        for path in sorted((ag_dir / "source" / "tests").glob("*.py")):
            test_file = ExceptionTestFile.from_file(str(path))
            self.test_files[test_file.name] = test_file
        self.ref.subsets()  # the true labels, read now
        from otter.test_files import GradingResults  # noqa: F401  (what grading imports, imported before the notebook runs)
        from otter.test_files.abstract_test import TestCaseResult  # noqa: F401
        # A first run with the accuracies the upload claims: whatever the checks import, they import now.
        record = self.lab.read_json(upload) if upload is not None else None
        self.grade({name: record.get(name) for name in self.lab.ACCURACIES} if isinstance(record, dict) else {})

    def grade(self, answers: dict) -> dict[str, dict[str, tuple[bool, str]]]:
        """Run the results questions' tests against the upload and the notebook's ``answers``:
        question -> {test case: (passed, message)}."""
        verdict = {}
        for question in RESULTS_QUESTIONS:
            test_file = self.test_files[question]
            test_file.run(dict(answers))
            verdict[question] = {r.test_case.name: (bool(r.passed), r.message or "") for r in test_file.test_case_results}
        return verdict

    def facts(self, answers: dict) -> dict:
        """What the TA report shows of the graded results file: whether it was submitted, why it was
        rejected, the accuracies of its accepted runs on the true labels (and the notebook's acc_bow),
        the training seed it records, digests of each run's predictions and scores (which two
        students' runs never share: each has its own seed), and each run's predictions and scores
        themselves (``run_vectors``: how much two students' runs agree tells a copy, tools/agreement.py)."""
        lab, ref = self.lab, self.ref
        facts = {"submitted": self.upload is not None, "rejected": [], "accuracies": {}, "seed": None,
                 "predictions": {}, "scores": {}}
        bow = answers.get("acc_bow")
        number = isinstance(bow, numbers.Real) and not isinstance(bow, bool) and math.isfinite(bow)
        facts["accuracies"]["acc_bow"] = float(bow) if number else None  # the notebook's, as question 2 graded it
        for run in lab.RUNS:
            facts["accuracies"][f"acc_{run}"] = None
            if self.upload is None:
                continue
            try:
                facts["accuracies"][f"acc_{run}"] = ref.accuracy(ref.results(run), run)
            except lab.ResultsError as e:
                facts["rejected"].append(e.reason)
        facts["rejected"] = list(dict.fromkeys(facts["rejected"]))
        record = lab.read_json(self.upload) if self.upload is not None else None
        if not isinstance(record, dict):
            return facts
        facts["seed"] = lab.recorded_seed(record)
        facts["runs"] = {}
        for run in lab.RUNS:
            for kind, key in (("predictions", f"{run}_preds"), ("scores", f"{run}_logits")):
                if isinstance(record.get(key), list) and record[key]:
                    facts[kind][run] = hashlib.sha256(json.dumps(record[key]).encode()).hexdigest()
            vectors = run_vectors(record, run, self.checks.predictions_shape(record, run, lab.get_profile().test_size))
            if vectors is not None:
                facts["runs"][run] = vectors
        return facts


def run_vectors(record: dict, run: str, shape_problem: str | None) -> dict | None:
    """``run``'s test predictions and scores, compact, for the TA report's comparison of students' runs
    (tools/agreement.py): the predictions as one digit per tweet, the scores as little-endian float32
    in base64. None unless both are shaped as the helper writes them (``shape_problem`` is None) and
    the scores fit a float32."""
    import base64
    import struct

    preds, logits = record.get(f"{run}_preds"), record.get(f"{run}_logits")
    if shape_problem is not None or any(abs(v) >= 1e30 for row in logits for v in row):
        return None
    scores = struct.pack(f"<{3 * len(preds)}f", *(float(v) for row in logits for v in row))
    return {"predictions": "".join(map(str, preds)), "scores": base64.b64encode(scores).decode()}


def grader_files(ag_dir: Path) -> dict[str, str]:
    """The digest of each of the autograder's files, by the path of otter's copy beside the notebook."""
    source = ag_dir / "source"
    files = {p.name: _sha(p.read_bytes()) for p in sorted((source / "files").iterdir()) if p.is_file()}
    tests = {f"tests/{p.name}": _sha(p.read_bytes()) for p in sorted((source / "tests").iterdir()) if p.is_file()}
    return files | tests


def changed_grader_files(box: Path, before: dict[str, str]) -> list[str]:
    """Otter's copies of the autograder's files beside the notebook (in the student's workspace ``box``)
    that changed while the notebook ran, and the Python files that appeared among them."""
    submission = box / "autograder" / "submission"
    changed = []
    for rel, digest in before.items():
        try:
            copy = sandbox.read_back(submission, rel, RESULTS_LIMIT)
        except sandbox.TooLarge:
            copy = b""
        if copy is not None and _sha(copy) != digest:
            changed.append(rel)
    seen = 0
    try:
        walk = os.fwalk(submission, follow_symlinks=False)
        for folder, dirs, files, _ in walk:
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                seen += 1
                rel = Path(os.path.relpath(os.path.join(folder, name), submission)).as_posix()
                if rel not in before and rel not in ("__init__.py", lab.RESULTS_FILE) and Path(name).suffix in CODE_SUFFIXES:
                    changed.append(rel)
            if seen > 5000:
                break
    except OSError:
        pass
    return sorted(set(changed))


# --------------------------------------------------------------------------------------------
# 3. The student's side
# --------------------------------------------------------------------------------------------


class StudentSide:
    """The otter process in its sandbox (lab5_sandbox.py): started first, so that it imports otter
    while this process takes the upload; told to go once its workspace holds the upload."""

    def __init__(self, ag_dir: Path, box: sandbox.Sandbox):
        self.box = box
        self.ws = ws = box.make_workspace()
        source = ws.path("autograder", "source")
        # otter's tree, the student's own copy (otter rewrites its otter_config.json)
        shutil.copytree(ag_dir / "source", source, ignore=shutil.ignore_patterns("__pycache__"))
        ws.path("autograder", "submission_metadata.json").write_text("{}")
        box.give(ws.path("autograder"))
        env = box.environment({GRADING_ENV: ws.seen("report"), "LAB5_CELL_LIMIT_S": f"{CELL_LIMIT_S:g}"})
        entry = ws.seen("autograder", "source", "files", Path(__file__).name)
        self.tail = bytearray()
        self.proc = box.start([sys.executable, entry, "--otter", ws.seen("autograder"), ws.seen("report")],
                              env, stdout=subprocess.PIPE)
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
            if now - started > BUDGET_S:
                return "timed out", budget_reason(BUDGET_S, self.cell())
            if now - checked >= 1:
                checked = now
                written, where = self.box.written()
                if written > sandbox.WRITE_LIMIT:
                    return "stopped", (
                        f"Your notebook wrote more than {_size(sandbox.WRITE_LIMIT)} to disk while it was graded ({where}), "
                        f"so grading stopped there (the cell that starts with `{self.cell() or '?'}`) and nothing "
                        "could be graded. Write no large files in the notebook, then submit again.")
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
            return sandbox.read_back(self.ws.path("report"), name, REPORT_LIMITS[name])
        except sandbox.TooLarge:
            return None

    def cell(self) -> str:
        """The first line of the cell the notebook was running (written by the grading-mode cell)."""
        data = self.read("cell.txt")
        return data.decode("utf-8", "replace").strip().splitlines()[0][:90] if data and data.strip() else ""

    def results_file(self) -> bytes | None:
        """The results file beside the notebook after it ran (b"" when it is too large to read)."""
        try:
            return sandbox.read_back(self.ws.path("autograder", "submission"), lab.RESULTS_FILE, RESULTS_LIMIT)
        except sandbox.TooLarge:
            return b""


def otter_process(ag_dir: Path, report: Path) -> int:
    """The student's side: run otter on the notebook (with the GradingMode plugin) once the entry point
    says go, and report each test case's result, as the kernel found it, in report/kernel.json."""
    sandbox.keep_priority(own_session=True)  # Sandbox.start gives it a session of its own
    sandbox.apply_limits()
    import tempfile

    otter_tmp = report / "otter"  # otter's own temporary files: not in /tmp, which the notebook may fill
    otter_tmp.mkdir(exist_ok=True)
    tempfile.tempdir = str(otter_tmp)
    from otter.run.run_autograder import main as run_autograder

    sys.stdin.readline()  # the entry point has loaded what it grades with, and put the upload here
    out = report / "kernel.json"
    try:
        overrides = {"assignment_name": None} if lost_assignment_name(ag_dir / "submission") else {}
        run_autograder(str(ag_dir), plugins=["lab5_autograder.GradingMode"], **overrides)
    except Exception as e:  # otter's own errors (e.g. another assignment's notebook): no results
        out.write_text(json.dumps({"error": str(e).strip() or type(e).__name__}), encoding="utf-8")
        return 1
    import dill

    with open(ag_dir / "results" / "results.pkl", "rb") as f:
        results = dill.load(f)
    failure = results.catastrophic_error
    cases = {name: {r.test_case.name: {"passed": bool(r.passed), "message": r.message or ""}
                    for r in test_file.test_case_results}
             for name, test_file in results.results.items()}
    out.write_text(json.dumps({"cases": cases, "failure": str(failure) if failure else None}), encoding="utf-8")
    return 0


def lost_assignment_name(submission: Path) -> bool:
    """Whether the notebook lost otter's metadata (its cells copied into a new notebook, or an editor
    that drops metadata): otter would refuse it as "assignment 'None'"; it is graded as this lab."""
    import nbformat

    nb = nbformat.read(next(submission.glob("*.ipynb")), as_version=4)
    return not (nb.metadata.get("otter") or {}).get("assignment_name")


# --------------------------------------------------------------------------------------------
# 4. Notes and flags
# --------------------------------------------------------------------------------------------


def budget_reason(seconds: float, cell: str = "") -> str:
    """Why a submission was stopped after ``seconds``: the same words from the entry point's budget
    and from the TA command's timeout."""
    where = f"the cell that starts with `{cell}`" if cell else "a cell"
    return (
        f"A cell never finished: grading stopped after {seconds:g} s while {where} was running (an "
        "endless loop, or training that the autograder does not skip). Nothing could be graded: make "
        "every cell finish (run the notebook top to bottom once), then submit again."
    )


def kernel_notes(data: bytes | None) -> list[Note]:
    """What the grading mode saw in the kernel (training called, a cell stopped, processes ended)."""
    notes = []
    for line in (data or b"").decode("utf-8", "replace").splitlines()[:200]:
        try:
            note = json.loads(line)
            kind = str(note["kind"])[:40]
            notes.append(Note(NoteKind(kind) if kind in KINDS else kind, str(note["message"])[:1000]))
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
    return notes


# What a TA should look at (the report's "needs a human look"); the other notes only inform.
FLAGGED = {
    NoteKind.RESULTS_REJECTED: f"{lab.RESULTS_FILE} rejected",
    NoteKind.RESULTS_REWRITTEN: f"{lab.RESULTS_FILE} rewritten at grading",
    NoteKind.RESULTS_TOO_LARGE: f"{lab.RESULTS_FILE} not read",
    NoteKind.CELL_TIME_LIMIT: "a cell was stopped at grading",
    NoteKind.PROCESSES_ENDED: "a cell left processes running at grading",
    NoteKind.CODE_REMOVED: "code in the upload removed before grading",
    NoteKind.CHECKS_CHANGED: "the notebook changed the grader's checks",
    NoteKind.GRADER_FILES_CHANGED: "the notebook changed the autograder's files",
}
KINDS = {kind.value for kind in NoteKind}


def add_notes(results: dict, notes: list[Note]) -> dict:
    """Put the grading notes into Gradescope's results: the output students see, and extra_data."""
    notes = list(dict.fromkeys(notes))  # each note once, in the order it happened
    shown = [note.message for note in notes if note.kind != NoteKind.RESULTS_REJECTED]
    if shown:
        text = "Notes from grading:\n" + "\n".join(f"- {message}" for message in shown)
        results["output"] = (text + "\n\n" + (results.get("output") or "")).strip()
    extra = results.setdefault("extra_data", {})
    extra.setdefault("flags", [])
    extra["flags"] += [f"{FLAGGED[note.kind]}: {note.flag or note.message}" for note in notes if note.kind in FLAGGED]
    extra["notes"] = shown
    return results


def question_score(verdict: dict[str, tuple[bool, str]], test_file) -> tuple[float, float]:
    points = {case.name: case.points for case in test_file.test_cases}
    return sum(points[name] for name, (passed, _) in verdict.items() if passed), sum(points.values())



# --------------------------------------------------------------------------------------------
# 5. Grading
# --------------------------------------------------------------------------------------------


def graded_results(grader: ResultsGrader, kernel: dict, answers: dict) -> tuple[dict, list[Note]]:
    """Gradescope's results: the results questions as graded here, the others as the kernel found
    them; and the notes on where the kernel's verdict on a results question differs."""
    from otter.test_files import GradingResults
    from otter.test_files.abstract_test import TestCaseResult

    notes = []
    verdict = grader.grade(answers)
    found = kernel.get("cases") if isinstance(kernel.get("cases"), dict) else {}
    failure = kernel.get("failure") or "the tests did not run in the notebook's kernel"
    cases = {}
    for name, test_file in grader.test_files.items():
        got = found.get(name) if isinstance(found.get(name), dict) else {}
        if name in RESULTS_QUESTIONS:
            theirs = {case: bool(r.get("passed") is True) for case, r in got.items() if isinstance(r, dict)}
            mine = {case: passed for case, (passed, _) in verdict[name].items()}
            if theirs and theirs != {case: mine.get(case) for case in theirs}:
                graded, possible = question_score(verdict[name], test_file)
                inside = sum(c.points for c in test_file.test_cases if theirs.get(c.name))
                notes.append(Note(NoteKind.CHECKS_CHANGED, (
                    f"{name} is graded by the autograder outside your notebook, from the {lab.RESULTS_FILE} you "
                    f"submitted: {graded:g} of {possible:g} points. Inside your notebook it came out {inside:g} of "
                    f"{possible:g}: the notebook changed the autograder's checks, or what they read, while it was graded."),
                    f"{name} {graded:g} of {possible:g} from the upload, {inside:g} in the notebook's kernel"))
            continue
        results = []
        for case in test_file.test_cases:
            r = got.get(case.name) if isinstance(got.get(case.name), dict) else {}
            message = r.get("message") if isinstance(r.get("message"), str) else f"❌ Test case failed\n{failure}"
            results.append(TestCaseResult(test_case=case, message=message, passed=r.get("passed") is True))
        test_file.test_case_results = results
    for name, test_file in grader.test_files.items():
        for r in test_file.test_case_results:
            cases[r.test_case.name] = {"passed": bool(r.passed), "score": r.test_case.points if r.passed else 0,
                                       "max_score": r.test_case.points, "message": "" if r.passed else r.message}
    results = GradingResults(list(grader.test_files.values())).to_gradescope_dict(grader.config)
    results["extra_data"] = {"status": "graded", "reason": "", "cases": cases}
    return results, notes


def grade(ag_dir: Path) -> dict:
    """Grade the upload in ``ag_dir``/submission; return Gradescope's results."""
    started = time.monotonic()
    box = sandbox.choose()
    if box.user is not None:  # the grader's folders: the student's side has its own copies
        for sub in ("source", "submission", "results"):
            if (ag_dir / sub).is_dir():
                os.chmod(ag_dir / sub, 0o700)
    upload = take_upload(ag_dir / "submission")
    if upload.problem:
        print(upload.problem)
        results = zero_results(ag_dir, upload.problem)
    else:
        side = StudentSide(ag_dir, box)  # it imports otter while this process loads what it grades with
        try:
            results = _grade(ag_dir, upload, side, started)
        finally:
            side.end()
            box.clean_up()
    extra = results.setdefault("extra_data", {})
    extra["sandbox"] = box.describe()
    if box.survivors:  # cannot write the results (not theirs to write), but a TA should know
        extra.setdefault("flags", []).append(f"{len(box.survivors)} process(es) of the grading user were still "
                                             "ending when the results were written")
    return results


def upload_notes(upload: Upload) -> list[Note]:
    """What the student and the TA are told of the upload itself: what was left out, and why."""
    notes = list(upload.notes)
    if upload.code:
        notes.append(Note(NoteKind.CODE_REMOVED, (
            f"Your upload held files that Python could run instead of the autograder's own ({_listed(upload.code)}); "
            f"they were removed before grading. Only the notebook and {lab.RESULTS_FILE} are graded, with the "
            "autograder's copy of lab5_utils.py."), _listed(upload.code)))
    if upload.other:
        notes.append(Note(NoteKind.REMOVED, f"Not used for grading (removed before your notebook ran): {_listed(upload.other)}. "
                                     f"Only the notebook and {lab.RESULTS_FILE} are graded."))
    return notes


def verdict(grader: ResultsGrader, upload: Upload, kernel: dict, answers: dict, notes: list[Note]) -> dict:
    """Gradescope's results from what the kernel reported (``kernel``, ``answers``) and what this process
    decided from the upload (the results questions, the results file's facts), with the ``notes``."""
    results, disagreements = graded_results(grader, kernel, answers)
    facts = grader.facts(answers)
    results["extra_data"].update(results_file=facts, removed={"code": upload.code, "other": upload.other})
    notes = notes + [Note(NoteKind.RESULTS_REJECTED, reason) for reason in facts["rejected"]] + disagreements
    return add_notes(results, notes)


def _grade(ag_dir: Path, upload: Upload, side: StudentSide, started: float) -> dict:
    notes = upload_notes(upload)
    grader = ResultsGrader(ag_dir, upload.results)
    before = grader_files(ag_dir)
    side.go(upload)
    stopped = side.wait(started)
    side.end()
    if stopped:
        status, reason = stopped
        print(reason, flush=True)
        return add_notes(zero_results(ag_dir, reason, status=status), notes)

    data = side.read("kernel.json")
    kernel = grader.lab.read_json(data) if data is not None else None
    if not isinstance(kernel, dict) or not isinstance(kernel.get("cases", {}), dict):
        return add_notes(zero_results(ag_dir, (
            f"Grading stopped before the tests ran: the notebook's kernel or otter ended without results (exit "
            f"{side.proc.returncode}), e.g. a cell that ended the grading's processes or used up the memory. Run the "
            "notebook top to bottom, then submit again."), status="stopped"), notes)
    if kernel.get("error"):
        message = str(kernel["error"])[:1000]
        print(f"Grading stopped: {message}")
        return add_notes(zero_results(ag_dir, f"This submission could not be graded: {message}"), notes)

    notes += kernel_notes(side.read("notes.jsonl"))
    if _sha(side.results_file()) != _sha(upload.results):
        graded = f"the {lab.RESULTS_FILE} you submitted" if upload.results is not None else f"no {lab.RESULTS_FILE} (none was submitted)"
        notes.append(Note(NoteKind.RESULTS_REWRITTEN, (
            f"Your notebook wrote {lab.RESULTS_FILE} while it was graded. The autograder graded {graded}, not what the "
            "notebook wrote: results come from your own run of sections 4 and 5, submitted with the notebook."),
            "the uploaded one was graded" if upload.results is not None else "none was uploaded, none was graded"))
    changed = changed_grader_files(side.ws.box, before)
    if changed:
        notes.append(Note(NoteKind.GRADER_FILES_CHANGED, (
            f"Your notebook changed or added files of the autograder while it was graded ({', '.join(changed[:6])}). "
            "Questions 5 and 7 were graded outside the notebook; the others as the notebook's own run of the tests found them."),
            ", ".join(changed[:6])))
    return verdict(grader, upload, kernel, grader.mode.read_answers(side.read("answers.json")), notes)


def image_setup(dest: Path) -> int:
    """Gradescope's image (setup.sh, as root): the data set and the checkpoint in ``dest`` (readable by
    all, writable by root), the grading user, and every folder above what that user must read
    traversable; says whether this container allows a bubblewrap sandbox."""
    sys.path.insert(0, str(FILES))
    import lab5_answer_key

    os.environ.update(lab5_answer_key.prefetch(dest))
    for path in [dest, *dest.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    sandbox.open_to_grading_user()
    problem = sandbox.bubblewrap_problem()
    print(f"Lab 5: notebooks run at grading as {sandbox.ensure_user().pw_name}, "
          + ("in a bubblewrap sandbox." if problem is None else f"without a bubblewrap sandbox ({problem})."))
    return 0


def main(ag_dir: Path) -> int:
    sandbox.keep_priority()
    try:
        results = grade(ag_dir)
    except sandbox.SandboxError as e:
        print(f"Grading failed: no sandbox: {e}")
        results = zero_results(ag_dir, f"The autograder could not make a sandbox for the notebook ({e}); tell your "
                                       "instructor.", status="grader error")
    except Exception as e:  # a fault of the autograder itself: every case its zero, and the reason
        message = f"{type(e).__name__}: {e}".strip()
        print(f"Grading failed: {message}")
        results = zero_results(ag_dir, f"The autograder failed on this submission ({message}); tell your instructor.",
                               status="grader error")
    write_results(ag_dir, results)
    for test in results.get("tests", []):
        if "score" in test:
            print(f"{test['name']}: {test['score']:g} of {test['max_score']:g}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--otter"]:
        sys.exit(otter_process(Path(sys.argv[2]), Path(sys.argv[3])))
    if sys.argv[1:2] == ["--image-setup"]:
        sys.exit(image_setup(Path(sys.argv[2])))
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
