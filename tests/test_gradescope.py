"""Grading as on Gradescope's image: the lab's part of setup.sh and the run_autograder of the built
autograder zip, run for real by bash as root, with the autograder's paths (/autograder, /opt/lab5)
moved into a folder of the test and a stand-in for mamba (`mamba run` runs the command with the
project's Python; the project's Python is otter-env). The entry point runs as root and the notebook
as the unprivileged grading user, without namespaces (LAB5_SANDBOX=user: a container that allows no
bubblewrap sandbox, the case this user is for). One grading at a time, as Gradescope runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import check_verdict, escaped_files, grading_user_processes, need, python_environment
from submissions.corpus import CASES, make_submission
from tools import build, notebooks, project
from tools.grade import Graded

MAMBA = """#!/bin/sh
# A stand-in for mamba: the project's Python is otter-env.
case "$1" in
  shell) echo 'mamba() { :; }' ;;
  run) shift 3; exec "$@" ;;
esac
"""
IMAGE_CASES = [case for case in CASES if case.gradescope or case.name == "right_reference"]


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _script(text: str, ag: Path, image: Path) -> str:
    return text.replace(build.IMAGE_DIR, str(image)).replace("/autograder", str(ag))


def _environment(shim: Path, **extra) -> dict[str, str]:
    """What the image's shell has: the profile and PATH, none of the test process's lab settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB5_", "TWEETEVAL", "HF_"))}
    env.update(PATH=f"{shim}:{Path(sys.executable).parent}:{env.get('PATH', '')}", LAB5_PROFILE="offline", **extra)
    return env


@pytest.fixture(scope="session")
def image(tmp_path_factory):
    """The lab's additions to the image, made by setup.sh's own lines: the data set and the checkpoint
    in the image folder, the grading user, its way to the Python environment."""
    need(_is_root(), "root (Gradescope's image is set up and graded as root)")
    folder = tmp_path_factory.mktemp("gradescope")
    shim, image, source = folder / "bin", folder / "opt-lab5", folder / "autograder" / "source"
    shim.mkdir()
    (shim / "mamba").write_text(MAMBA)
    (shim / "mamba").chmod(0o755)
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        zf.extractall(source)
        setup = zf.read("setup.sh").decode()
    lab_part = setup[setup.index(build.LAB_SETUP_BEGIN):]
    proc = subprocess.run(["bash", "-c", _script(lab_part, folder / "autograder", image)], capture_output=True,
                          text=True, timeout=600, env=_environment(shim, TWEETEVAL_DIR=str(project.SHARED_TWEETEVAL)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder, shim, image, proc.stdout


def run_autograder(upload: Path, folder: Path, shim: Path, image: Path, env: dict[str, str]) -> Graded:
    """Gradescope's run: a fresh /autograder with the upload in submission/ (a zip kept whole), then
    the zip's run_autograder; what it leaves in results/results.json."""
    ag = folder / upload.stem / "autograder"
    for sub in ("submission", "results"):
        (ag / sub).mkdir(parents=True)
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        zf.extractall(ag / "source")
        script = _script(zf.read("run_autograder").decode(), ag, image)
    (ag / "submission_metadata.json").write_text("{}")
    shutil.copy(upload, ag / "submission" / upload.name)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=900, cwd=ag,
                          env=_environment(shim, LAB5_SANDBOX="user", **env))
    results = json.loads((ag / "results" / "results.json").read_text())
    extra = results.get("extra_data") or {}
    return Graded(upload.name, extra.get("status", "graded"), extra.get("reason", ""), results,
                  log=proc.stdout + proc.stderr, upload=upload)


@pytest.fixture(scope="session")
def image_grades(image, reference_run, build_run):
    folder, shim, image_dir, _ = image
    base = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_NAME, project.SOLUTION_NOTEBOOK)
    results = json.loads((reference_run.folder / project.RESULTS_NAME).read_text())
    environment = python_environment()
    graded = {}
    for case in IMAGE_CASES:
        upload = make_submission(case, base, results, folder / "uploads" / f"{case.name}.zip", build_run)
        graded[case.name] = run_autograder(upload, folder / "runs", shim, image_dir, case.env)
    return graded, environment, folder


def test_the_image_copies_the_data_and_makes_the_grading_user(image):
    import pwd

    import lab5_sandbox

    _, _, image_dir, output = image
    assert "notebooks run at grading as lab5-student" in output
    assert sorted(p.name for p in (image_dir / "tweeteval" / "sentiment").iterdir()) == [
        "mapping.txt", "test_labels.txt", "test_text.txt", "val_labels.txt", "val_text.txt"]
    assert (image_dir / "checkpoint" / "config.json").is_file()
    user = pwd.getpwnam(lab5_sandbox.GRADING_USER)
    assert user.pw_dir == "/nonexistent" and lab5_sandbox.unreachable(user) == []


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[case.name for case in IMAGE_CASES])
def test_case_gets_its_expected_points_on_the_image(case, image_grades):
    graded = image_grades[0][case.name]
    check_verdict(case, graded)
    if graded.status == "graded":
        assert graded.extra["sandbox"] == "unprivileged user lab5-student (no namespaces)"


def test_the_grading_user_cannot_reach_the_graders_files(image_grades):
    """What the entry point keeps to itself on the image: the upload, the autograder's files, results/."""
    folder = image_grades[2]
    ag = next((folder / "runs").glob("*/autograder"))
    for sub in ("source", "submission", "results"):
        assert (ag / sub).stat().st_mode & 0o077 == 0, f"{sub}/ is open to others"


def test_nothing_of_the_notebooks_is_left_on_the_image(image_grades):
    _, environment, folder = image_grades
    assert grading_user_processes() == []
    assert escaped_files(folder / "runs") == []
    assert python_environment() == environment
