"""The autograder's entry point: check the submission, then let otter grade it, within a time budget.

Gradescope's run_autograder (and the local grader, tools/grade.py) runs

    python /autograder/source/files/lab5_autograder.py /autograder

What it guards (DESIGN.md, "The trust boundary"):
- Unreadable uploads (a notebook that is not JSON, a zip without the notebook, ...) get a results
  file all the same: zero on every test case, with a message that says what to upload instead.
- Grading is a function of the uploaded files. Before otter runs the notebook, the submitted
  lab5_results.json is copied aside; the hidden tests read that copy (lab5_utils.load_results in
  grading mode). Otter runs the notebook with one cell added first (the GradingMode plugin), which
  puts the helper in grading mode: Trainer.train/evaluate/predict give back the submitted run
  instead of training, lab.save_results writes nothing, and any cell that runs longer than
  CELL_LIMIT_S is stopped (the cells after it still run and are graded).
- A time budget: a submission still grading after BUDGET_S seconds (an endless cell that swallows
  the per-cell stop) gets zeros with the reason, before Gradescope's own limit ends the run without one.
- After grading, what the student and the TA should know (training called at grading, a results
  file rewritten by the notebook, a cell stopped) goes into the results' output and extra_data flags.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import zipfile
from pathlib import Path

from otter.plugins import AbstractOtterPlugin

# The time limits of grading: the one place to change them (or set the environment variables).
CELL_LIMIT_S = float(os.environ.get("LAB5_CELL_LIMIT_S") or 60)  # one cell of the notebook
BUDGET_S = float(os.environ.get("LAB5_GRADING_BUDGET_S") or 300)  # the whole submission; Gradescope's default is 600
RESULTS_NAME = "lab5_results.json"
GRADING_FOLDER = "lab5-grading"  # in /autograder, beside submission/: the grading facts (lab5_utils.GRADING_ENV)

NOTEBOOK_HINT = (
    "Upload the zip that the last cell of lab5.ipynb makes (or, from Colab, lab5.ipynb together "
    "with lab5_results.json)."
)
GRADING_CELL = (
    "# Added by the autograder: the notebook runs in grading mode (nothing is trained; your submitted\n"
    "# lab5_results.json is graded; a cell that runs too long is stopped).\n"
    "import lab5_utils as _lab5_grading\n"
    "_lab5_grading.enter_grading_mode()\n"
)


class GradingMode(AbstractOtterPlugin):
    """Otter plugin: the grading-mode cell goes first in the notebook otter executes (otter's own
    cells come before it; the uploaded file is not changed)."""

    def before_execution(self, submission):
        import nbformat

        submission.cells.insert(0, nbformat.v4.new_code_cell(GRADING_CELL))
        return submission


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
    tests = [
        {"name": question, "score": 0, "max_score": sum(cases.values()), "output": reason, "visibility": "visible"}
        for question, cases in test_cases(ag_dir).items()
    ]
    return {"score": 0, "output": reason, "tests": tests,
            "extra_data": {"status": status, "reason": reason, "flags": [reason] if status == "timed out" else []}}


def unpack_zips(submission: Path) -> None:
    """Gradescope may keep an uploaded zip whole: unpack it where otter looks for the notebook."""
    if list(submission.glob("*.ipynb")):
        return
    for archive in sorted(submission.glob("*.zip")):
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(submission)
        except zipfile.BadZipFile:
            continue


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


def write_results(ag_dir: Path, results: dict) -> None:
    path = ag_dir / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# What the notebook did at grading
# --------------------------------------------------------------------------------------------


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def set_aside_upload(ag_dir: Path) -> dict[str, str | None]:
    """Copy the submitted results file out of the notebook's folder before the notebook runs;
    return the digests that tell afterwards whether anything rewrote it."""
    folder = ag_dir / GRADING_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "uploaded").mkdir(parents=True)
    submitted = ag_dir / "submission" / RESULTS_NAME
    if submitted.is_file():
        shutil.copyfile(submitted, folder / "uploaded" / RESULTS_NAME)
    digest = _digest(submitted)
    return {"submitted": digest, "copy": digest}


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


def grading_notes(ag_dir: Path, digests: dict[str, str | None]) -> list[tuple[str, str]]:
    """(kind, message) for each thing the notebook did at grading that the student and TA should know."""
    notes = []
    path = ag_dir / GRADING_FOLDER / "notes.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                note = json.loads(line)
                notes.append((str(note["kind"]), str(note["message"])))
            except (ValueError, KeyError, TypeError):
                continue
    now = {"submitted": _digest(ag_dir / "submission" / RESULTS_NAME),
           "copy": _digest(ag_dir / GRADING_FOLDER / "uploaded" / RESULTS_NAME)}
    if now != digests:
        notes.append((
            "results rewritten",
            f"Your notebook wrote {RESULTS_NAME} while it was graded. The autograder graded the "
            f"{RESULTS_NAME} you submitted{'' if digests['submitted'] else ' (none)'}, not what the notebook wrote: "
            "results come from your own run of section 4, submitted with the notebook.",
        ))
    return list(dict.fromkeys(notes))  # each note once, in the order it happened


# What a TA should look at (the report's "needs a human look"); the other notes only inform.
FLAGGED = {
    "results rejected": f"{RESULTS_NAME} rejected as not one coherent run",
    "results rewritten": f"{RESULTS_NAME} rewritten at grading",
    "cell time limit": "a cell was stopped at grading",
}


def add_notes(results: dict, notes: list[tuple[str, str]]) -> dict:
    """Put the grading notes into Gradescope's results: the output students see, and extra_data."""
    if not notes:
        return results
    # a rejected results file is already explained by the failing tests' messages
    shown = [message for kind, message in notes if kind != "results rejected"]
    if shown:
        text = "Notes from grading:\n" + "\n".join(f"- {message}" for message in shown)
        results["output"] = (text + "\n\n" + (results.get("output") or "")).strip()
    extra = results.setdefault("extra_data", {})
    extra.setdefault("flags", [])
    extra["flags"] += [f"{FLAGGED[kind]}: {message}" for kind, message in notes if kind in FLAGGED]
    extra["notes"] = shown
    return results


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------


