"""The corpus of submissions (tests/submissions/corpus.py), graded by the built autograder.

Every submission goes through what the TA command runs (tools/grade.py): the autograder zip's entry
point, which takes the upload, runs the notebook in a sandbox (lab5_sandbox.py) and grades the results
questions itself; four at a time, each notebook in a sandbox of its own, beside the reference student's
training and the rest of the session (conftest.Background); afterwards nothing of theirs may be left on
the machine. The submissions are built on the build's own run (another student's, training seed 43).
Cases whose faults sit in different questions share a submission (corpus.GROUPS). A case that changes nothing but the results file is also graded the way the entry
point decides the results questions for every upload, without a kernel: its intake, its results
grader and its verdict, with the answers the reference notebook gives for that file.
"""

from __future__ import annotations

import json

import pytest
from conftest import POINTS, SUBMISSIONS, check_verdict, escaped_files, grading_user_processes, need, python_environment
from submissions.corpus import CASES

IN = {case.name: (name, group) for name, group in SUBMISSIONS.items() for case in group}
RESULTS_QUESTIONS = {"q5_results": POINTS["q5_results"], "q7_scratch_results": POINTS["q7_scratch_results"]}


def test_corpus_has_enough_cases_of_each_kind():
    kinds = [case.name.split("_")[0] for case in CASES]
    assert kinds.count("right") >= 6 and kinds.count("wrong") >= 16 and kinds.count("bad") >= 6
    assert len({case.name for case in CASES}) == len(CASES)


def test_grouped_cases_leave_each_other_alone():
    """A group's cases each lose points on questions of their own, are graded, and share their settings."""
    for name, group in SUBMISSIONS.items():
        questions = [q for case in group for q in case.scores]
        assert len(questions) == len(set(questions)), f"{name}: two cases lose points on one question"
        if len(group) > 1:
            assert {case.status for case in group} == {"graded"}, name
            assert len({json.dumps(case.env, sort_keys=True) for case in group if case.env}) <= 1, name


# results_grades before corpus_grades: the results-only cases are graded here while the corpus still is
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_gets_its_expected_points(case, results_grades, corpus_grades, sandbox_mode):
    if case.sandboxed:
        need(sandbox_mode != "none", "bubblewrap, for the cases that hold only in a sandbox")
    if case.name in IN:
        name, group = IN[case.name]
        check_verdict(case, corpus_grades[0][name], others=[other for other in group if other is not case])
    if case.results_only:
        check_verdict(case, results_grades[case.name], questions=RESULTS_QUESTIONS)


def test_every_notebook_ran_in_a_sandbox(corpus_grades, sandbox_mode):
    need(sandbox_mode != "none", "bubblewrap")
    ways = {name: graded.extra.sandbox for name, graded in corpus_grades[0].items() if graded.status == "graded"}
    assert all(way.startswith("bubblewrap sandbox") for way in ways.values()), ways


def test_no_notebook_reached_the_network(corpus_grades, background, request):
    """Nothing reached the listener on the machine's loopback from the notebooks graded here and (as
    root) on the image, where they run as the grading user without namespaces, as on Gradescope."""
    import gradescope_image

    if gradescope_image.is_root():
        request.getfixturevalue("image_grades")
    assert "right_cell_reaches_for_the_network" in {
        case.name for group in corpus_grades[0] for case in SUBMISSIONS.get(group, [])
    }
    assert background.listener.received == []


def test_nothing_of_the_notebooks_is_left_on_the_machine(corpus_grades, sandbox_mode, request):
    """No process of theirs runs on, no file they wrote outside their folder is left, and the Python
    environment is as it was (a notebook tried to append to it): here, and (as root) on the image."""
    import gradescope_image

    need(sandbox_mode != "none", "bubblewrap")
    _, environment, folder = corpus_grades
    places = [folder / "work"]
    if gradescope_image.is_root():
        places.append(request.getfixturevalue("image_grades")[1] / "runs")
    assert grading_user_processes() == []
    assert [f for place in places for f in escaped_files(place)] == []
    assert python_environment() == environment
