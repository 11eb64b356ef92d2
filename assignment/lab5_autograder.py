"""The autograder's entry point: check the submission, then let otter grade it.

Gradescope's run_autograder (and the local grader, tools/grade.py) runs

    python /autograder/source/files/lab5_autograder.py /autograder

Otter stops without a results file on some uploads (a notebook that is not JSON, a zip without the
notebook, ...). Here each of those gets a results file all the same: zero on every test case, with
a message that says what was wrong and what to upload instead.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

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


def zero_results(ag_dir: Path, reason: str, status: str = "not gradable") -> dict:
    """Gradescope results as otter writes them (one entry per question), all at zero, each saying
    why; ``extra_data`` tells graders what happened."""
    tests = [
        {"name": question, "score": 0, "max_score": sum(cases.values()), "output": reason, "visibility": "visible"}
        for question, cases in test_cases(ag_dir).items()
    ]
    return {"score": 0, "output": reason, "tests": tests, "extra_data": {"status": status, "reason": reason}}


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


def main(ag_dir: Path) -> int:
    submission = ag_dir / "submission"
    unpack_zips(submission)
    problem = problem_with(submission)
    if problem:
        print(problem)
        write_results(ag_dir, zero_results(ag_dir, problem))
        return 0
    from otter.run.run_autograder import main as run_autograder

    try:
        run_autograder(str(ag_dir))
    except Exception as e:  # otter wrote nothing, or only its one-line error: give every case its zero
        message = str(e).strip() or type(e).__name__
        write_results(ag_dir, zero_results(ag_dir, f"This submission could not be graded: {message}"))
        print(f"Grading stopped: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