def stop_kernels() -> None:
    """End the processes otter started (the notebook's kernel runs in a session of its own)."""
    try:
        import psutil
    except ImportError:
        return  # the kernel ends by itself when this process is gone (ipykernel watches its parent)
    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass


def lost_assignment_name(submission: Path) -> bool:
    """Whether the notebook lost otter's metadata (its cells copied into a new notebook, or an editor
    that drops metadata): otter would refuse it as "assignment 'None'"; it is graded as this lab."""
    import nbformat

    nb = nbformat.read(next(submission.glob("*.ipynb")), as_version=4)
    return not (nb.metadata.get("otter") or {}).get("assignment_name")


def grade_with_otter(ag_dir: Path, budget: float) -> None:
    """Run otter with the grading-mode plugin; past ``budget`` seconds, write zeros with the reason."""
    from otter.run.run_autograder import main as run_autograder

    finished = threading.Lock()

    def over_budget():
        if not finished.acquire(blocking=False):
            return  # otter finished first
        reason = budget_reason(ag_dir, budget)
        write_results(ag_dir, zero_results(ag_dir, reason, status="timed out"))
        print(reason, flush=True)
        stop_kernels()
        os._exit(0)

    timer = threading.Timer(budget, over_budget)
    timer.daemon = True
    timer.start()
    try:
        overrides = {"assignment_name": None} if lost_assignment_name(ag_dir / "submission") else {}
        run_autograder(str(ag_dir), plugins=["lab5_autograder.GradingMode"], **overrides)
    finally:
        if not finished.acquire(blocking=False):
            threading.Event().wait()  # the budget's handler is writing the results and ending the process
        timer.cancel()


def main(ag_dir: Path) -> int:
    submission = ag_dir / "submission"
    unpack_zips(submission)
    problem = problem_with(submission)
    if problem:
        print(problem)
        write_results(ag_dir, zero_results(ag_dir, problem))
        return 0
    digests = set_aside_upload(ag_dir)
    os.environ["LAB5_GRADING_DIR"] = str(ag_dir / GRADING_FOLDER)  # the kernel otter starts inherits it
    os.environ["LAB5_CELL_LIMIT_S"] = f"{CELL_LIMIT_S:g}"
    try:
        grade_with_otter(ag_dir, BUDGET_S)
    except Exception as e:  # otter wrote nothing, or only its one-line error: give every case its zero
        message = str(e).strip() or type(e).__name__
        write_results(ag_dir, zero_results(ag_dir, f"This submission could not be graded: {message}"))
        print(f"Grading stopped: {message}")
    results_file = ag_dir / "results" / "results.json"
    results = json.loads(results_file.read_text(encoding="utf-8"))
    write_results(ag_dir, add_notes(results, grading_notes(ag_dir, digests)))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
