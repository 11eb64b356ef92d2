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
from tools.grade import Graded

# Every kernel and otter process the tests start runs the lab offline, on the local TweetEval copy.
project.use_profile("offline")
# The tests import the helper modules the notebook imports.
sys.path.insert(0, str(project.ASSIGNMENT))


from submissions.corpus import POINTS  # noqa: E402  (the autograded questions and their points)


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory) -> Path:
    """student/, autograder/, solutions/ as a build from the master makes them now: the one that
    `python3 -m tools build` made from the same inputs, or one made here (trains the reference model)."""
    reused = build.cached("offline")
    if reused is not None:
        return reused
    work = tmp_path_factory.mktemp("fresh-build") / "work"
    build.build("offline", work=work, out=work / "published")
    return work / "published"


@pytest.fixture(scope="session")
def build_run(fresh_build) -> dict:
    """The results file of the build's own run: a real run of another student (training seed
    project.BUILD_SEED) than the reference run's."""
    return json.loads((fresh_build.parent / "assignment" / project.RESULTS_NAME).read_text())


def otter_run(submission: Path, workdir: Path, autograder: Path = project.AUTOGRADER_ZIP) -> Graded:
    """Grade ``submission`` with ``otter run`` (real kernel, no network) and read its results.json;
    the status is "graded" when otter exits 0, its output is the log."""
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
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    status = "graded" if proc.returncode == 0 else f"otter run exited {proc.returncode}"
    return Graded(submission.name, status, "", results, log=proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def grade():
    return otter_run


@dataclass
class ReferenceRun:
    folder: Path  # the student's folder after the run: notebook, lab5_results.json, submission zip
    executed: nbformat.NotebookNode
    submission: Path


# The reference student's drawn training seed (the build's run is another student's, with BUILD_SEED).
REFERENCE_SEED = 42


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> ReferenceRun:
    """The student notebook filled in with the solution, saved, run top to bottom in a kernel (public
    checks, training, evaluation), then exported by its last cell: what a student hands in."""
    folder = tmp_path_factory.mktemp("reference") / "lab5"
    filled = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_NAME, project.SOLUTION_NOTEBOOK)
    executed = notebooks.run_as_student(filled, project.STUDENT, folder, seed=REFERENCE_SEED)
    zips = sorted(folder.glob("lab5_*.zip"))
    assert len(zips) == 1, "the export cell did not write one submission zip"
    return ReferenceRun(folder, executed, zips[0])
