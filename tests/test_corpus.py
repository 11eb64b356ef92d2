"""The corpus of submissions (tests/submissions/corpus.py), each graded through the built autograder.

Every submission goes through what Gradescope runs: the autograder zip's entry point, which checks
the upload and runs otter (tools/grade.py). The gradings run in parallel, once per test session.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import POINTS
from submissions.corpus import CASES, make_submission
from tools import grade, notebooks, project


@pytest.fixture(scope="session")
def corpus_grades(reference_run, build_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    base = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_NAME, project.SOLUTION_NOTEBOOK)
    results = json.loads((reference_run.folder / project.RESULTS_NAME).read_text())
    uploads = {case.name: make_submission(case, base, results, folder / "uploads" / f"{case.name}.zip", build_run)
               for case in CASES}

    env = {case.name: case.env for case in CASES}

    def run(name):
        return name, grade.grade(uploads[name], project.AUTOGRADER_ZIP, folder / "work" / name, timeout=600, env=env[name])

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(pool.map(run, uploads))


def test_corpus_has_enough_cases_of_each_kind():
    kinds = [case.name.split("_")[0] for case in CASES]
    assert kinds.count("right") >= 6 and kinds.count("wrong") >= 16 and kinds.count("bad") >= 6
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_gets_its_expected_points(case, corpus_grades):
    graded = corpus_grades[case.name]
    assert graded.status == case.status, f"{case.why}: {graded.message}\n{graded.log[-3000:]}"
    got = {q: graded.score(q) for q in POINTS}
    want = {q: case.scores.get(q, points) for q, points in POINTS.items()}
    assert {q: graded.max_score(q) for q in POINTS} == POINTS
    assert got == want, f"{case.why}: failures {json.dumps(graded.failures(), indent=1)}"
    if case.message:  # what the student is shown: the tests' messages and the notes from grading
        shown = "\n".join([graded.message, graded.results.get("output") or "", *graded.failures().values()])
        assert case.message in shown, f"{case.why}: no message says {case.message!r}:\n{shown}"
    flags = "\n".join((graded.results.get("extra_data") or {}).get("flags") or [])
    if case.flag:
        assert case.flag in flags, f"{case.why}: no flag for the TA says {case.flag!r}:\n{flags}"
    elif case.right:
        assert not flags, f"{case.why}: a right submission is flagged:\n{flags}"
