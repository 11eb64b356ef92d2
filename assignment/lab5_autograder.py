"""The autograder's entry point: take the upload, let otter grade the notebook, decide the results
questions here, within a time budget.

Gradescope's run_autograder (and the local grader, tools/grade.py) runs

    python /autograder/source/files/lab5_autograder.py /autograder

DESIGN.md, "The trust boundary". Grading is a function of the uploaded files, in two processes:

- This one never runs the notebook's code. It
  1. takes the upload: unpacks a zip; an unreadable upload gets zero on every test case with a
     message that says what to upload instead; everything but the notebook and lab5_results.json is
     removed (the student is told; code that could be imported instead of the autograder's own files
     is flagged for the TA);
  2. loads, before any of the notebook's code runs, what decides the results questions: the
     autograder's modules and test files, the true labels of the test subset, and the uploaded
     lab5_results.json, kept in memory;
  3. lets otter grade the notebook in a second process, within the time budget;
  4. grades the results questions (RESULTS_QUESTIONS) itself, with the same test files, from the
     upload and the notebook's answers (lab5_grading_mode.ANSWERS); takes the kernel's verdict on the
     other questions, which need the notebook's objects; and flags a notebook whose kernel came to
     another verdict on a results question, changed the autograder's files, or rewrote the results file;
  5. writes Gradescope's results.json: scores and messages, and in extra_data for the TA each test
     case, the graded results file's facts and the flags.
- The second (``--otter``) runs otter's run_autograder with the GradingMode plugin: one cell first in
  the notebook (lab5_grading_mode.enter: nothing trained, the submitted results file as what the
  notebook reads, a time limit per cell) and one cell last (lab5_grading_mode.export_answers). It
  reports each test case's result as JSON. All it reports comes from the student's kernel.
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
import time
import zipfile
from functools import cache
from pathlib import Path
from typing import NamedTuple

# The time limits of grading: the one place to change them (or set the environment variables).
CELL_LIMIT_S = float(os.environ.get("LAB5_CELL_LIMIT_S") or 60)  # one cell of the notebook
BUDGET_S = float(os.environ.get("LAB5_GRADING_BUDGET_S") or 300)  # the whole submission; Gradescope's default is 600
RESULTS_NAME = "lab5_results.json"
GRADING_FOLDER = "lab5-grading"  # in /autograder, beside submission/: what the kernel reports
GRADING_ENV = "LAB5_GRADING_DIR"  # tells the otter process where that folder is
# The questions decided in this process, from the upload: their tests read no more of the notebook
# than its ANSWERS (a test checks this).
RESULTS_QUESTIONS = ("q5_results", "q7_scratch_results")
FILES = Path(__file__).resolve().parent  # the autograder's own files: this one, the helper, the reference
MODULES = ("lab5_utils", "lab5_reference", "lab5_grading_mode")
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
    "_lab5_grading.enter({folder!r}, {limit})\n"
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
            first = GRADING_CELL.format(folder=str(folder), limit=CELL_LIMIT_S)
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
                           "flags": [reason] if status == "timed out" else []}}


def write_results(ag_dir: Path, results: dict) -> None:
    path = ag_dir / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


# --------------------------------------------------------------------------------------------
# 1. The upload
# --------------------------------------------------------------------------------------------


def unpack_zips(submission: Path) -> list[str]:
    """Gradescope may keep an uploaded zip whole: unpack it where otter looks for the notebook.
    Returns the names of the zips unpacked."""
    if list(submission.glob("*.ipynb")):
        return []
    unpacked = []
    for archive in sorted(submission.glob("*.zip")):
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(submission)
            unpacked.append(archive.name)
        except zipfile.BadZipFile:
            continue
    return unpacked


def problem_with(submission: Path) -> str | None:
    """Why the submission cannot be graded, or None if otter can take it."""
    import nbformat

    if any(p.suffix == ".zip" and not zipfile.is_zipfile(p) for p in submission.iterdir()):
        if not list(submission.glob("*.ipynb")):
            return f"The uploaded zip file is damaged and cannot be opened. {NOTEBOOK_HINT}"
    notebooks = sorted(p.name for p in submission.glob("*.ipynb"))
    if not notebooks:
        return f"The submission has no notebook (.ipynb file). {NOTEBOOK_HINT}"
    if len(notebooks) > 1:
        return f"The submission has {len(notebooks)} notebooks ({', '.join(notebooks)}); keep only lab5.ipynb."
    path = submission / notebooks[0]
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # nbformat raises several kinds for unreadable files
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return (
            f"{notebooks[0]} is not a readable Jupyter notebook ({first_line[:200]}). Open it in "
            f"Jupyter, save it, and submit again. {NOTEBOOK_HINT}"
        )
    return None


def _is_code(path: Path) -> bool:
    """Whether ``path`` (a file, or a folder with such files) could be imported or run by Python,
    unless it is an unchanged copy of one of the autograder's own files (a student's lab5_utils.py)."""
    if path.name in CLUTTER:
        return False
    if path.is_dir():
        return any(p.is_file() and _is_code(p) for p in path.rglob("*"))
    if path.suffix not in CODE_SUFFIXES and path.stem not in ("sitecustomize", "usercustomize"):
        return False
    return _digest(path) != _digest(FILES / path.name)


def keep_only_graded(submission: Path, unpacked: list[str]) -> tuple[list[str], list[str]]:
    """Remove everything from ``submission`` but its notebook and lab5_results.json (a plain file).
    Returns what was removed: code, and the rest (without the unpacked zips and the export's own PDF)."""
    notebook = next(submission.glob("*.ipynb"))
    code, other = [], []
    for path in sorted(submission.iterdir()):
        if path.name in (notebook.name, RESULTS_NAME) and path.is_file() and not path.is_symlink():
            continue
        shown = path.name + ("/" if path.is_dir() and not path.is_symlink() else "")
        if _is_code(path) and not path.is_symlink():
            code.append(shown)
        elif path.name not in unpacked and path.name not in (f"{notebook.stem}.pdf", ".OTTER_LOG"):
            other.append(shown)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return code, other


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
        # Nothing imported from here on can come from FILES, which the notebook's kernel can write to.
        while str(FILES) in sys.path:
            sys.path.remove(str(FILES))
        self.lab, self.ref, self.mode = (modules[name] for name in MODULES)
        self.upload = upload
        self.mode.use_upload(upload)
        self.config = AutograderConfig(json.loads((ag_dir / "source" / "otter_config.json").read_text()))
        self.test_files = {}
        for path in sorted((ag_dir / "source" / "tests").glob("*.py")):
            test_file = ExceptionTestFile.from_file(str(path))
            self.test_files[test_file.name] = test_file
        self.ref.subsets()  # the true labels, read now
        # A first run with the accuracies the upload claims: whatever the checks import, they import now.
        record = self.lab.read_json(upload) if upload is not None else None
        self.grade({name: record.get(name) for name in self.mode.ANSWERS} if isinstance(record, dict) else {})

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
        the training seed it records, and digests of each run's predictions and scores (which two
        students' runs never share: each has its own seed)."""
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
        for run in lab.RUNS:
            for kind, key in (("predictions", f"{run}_preds"), ("scores", f"{run}_logits")):
                if isinstance(record.get(key), list) and record[key]:
                    facts[kind][run] = hashlib.sha256(json.dumps(record[key]).encode()).hexdigest()
        return facts


def grader_files(ag_dir: Path) -> dict[str, str]:
    """The digest of each of the autograder's files, by the path of otter's copy in submission/."""
    source = ag_dir / "source"
    files = {p.name: _digest(p) for p in sorted((source / "files").iterdir()) if p.is_file()}
    tests = {f"tests/{p.name}": _digest(p) for p in sorted((source / "tests").iterdir()) if p.is_file()}
    return files | tests


def changed_grader_files(ag_dir: Path, before: dict[str, str]) -> list[str]:
    """The autograder's files that changed while the notebook ran (the originals or otter's copies
    beside the notebook), and the Python files that appeared among them."""
    source, submission = ag_dir / "source", ag_dir / "submission"
    changed = []
    for rel, digest in before.items():
        original = source / (rel if rel.startswith("tests/") else f"files/{rel}")
        copy = submission / rel
        if _digest(original) != digest or (copy.exists() and _digest(copy) != digest):
            changed.append(rel)
    for folder, prefix in ((source / "files", ""), (source / "tests", "tests/"), (submission, "")):
        for path in sorted(folder.rglob("*")):
            rel = prefix + path.relative_to(folder).as_posix()
            if ("__pycache__" in path.parts or rel in before or rel in ("__init__.py", RESULTS_NAME)
                    or not path.is_file() or path.suffix not in CODE_SUFFIXES):
                continue
            changed.append(rel)
    return sorted(set(changed))


# --------------------------------------------------------------------------------------------
# 3. Otter, in a process of its own
# --------------------------------------------------------------------------------------------


def start_otter(ag_dir: Path) -> subprocess.Popen:
    """The otter process: it imports otter, then waits until told to go (see ``otter_process``)."""
    env = {**os.environ, GRADING_ENV: str(ag_dir / GRADING_FOLDER)}
    return subprocess.Popen([sys.executable, str(FILES / "lab5_autograder.py"), "--otter", str(ag_dir)],
                            stdin=subprocess.PIPE, env=env)


def stop(proc: subprocess.Popen, folder: Path) -> None:
    """End the otter process and every process it started: the notebook's kernel (in a session of its
    own) and whatever the notebook started, also what outlived its parent (they all carry GRADING_ENV)."""
    try:
        import psutil

        family = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        for process in psutil.process_iter():
            try:
                if process.pid != os.getpid() and process.environ().get(GRADING_ENV) == str(folder):
                    family.append(process)
            except psutil.Error:
                continue
    except ImportError:  # without psutil, the kernel ends by itself when otter's process is gone
        family = []
    for process in family:
        try:
            process.kill()
        except Exception:
            pass
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def otter_process(ag_dir: Path) -> int:
    """Run otter on the notebook (with the GradingMode plugin) once the entry point says go, and
    report each test case's result, as the kernel found it, in kernel.json."""
    from otter.run.run_autograder import main as run_autograder

    sys.stdin.readline()  # the entry point has loaded what it grades with
    report = ag_dir / GRADING_FOLDER / "kernel.json"
    try:
        overrides = {"assignment_name": None} if lost_assignment_name(ag_dir / "submission") else {}
        run_autograder(str(ag_dir), plugins=["lab5_autograder.GradingMode"], **overrides)
    except Exception as e:  # otter's own errors (e.g. another assignment's notebook): no results
        report.write_text(json.dumps({"error": str(e).strip() or type(e).__name__}), encoding="utf-8")
        return 1
    import dill

    with open(ag_dir / "results" / "results.pkl", "rb") as f:
        results = dill.load(f)
    failure = results.catastrophic_error
    cases = {name: {r.test_case.name: {"passed": bool(r.passed), "message": r.message or ""}
                    for r in test_file.test_case_results}
             for name, test_file in results.results.items()}
    report.write_text(json.dumps({"cases": cases, "failure": str(failure) if failure else None}), encoding="utf-8")
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


def running_cell(ag_dir: Path) -> str:
    """The first line of the cell the notebook was running (written by the grading-mode cell)."""
    path = ag_dir / GRADING_FOLDER / "cell.txt"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def budget_reason(ag_dir: Path, seconds: float) -> str:
    """Why a submission was stopped after ``seconds``: the same words from the entry point's budget
    and from the TA command's timeout."""
    cell = running_cell(ag_dir)
    where = f"the cell that starts with `{cell}`" if cell else "a cell"
    return (
        f"A cell never finished: grading stopped after {seconds:g} s while {where} was running (an "
        "endless loop, or training that the autograder does not skip). Nothing could be graded: make "
        "every cell finish (run the notebook top to bottom once), then submit again."
    )


class Note(NamedTuple):
    """Something that happened at grading: ``message`` tells the student (shown unless its kind is
    "results rejected", which the failing tests explain); ``flag``, if the kind is FLAGGED, tells the
    TA in a few words (default: the message)."""

    kind: str
    message: str
    flag: str = ""


def kernel_notes(ag_dir: Path) -> list[Note]:
    """What the grading mode saw in the kernel (training called, a cell stopped)."""
    notes = []
    path = ag_dir / GRADING_FOLDER / "notes.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                note = json.loads(line)
                notes.append(Note(str(note["kind"]), str(note["message"])))
            except (ValueError, KeyError, TypeError):
                continue
    return notes


# What a TA should look at (the report's "needs a human look"); the other notes only inform.
FLAGGED = {
    "results rejected": f"{RESULTS_NAME} rejected",
    "results rewritten": f"{RESULTS_NAME} rewritten at grading",
    "cell time limit": "a cell was stopped at grading",
    "code removed": "code in the upload removed before grading",
    "checks changed": "the notebook changed the grader's checks",
    "grader files changed": "the notebook changed the autograder's files",
}


def add_notes(results: dict, notes: list[Note]) -> dict:
    """Put the grading notes into Gradescope's results: the output students see, and extra_data."""
    notes = list(dict.fromkeys(notes))  # each note once, in the order it happened
    shown = [note.message for note in notes if note.kind != "results rejected"]
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
                notes.append(Note("checks changed", (
                    f"{name} is graded by the autograder outside your notebook, from the {RESULTS_NAME} you "
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
    submission, folder = ag_dir / "submission", ag_dir / GRADING_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    proc = start_otter(ag_dir)  # it imports otter meanwhile, then waits for the go
    try:
        return _grade(ag_dir, proc, started)
    finally:
        stop(proc, folder)


def _grade(ag_dir: Path, proc: subprocess.Popen, started: float) -> dict:
    submission, folder = ag_dir / "submission", ag_dir / GRADING_FOLDER
    unpacked = unpack_zips(submission)
    problem = problem_with(submission)
    if problem:
        print(problem)
        return zero_results(ag_dir, problem)
    code, other = keep_only_graded(submission, unpacked)
    notes = []
    if code:
        notes.append(Note("code removed", (
            f"Your upload held files that Python could run instead of the autograder's own ({', '.join(code)}); "
            f"they were removed before grading. Only the notebook and {RESULTS_NAME} are graded, with the "
            "autograder's copy of lab5_utils.py."), ", ".join(code)))
    if other:
        notes.append(Note("removed", f"Not used for grading (removed before your notebook ran): {', '.join(other)}. "
                                     f"Only the notebook and {RESULTS_NAME} are graded."))
    submitted = submission / RESULTS_NAME
    upload = submitted.read_bytes() if submitted.is_file() else None
    try:
        grader = ResultsGrader(ag_dir, upload)
        before = grader_files(ag_dir)
        try:
            proc.stdin.write(b"go\n")
            proc.stdin.close()
        except BrokenPipeError:  # it stopped already; it says why on its output
            pass
        proc.wait(timeout=max(BUDGET_S - (time.monotonic() - started), 1))
    except subprocess.TimeoutExpired:
        stop(proc, folder)
        reason = budget_reason(ag_dir, BUDGET_S)
        print(reason, flush=True)
        return zero_results(ag_dir, reason, status="timed out")
    stop(proc, folder)

    try:
        kernel = json.loads((folder / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kernel = {"error": f"the notebook's kernel or otter stopped without results (exit {proc.returncode})"}
    if not isinstance(kernel, dict) or kernel.get("error"):
        message = str(kernel.get("error")) if isinstance(kernel, dict) else "unreadable results"
        print(f"Grading stopped: {message}")
        return zero_results(ag_dir, f"This submission could not be graded: {message}")

    answers = grader.mode.read_answers(folder / "answers.json")
    results, disagreements = graded_results(grader, kernel, answers)
    facts = grader.facts(answers)
    results["extra_data"].update(results_file=facts, removed={"code": code, "other": other})
    notes += [Note("results rejected", reason) for reason in facts["rejected"]]
    notes += kernel_notes(ag_dir) + disagreements
    if _digest(submitted) != (hashlib.sha256(upload).hexdigest() if upload is not None else None):
        graded = f"the {RESULTS_NAME} you submitted" if upload is not None else f"no {RESULTS_NAME} (none was submitted)"
        notes.append(Note("results rewritten", (
            f"Your notebook wrote {RESULTS_NAME} while it was graded. The autograder graded {graded}, not what the "
            "notebook wrote: results come from your own run of sections 4 and 5, submitted with the notebook."),
            "the uploaded one was graded" if upload is not None else "none was uploaded, none was graded"))
    changed = changed_grader_files(ag_dir, before)
    if changed:
        notes.append(Note("grader files changed", (
            f"Your notebook changed or added files of the autograder while it was graded ({', '.join(changed[:6])}). "
            "Questions 5 and 7 were graded outside the notebook; the others as the notebook's own run of the tests found them."),
            ", ".join(changed[:6])))
    return add_notes(results, notes)


def main(ag_dir: Path) -> int:
    try:
        results = grade(ag_dir)
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
        sys.exit(otter_process(Path(sys.argv[2])))
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
