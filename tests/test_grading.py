"""Grading for real: the reference solution as a student would run and export it (through the
autograder's entry point, as Gradescope grades it), and a blank notebook (through otter's own `otter
run`, which the zip also serves)."""

from __future__ import annotations

import json
import zipfile

from conftest import POINTS

from tools import project


def test_public_checks_pass_on_the_reference_solution(reference_run):
    executed = reference_run.executed
    checks = [c for c in executed.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
    assert len(checks) == len(POINTS)
    for cell in checks:
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in cell.outputs)
        assert "passed" in shown and "failed" not in shown, f"{cell.source}: {shown}"


def test_export_zip_holds_notebook_and_results(reference_run):
    names = zipfile.ZipFile(reference_run.submission).namelist()
    assert project.NOTEBOOK_FILE in names and project.RESULTS_FILE in names, names


def test_reference_solution_gets_full_points(reference_graded):
    graded = reference_graded
    assert graded.status == "graded", graded.log
    assert not graded.extra.flags, graded.extra.flags
    for question, points in POINTS.items():
        assert graded.max_score(question) == points, f"{question} is not worth {points} points"
        failed = [
            f"{n}: {t.get('output', '')}"
            for n, t in graded.tests.items()
            if n.startswith(question) and t.get("score") != t.get("max_score")
        ]
        assert not failed, "\n".join(failed)
    total = sum(t.get("score", 0) for t in graded.tests.values())
    assert total == sum(t.get("max_score", 0) for t in graded.tests.values()) == sum(POINTS.values())


def test_the_lesson_holds_in_the_reference_run(reference_run):
    """Fine-tuning beats the baseline by 8 points; the same network from random weights does not come
    near the fine-tuned one (the offline profile's CPU run is deterministic)."""
    results = json.loads(zipfile.ZipFile(reference_run.submission).read(project.RESULTS_FILE))
    accuracies = {key: results[key] for key in project.ACCURACIES}
    assert accuracies["acc_ft"] - accuracies["acc_bow"] >= 0.08, accuracies
    assert accuracies["acc_ft"] - accuracies["acc_scratch"] >= 0.05, accuracies


def test_blank_student_notebook_gets_zero_without_crashing_the_grader(grade, tmp_path):
    graded = grade(project.STUDENT / project.NOTEBOOK_FILE, tmp_path)
    assert graded.status == "graded", graded.log
    assert graded.results, "otter wrote no results.json"
    for question, points in POINTS.items():
        assert graded.max_score(question) == points, f"{question} is not worth {points} points"
        assert graded.score(question) == 0, f"a blank notebook scores on {question}: {graded.tests}"
    assert not any("Autograder" in name for name in graded.tests), graded.tests
