"""Grading as on Gradescope's image: the lab's part of setup.sh and the run_autograder of the built
autograder zip, run for real by bash as root, with the autograder's paths (/autograder, /opt/lab5)
moved into a folder of the test and a stand-in for mamba (`mamba run` runs the command with the
project's Python, which stands for otter-env). The entry point runs as root and the notebook as the
unprivileged grading user without namespaces (LAB5_SANDBOX=user: a container that allows no
bubblewrap sandbox, the case that user is for), with no memory cgroup of its own (LAB5_MEMORY=address-space:
Gradescope's root has no cgroups it may write). One grading at a time, as Gradescope runs them.
What this stand-in cannot show: Docker's own seccomp profile and Gradescope's memory limit of the container."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from submissions.corpus import SUBMISSIONS_ON_THE_IMAGE, group_env, make_group_submission
from tools import build, project
from tools.grade import Graded

MAMBA = """#!/bin/sh
# A stand-in for mamba: the project's Python is otter-env.
case "$1" in
  shell) echo 'mamba() { :; }' ;;
  run) shift 3; exec "$@" ;;
esac
"""


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _script(text: str, ag: Path, image: Path) -> str:
    return text.replace(build.IMAGE_DIR, str(image)).replace("/autograder", str(ag))


def _environment(shim: Path, **extra) -> dict[str, str]:
    """What the image's shell has: the profile and PATH, none of the test process's lab settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB5_", "TWEETEVAL", "HF_"))}
    env.update(PATH=f"{shim}:{Path(sys.executable).parent}:{env.get('PATH', '')}", LAB5_PROFILE="offline", **extra)
    return env


def set_up(folder: Path) -> tuple[Path, Path, str]:
    """The lab's additions to the image, made by setup.sh's own lines: the data set and the checkpoint in
    the image folder, the grading user, its way to the Python environment. Returns the stand-in's folder,
    the image folder and what the setup printed."""
    shim, image, source = folder / "bin", folder / "opt-lab5", folder / "autograder" / "source"
    shim.mkdir(parents=True)
    (shim / "mamba").write_text(MAMBA)
    (shim / "mamba").chmod(0o755)
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        zf.extractall(source)
        setup = zf.read("setup.sh").decode()
    lab_part = setup[setup.index(build.LAB_SETUP_BEGIN):]
    proc = subprocess.run(["bash", "-c", _script(lab_part, folder / "autograder", image)], capture_output=True,
                          text=True, timeout=600, env=_environment(shim, TWEETEVAL_DIR=str(project.SHARED_TWEETEVAL)))
    if proc.returncode != 0:
        raise RuntimeError(f"the image's setup failed:\n{proc.stdout}\n{proc.stderr}")
    return shim, image, proc.stdout


def run_autograder(upload: Path, folder: Path, shim: Path, image: Path, env: dict[str, str]) -> Graded:
    """Gradescope's run: a fresh /autograder with the upload in submission/ (a zip kept whole), then the
    zip's run_autograder; what it leaves in results/results.json."""
    ag = folder / upload.stem / "autograder"
    for sub in ("submission", "results"):
        (ag / sub).mkdir(parents=True)
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        zf.extractall(ag / "source")
        script = _script(zf.read("run_autograder").decode(), ag, image)
    (ag / "submission_metadata.json").write_text("{}")
    shutil.copy(upload, ag / "submission" / upload.name)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=900, cwd=ag,
                          env=_environment(shim, LAB5_SANDBOX="user", LAB5_MEMORY="address-space", **env))
    results = json.loads((ag / "results" / "results.json").read_text())
    extra = results.get("extra_data") or {}
    return Graded(upload.name, extra.get("status", "graded"), extra.get("reason", ""), results,
                  log=proc.stdout + proc.stderr, upload=upload)


def grade_cases(folder: Path, base, record: dict, env: dict[str, str]) -> tuple[dict[str, Graded], Path, str]:
    """Set the image up in ``folder``, then grade each of SUBMISSIONS_ON_THE_IMAGE there, one at a time,
    with ``env`` and each case's own variables."""
    shim, image, printed = set_up(folder)
    graded = {}
    for name, group in SUBMISSIONS_ON_THE_IMAGE.items():
        upload = make_group_submission(group, base, record, folder / "uploads" / f"{name}.zip")
        graded[name] = run_autograder(upload, folder / "runs", shim, image, {**env, **group_env(group)})
    return graded, folder, printed
