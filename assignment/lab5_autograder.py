"""The autograder's entry point: take the upload, run the notebook on the student's side, and grade
every question here, from the notebook's facts and the upload, within a time budget.

Gradescope's run_autograder (as root) and the TA command (tools/grade.py, as the TA) run

    python /autograder/source/files/lab5_autograder.py /autograder

docs/design.md, "The trust boundary". Grading is a function of the uploaded files, on two sides:

- The grader's side, this process (root on Gradescope), never runs the notebook's code. It
  1. takes the upload into memory: the notebook and lab5_results.json, each read with a size limit
     (a zip is read, never unpacked to disk); an unreadable upload gets zero on every test case with a
     message that says what to upload instead; everything else is left out (the student is told; code
     that could be imported instead of the autograder's own files is flagged for the TA);
  2. loads what it grades with, before any of the notebook's code runs: the autograder's modules, every
     test file (public and hidden), the answer key's data (the true labels, the checkpoint's tokenizer,
     configuration and embeddings) and the uploaded lab5_results.json, kept in memory;
  3. makes the student's side (lab5_sandbox.py): a workspace that holds the two uploaded files, the
     student's own helpers and the public tests (STUDENT_SIDE: no hidden test, no answer key), and a
     process there that runs otter (lab5_student_side.py), as an unprivileged user or in a bubblewrap
     sandbox, its kernel without network, within the time budget, a memory limit and a limit on what
     it writes;
  4. ends every process of the student's side, then reads what it handed back (its report folder: the
     notebook's facts, notes, the public tests' verdicts in its kernel) as untrusted data, size-limited,
     no links followed;
  5. runs every test case itself, on the facts (lab5_facts.py) and the upload: the points and
     messages are its own. It flags a notebook whose kernel found otherwise on a public test (its checks
     changed), that changed the files it was given, or that rewrote the results file; it redacts any
     line of a hidden test or of the answer key from what the student sees; and writes Gradescope's
     results.json itself (scores, messages, and in extra_data for the TA each test case, the graded
     results file's facts, how the notebook ran, the flags).
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
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

FILES = Path(__file__).resolve().parent  # the autograder's own files: this one, the helpers, the answer key
sys.path.insert(0, str(FILES))
import lab5_sandbox as sandbox  # noqa: E402  (beside this file, in the autograder's files)
import lab5_student_side as student_side  # noqa: E402  (what runs the notebook)
import lab5_utils as lab  # noqa: E402  (the names of the lab's files, runs and answers)
from lab5_grading_mode import NoteKind  # noqa: E402  (the kinds of grading notes)

sys.path.remove(str(FILES))

# The time limits of grading: the one place to change them (or set the environment variables).
CELL_LIMIT_S = float(os.environ.get(student_side.CELL_LIMIT_ENV) or 60)  # one cell of the notebook
BUDGET_S = float(os.environ.get("LAB5_GRADING_BUDGET_S") or 300)  # the whole submission; Gradescope's default is 600
# What the upload may hold, unpacked: a notebook with its outputs is a few MB, a results file of this
# lab about 0.3 MB. Anything larger is not read (a zip is never unpacked to disk).
NOTEBOOK_LIMIT = 64 * 2**20
RESULTS_LIMIT = 16 * 2**20
# What the student's side may hand back (its report folder): more is not read.
REPORT_LIMITS = {"facts.json": 16 * 2**20, "kernel.json": 2**20, "notes.jsonl": 2**18, "cell.txt": 2**10,
                 student_side.NETWORK_FILE: 2**10}
LOG_TAIL = 2**16  # the last bytes of the student's side's output kept for the log
# The results questions: their tests read no more of the notebook than its accuracies
# (lab5_utils.ACCURACIES; a test checks this), so that they can be graded from an upload alone.
RESULTS_QUESTIONS = ("q5_results", "q7_scratch_results")
MODULES = ("lab5_utils", "lab5_facts", "lab5_checks", "lab5_answer_key", "lab5_grading_mode")
# What the student's side gets of the autograder's files (source/files), and where the public tests are
# (the build puts the students' tests/ there): nothing else of the autograder reaches it.
STUDENT_SIDE = ("lab5_utils.py", "lab5_checks.py", "lab5_facts.py", "lab5_grading_mode.py", "lab5_student_side.py")
PUBLIC_TESTS = "public_tests"
CODE_SUFFIXES = {".py", ".pyc", ".pyo", ".pyd", ".so", ".pth"}
# What operating systems and Jupyter put beside a notebook by themselves: never code of the student's.
CLUTTER = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", ".OTTER_LOG"}

NOTEBOOK_HINT = (
    "Upload the zip that the last cell of lab5.ipynb makes (or, from Colab, lab5.ipynb together "
    "with lab5_results.json)."
)


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
# 2. What grades: loaded before the notebook runs
# --------------------------------------------------------------------------------------------


class Verdict(NamedTuple):
    """A test case as graded here: ``fault`` says why the grader could not run it (its own fault)."""

    passed: bool
    message: str
    fault: str = ""


GRADER_FAULT = ("The autograder could not run this test case on your notebook (a fault of the lab's tests, not of "
                "your work); your instructor has been told.")


class Grader:
    """What grades, in this process: the autograder's modules, every test file (public and hidden), the
    answer key's data and the upload. The tests run here, on a notebook's facts (lab5_facts.py)."""

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
        while str(FILES) in sys.path:
            sys.path.remove(str(FILES))
        self.lab, self.facts, self.checks, self.ref, self.mode = (modules[name] for name in MODULES)
        self.upload = upload
        self.mode.use_upload(upload)  # lab.load_results reads the upload, lab.training_seed its seed
        self.mode.use_recorded_seed()
        self.config = AutograderConfig(json.loads((ag_dir / "source" / "otter_config.json").read_text()))
        self.test_files = {}
        for path in sorted((ag_dir / "source" / "tests").glob("*.py")):
            test_file = ExceptionTestFile.from_file(str(path))
            self.test_files[test_file.name] = test_file
        self.warming = threading.Thread(target=self._warm_up, name="answer key", daemon=True)
        self.warm_error: BaseException | None = None

    def _warm_up(self) -> None:
        try:
            self._warm()
        except BaseException as e:  # noqa: BLE001 (raised again where grading waits for it)
            self.warm_error = e

    def _warm(self) -> None:
        """The answer key's data (the true labels, the checkpoint's configuration, tokenizer and embeddings,
        the vocabulary of the true training texts) and whatever the tests import, loaded while the notebook
        runs (``warming``, started once the student's side has gone): the grading after it is quick."""
        subsets = self.ref.subsets()
        self.ref.checkpoint_config(), self.ref.pretrained_rows(), self.ref.token_ids(["a"])
        self.ref.vocabulary(subsets.train_texts), self.ref.terms(subsets.train_texts)
        from otter.test_files import GradingResults  # noqa: F401  (what grading imports)
        from otter.test_files.abstract_test import TestCaseResult  # noqa: F401
        self.grade(self.facts.FactsEnv())

    def ready(self) -> None:
        """Wait for what :meth:`_warm` loads (loading it here if it never started)."""
        if self.warming.ident is None:
            self._warm()
        self.warming.join()
        if self.warm_error is not None:  # the image lacks the data or the checkpoint: a fault of the grader's
            raise self.warm_error

    def grade(self, env, questions=RESULTS_QUESTIONS + ("*",)) -> dict[str, dict[str, Verdict]]:
        """Run the test cases of ``questions`` (all: "*") on ``env`` (a notebook's facts): question ->
        {test case: Verdict}; each test file keeps its results for Gradescope's."""
        from otter.test_files.abstract_test import TestCaseResult

        verdicts = {}
        for name, test_file in self.test_files.items():
            if "*" not in questions and name not in questions:
                continue
            found = {case.name: self.run_case(test_file, case, env) for case in test_file.test_cases}
            test_file.test_case_results = [TestCaseResult(test_case=case, message=found[case.name].message,
                                                          passed=found[case.name].passed) for case in test_file.test_cases]
            verdicts[name] = found
        return verdicts

    def run_case(self, test_file, case, env) -> Verdict:
        """One test case on ``env``: otter's message (the failing line of a public test, its exception);
        a hidden test's message never quotes its own code."""
        try:
            case.body.call_func(env)
            return Verdict(True, "✅ Test case passed")
        except self.facts.UndeclaredFact as e:
            return Verdict(False, f"❌ Test case failed\n{GRADER_FAULT}", str(e))
        except Exception as e:  # noqa: BLE001 (a failing test: its message is the verdict's)
            text = f"{type(e).__name__}: {str(e).strip(chr(39))}"
            line = None if case.hidden else failing_line(e, test_file)
            where = f"Error at line {line[0]} in test {test_file.name}:\n  {line[1]}\n" if line else ""
            return Verdict(False, f"❌ Test case failed\n{where}{text}")

    def results_facts(self, env) -> dict:
        """What the TA report shows of the graded results file: whether it was submitted, why it was
        rejected, the accuracies of its accepted runs on the true labels (and the notebook's acc_bow),
        the training seed it records, digests of each run's predictions and scores (which two
        students' runs never share: each has its own seed), and each run's predictions and scores
        themselves (``run_vectors``: how much two students' runs agree tells a copy, tools/agreement.py)."""
        lab, ref = self.lab, self.ref
        facts = {"submitted": self.upload is not None, "rejected": [], "accuracies": {}, "seed": None,
                 "predictions": {}, "scores": {}}
        bow = env.get("acc_bow")
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


def failing_line(error: Exception, test_file) -> tuple[int, str] | None:
    """The line of ``test_file`` where ``error`` was raised (or the call that raised it), and its text."""
    found = None
    for frame, number in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == test_file.path:
            found = number
    if found is None or not 0 < found <= len(test_file.source_lines):
        return None
    return found, test_file.source_lines[found - 1].strip()


def secret_lines(ag_dir: Path) -> set[str]:
    """The lines of the hidden tests and of the grader-only modules that the student's side never
    sees (the lines of what it does see left out): none may reach a student (:func:`redacted`)."""
    source = ag_dir / "source"
    secret = {line.strip() for path in [*sorted((source / "tests").glob("*.py")), source / "files" / "lab5_answer_key.py"]
              for line in path.read_text(encoding="utf-8").splitlines() if len(line.strip()) >= 24}
    seen = "\n".join(path.read_text(encoding="utf-8") for path in
                     [*sorted((source / PUBLIC_TESTS).glob("*.py")), *(source / "files" / name for name in STUDENT_SIDE)])
    return {line for line in secret if line not in seen}


def redacted(results: dict, secrets: set[str]) -> tuple[dict, list[str]]:
    """``results`` with every secret line taken out of what a student sees (the output, and every test's
    output that is not hidden); the lines found, for the TA."""
    found = []

    def clean(text):
        if not isinstance(text, str):
            return text
        for line in secrets:
            if line in text:
                found.append(line)
                text = text.replace(line, "[a line of the autograder's hidden code, removed]")
        return text

    results["output"] = clean(results.get("output"))
    for test in results.get("tests", []):
        if test.get("visibility") != "hidden":
            test["output"] = clean(test.get("output"))
    return results, sorted(set(found))


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


def given_files(ag_dir: Path) -> dict[str, str]:
    """The digest of each file the student's side is given, by the path of otter's copy beside the notebook."""
    source = ag_dir / "source"
    files = {name: _sha((source / "files" / name).read_bytes()) for name in STUDENT_SIDE}
    tests = {f"tests/{p.name}": _sha(p.read_bytes()) for p in sorted((source / PUBLIC_TESTS).iterdir()) if p.is_file()}
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
        shutil.copytree(ag_dir / "source" / PUBLIC_TESTS, source / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(ag_dir / "source" / "otter_config.json", source / "otter_config.json")  # otter rewrites it
        ws.path("autograder", "submission_metadata.json").write_text("{}")
        box.give(ws.path("autograder"))
        env = box.environment({student_side.GRADING_ENV: ws.seen("report"), student_side.CELL_LIMIT_ENV: f"{CELL_LIMIT_S:g}"})
        entry = ws.seen("autograder", "source", "files", "lab5_student_side.py")
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

    def network(self) -> str:
        """How the notebook's kernel was kept off the network, as its launcher said (untrusted: said only)."""
        said = (self.read(student_side.NETWORK_FILE) or b"").decode("utf-8", "replace").strip()[:200]
        return self.box.describe_network(said)


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
    """Why a submission was stopped when its kernel died (no memory cgroup saw it run out)."""
    where = f"the cell that starts with `{cell}`" if cell else "a cell"
    return (
        f"The notebook's kernel died while it was graded ({where}), so nothing could be graded. Most often that "
        f"is memory: at grading your notebook may use {memory.describe()}. Make that cell use less memory, run the "
        "notebook top to bottom, then submit again."
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
    NoteKind.MEMORY: "a cell ran out of memory at grading",
    NoteKind.REDACTED: "a message echoed the autograder's hidden code (removed)",
    NoteKind.GRADER_FAULT: "the autograder could not run a test (the lab's fault)",
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


# --------------------------------------------------------------------------------------------
# 5. Grading
# --------------------------------------------------------------------------------------------


def graded_results(grader: Grader, env, kernel: dict, questions) -> tuple[dict, list[Note]]:
    """Gradescope's results as this process graded ``env`` (a notebook's facts); the notes on where
    the kernel found otherwise on a public test, and on test cases the grader could not run."""
    from otter.test_files import GradingResults

    verdicts = grader.grade(env, questions)
    notes = []
    theirs = kernel.get("cases") if isinstance(kernel.get("cases"), dict) else {}
    differ = [(name, case, verdict) for name, found in verdicts.items() for case, verdict in found.items()
              if case in theirs and (theirs[case] is True) != verdict.passed]
    if differ:
        listed = ", ".join(f"{case} ({'passed' if verdict.passed else 'failed'} here)" for _, case, verdict in differ[:4])
        notes.append(Note(NoteKind.CHECKS_CHANGED, (
            f"Every test is run by the autograder outside your notebook, on what your notebook's variables hold; "
            f"inside your notebook {len(differ)} public test case(s) came out otherwise ({listed}): the notebook changed "
            "the checks, or what they read, while it was graded. The autograder's verdicts count."),
            f"{len(differ)} public test case(s) came out otherwise in the notebook's kernel: {listed}"))
    faults = [verdict.fault for found in verdicts.values() for verdict in found.values() if verdict.fault]
    if faults:
        notes.append(Note(NoteKind.GRADER_FAULT, GRADER_FAULT, "; ".join(dict.fromkeys(faults))[:600]))
    cases = {}
    for name in verdicts:
        for r in grader.test_files[name].test_case_results:
            cases[r.test_case.name] = {"passed": bool(r.passed), "score": r.test_case.points if r.passed else 0,
                                       "max_score": r.test_case.points, "message": "" if r.passed else r.message}
    graded = [grader.test_files[name] for name in verdicts]
    results = GradingResults(graded).to_gradescope_dict(grader.config)
    results["extra_data"] = {"status": "graded", "reason": "", "cases": cases}
    return results, notes


def verdict(grader: Grader, upload: Upload, env, kernel: dict, notes: list[Note], questions=("*",)) -> dict:
    """Gradescope's results from a notebook's facts (``env``), what its kernel reported of the public
    tests (``kernel``) and the upload, with the ``notes``."""
    results, found = graded_results(grader, env, kernel, questions)
    facts = grader.results_facts(env)
    results["extra_data"].update(results_file=facts, removed={"code": upload.code, "other": upload.other})
    notes = notes + [Note(NoteKind.RESULTS_REJECTED, reason) for reason in facts["rejected"]] + found
    return add_notes(results, notes)


def grade(ag_dir: Path) -> dict:
    """Grade the upload in ``ag_dir``/submission; return Gradescope's results."""
    started = time.monotonic()
    box = sandbox.choose()
    try:
        if box.user is not None:  # the grader's folders: the student's side has its own copies
            for sub in ("source", "submission", "results"):
                if (ag_dir / sub).is_dir():
                    os.chmod(ag_dir / sub, 0o700)
        upload = take_upload(ag_dir / "submission")
        network = box.describe_network()
        if upload.problem:
            print(upload.problem)
            results = zero_results(ag_dir, upload.problem)
        else:
            side = StudentSide(ag_dir, box)  # it imports otter while this process loads what it grades with
            try:
                results = _grade(ag_dir, upload, side, started)
                network = side.network()
            finally:
                side.end()
        results, echoed = redacted(results, secret_lines(ag_dir))  # whatever path the grading took
        extra = results.setdefault("extra_data", {})
        if echoed:
            extra.setdefault("flags", []).append(f"{FLAGGED[NoteKind.REDACTED]}: {len(echoed)} line(s), e.g. {echoed[0][:80]!r}")
        extra["sandbox"] = box.describe()
        extra["isolation"] = {"sandbox": box.describe(), "network": network, "memory": box.memory.describe(),
                              "memory_peak": box.memory.peak()}
    finally:
        box.clean_up()
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


def notebook_facts(grader: Grader, data: bytes | None, why_missing: str):
    """The tests' view of the notebook from its facts file; every graded name not gradable, with the
    reason, when the file is missing or does not read."""
    facts = grader.facts
    try:
        if data is None:
            raise facts.NotGradable(why_missing)
        return facts.read(data)
    except facts.NotGradable as e:
        return facts.FactsEnv({name: facts.Unreadable(name, str(e)) for name in facts.GRADED})


def _grade(ag_dir: Path, upload: Upload, side: StudentSide, started: float) -> dict:
    notes = upload_notes(upload)
    grader = Grader(ag_dir, upload.results)  # the tests and the upload, read before any of the notebook's code runs
    before = given_files(ag_dir)
    side.go(upload)
    grader.warming.start()
    stopped = side.wait(started)
    side.end()
    notes += kernel_notes(side.read("notes.jsonl"))  # also when nothing could be graded: which cell ran out of memory
    if stopped is None and side.box.memory.exceeded():
        stopped = "stopped", memory_reason(side.box.memory, side.cell())
    if stopped:
        status, reason = stopped
        print(reason, flush=True)
        return add_notes(zero_results(ag_dir, reason, status=status), notes)

    data = side.read("kernel.json")
    kernel = grader.lab.read_json(data) if data is not None else None
    facts_data = side.read("facts.json")
    if facts_data is None and not (isinstance(kernel, dict) and kernel.get("error")):
        return add_notes(zero_results(ag_dir, (
            f"Grading stopped before the tests ran: the notebook's kernel or otter ended without results (exit "
            f"{side.proc.returncode}), e.g. a cell that ended the grading's processes or used up the memory. Run the "
            "notebook top to bottom, then submit again."), status="stopped"), notes)
    if isinstance(kernel, dict) and kernel.get("error"):
        message = str(kernel["error"])[:1000]
        print(f"Grading stopped: {message}")
        if "kernel died" in message.lower():  # nbclient's DeadKernelError: killed, or crashed in native code
            return add_notes(zero_results(ag_dir, kernel_died_reason(side.box.memory, side.cell()), status="stopped"), notes)
        return add_notes(zero_results(ag_dir, f"This submission could not be graded: {message}"), notes)

    if _sha(side.results_file()) != _sha(upload.results):
        graded = f"the {lab.RESULTS_FILE} you submitted" if upload.results is not None else f"no {lab.RESULTS_FILE} (none was submitted)"
        notes.append(Note(NoteKind.RESULTS_REWRITTEN, (
            f"Your notebook wrote {lab.RESULTS_FILE} while it was graded. The autograder graded {graded}, not what the "
            "notebook wrote: results come from your own run of sections 4 and 5, submitted with the notebook."),
            "the uploaded one was graded" if upload.results is not None else "none was uploaded, none was graded"))
    changed = changed_given_files(side.ws.box, before)
    if changed:
        notes.append(Note(NoteKind.GRADER_FILES_CHANGED, (
            f"Your notebook changed or added files of the autograder while it was graded ({', '.join(changed[:6])}). "
            "Every test was run by the autograder outside the notebook, with its own files."),
            ", ".join(changed[:6])))
    env = notebook_facts(grader, facts_data, "the notebook's last cell, which reads its variables, did not run")
    grader.ready()
    return verdict(grader, upload, env, kernel if isinstance(kernel, dict) else {}, notes)


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
    problem, network = sandbox.bubblewrap_problem(), sandbox.network_problem()
    print(f"Lab 5: notebooks run at grading as {sandbox.ensure_user().pw_name}, "
          + ("in a bubblewrap sandbox" if problem is None else f"without a bubblewrap sandbox ({problem})")
          + ("; their kernels have no network (a seccomp filter)." if network is None
             else f"; their kernels' network is NOT filtered ({network})."))
    return 0


def main(ag_dir: Path) -> int:
    student_side.keep_priority()
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
    if sys.argv[1:2] == ["--image-setup"]:
        sys.exit(image_setup(Path(sys.argv[2])))
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
