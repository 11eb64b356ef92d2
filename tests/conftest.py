"""Shared fixtures: a fresh build, and grading through the real `otter run`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tools import build, notebooks, project

# Every kernel and otter process the tests start runs the lab offline, on the local TweetEval copy.
project.use_profile("offline")
# The tests import the helper modules the notebook imports.
sys.path.insert(0, str(project.ASSIGNMENT))


# The autograded questions and their points.
POINTS = {"q1_data": 2, "q2_baseline": 3, "q3_tokenize": 3, "q4_setup": 4, "q5_results": 4, "q6_quiz": 3}


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory) -> Path:
    """student/, autograder/, solutions/ built now from the master (trains the reference model once)."""
    root = tmp_path_factory.mktemp("fresh-build")
    build.build("offline", work=root / "work", out=root / "out")
    return root / "out"


@dataclass
class Graded:
    returncode: int
    output: str
    results: dict | None

    @property
    def tests(self) -> dict[str, dict]:
        return {t["name"]: t for t in (self.results or {}).get("tests", [])}

    def score(self, prefix: str) -> float:
        """Points of the test cases whose name starts with ``prefix`` (e.g. a question name)."""
        return sum(t.get("score", 0) for n, t in self.tests.items() if n.startswith(prefix))

    def max_score(self, prefix: str) -> float:
        return sum(t.get("max_score", 0) for n, t in self.tests.items() if n.startswith(prefix))


def otter_run(submission: Path, workdir: Path, autograder: Path = project.AUTOGRADER_ZIP) -> Graded:
    """Grade ``submission`` with ``otter run`` (real kernel, no network) and read its results.json."""
    out = workdir / "otter-run"
    shutil.rmtree(out, ignore_errors=True)  # otter may leave an older results.json on failure
    out.mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "otter", "run", "-a", str(autograder), "-o", str(out), str(submission)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else None
    return Graded(proc.returncode, proc.stdout + proc.stderr, results)


@pytest.fixture(scope="session")
def grade():
    return otter_run


@dataclass
class ReferenceRun:
    folder: Path  # the student's folder after the run: notebook, lab5_results.json, submission zip
    executed: nbformat.NotebookNode
    submission: Path


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> ReferenceRun:
    """The student notebook filled in with the solution, saved, run top to bottom in a kernel (public
    checks, training, evaluation), then exported by its last cell: what a student hands in."""
    folder = tmp_path_factory.mktemp("reference") / "lab5"
    filled = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_NAME, project.SOLUTION_NOTEBOOK)
    executed = notebooks.run_as_student(filled, project.STUDENT, folder)
    zips = sorted(folder.glob("lab5_*.zip"))
    assert len(zips) == 1, "the export cell did not write one submission zip"
    return ReferenceRun(folder, executed, zips[0])
