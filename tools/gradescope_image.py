"""Gradescope's image, laid out in a folder of this machine: the lab's part of setup.sh and the
run_autograder of a built autograder zip, run for real by bash as root, with the autograder's paths
(/autograder, /opt/lab5) moved into the folder and a stand-in for mamba (`mamba run` runs the command
with the project's Python, which stands for otter-env).

Grading runs either as the tests have long run it (the grading user alone and an address-space limit,
asked for by LAB5_SANDBOX=user and LAB5_MEMORY=address-space), or inside Gradescope's container as
tools/container.py emulates it (its memory and CPU limits, root without CAP_SYS_ADMIN, no namespaces,
read-only cgroups), where the entry point finds out for itself what it can make.

The full profile's image needs the hub at setup: here the hub's stand-in (tools/standin.py) is put where
the image's setup fills the hub's cache, and the setup runs with the hub off.
What this cannot show: the image's own file system, Gradescope's kernel and its neighbours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools import build, container, project
from tools.autograder import Autograder
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


def _environment(shim: Path, profile: str, **extra) -> dict[str, str]:
    """What the image's shell has: the profile and PATH, none of the calling process's lab settings."""
    env = project.without_lab_settings()
    env.update(PATH=f"{shim}:{Path(sys.executable).parent}:{env.get('PATH', '')}", LAB5_PROFILE=profile, **extra)
    return env


def set_up(
    folder: Path, autograder_zip: Path = project.AUTOGRADER_ZIP, profile: str = "offline", hub: Path | None = None
) -> tuple[Path, Path, str]:
    """The lab's additions to the image, made by setup.sh's own lines: the data set and the checkpoint in
    the image folder, the grading user, its way to the Python environment. ``hub``: a hub cache to start
    from (the full profile's stand-in), the hub then off. Returns the mamba stand-in's folder, the image
    folder and what the setup printed."""
    shim, image = folder / "bin", folder / "opt-lab5"
    shim.mkdir(parents=True)
    (shim / "mamba").write_text(MAMBA)
    (shim / "mamba").chmod(0o755)
    autograder = Autograder(autograder_zip)
    autograder.lay_out(folder)  # /autograder/source, where the image's setup.sh finds the lab's files
    setup = autograder.read("setup.sh").decode()
    extra = {}
    if profile == "offline":
        extra[project.DATA_DIR_ENV] = str(project.SHARED_TWEETEVAL)
    if hub is not None:  # as if the setup had filled the hub's cache itself (hard links: nothing copied)
        shutil.copytree(hub, image / "hf", symlinks=True, copy_function=os.link)
        extra.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    lab_part = setup[setup.index(build.LAB_SETUP_BEGIN) :]
    proc = subprocess.run(
        ["bash", "-c", _script(lab_part, folder / "autograder", image)],
        capture_output=True,
        text=True,
        timeout=1200,
        env=_environment(shim, profile, **extra),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the image's setup failed:\n{proc.stdout}\n{proc.stderr}")
    return shim, image, proc.stdout


def run_autograder(
    upload: Path,
    folder: Path,
    shim: Path,
    image: Path,
    env: dict[str, str],
    autograder_zip: Path = project.AUTOGRADER_ZIP,
    profile: str = "offline",
    limits: tuple[int, float] | None = None,
) -> tuple[Graded, container.Outcome | None]:
    """Gradescope's run: a fresh /autograder with the upload in submission/ (a zip kept whole), then the
    zip's run_autograder; what it leaves in results/results.json. ``limits``: (memory bytes, CPUs) of an
    emulated Gradescope container to run it in (tools/container.py), with its outcome; None: as root
    here, the grading user alone asked for."""
    autograder = Autograder(autograder_zip)
    ag = autograder.lay_out(folder / upload.stem)
    script = _script(autograder.read("run_autograder").decode(), ag, image)
    shutil.copy(upload, ag / "submission" / upload.name)
    outcome = None
    if limits is None:
        boundary = autograder.module("lab5_boundary")
        alone = {
            boundary.SANDBOX_ENV: "user",
            boundary.MEMORY_ENV: "address-space",
        }  # what Gradescope's container allows
        proc = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=ag,
            env=_environment(shim, profile, **alone, **env),
        )
        log = proc.stdout + proc.stderr
    else:
        memory, cpus = limits
        outcome = container.run(
            ["bash", "-c", script],
            memory=memory,
            cpus=cpus,
            cwd=ag,
            timeout=1800,
            env=_environment(shim, profile, **env),
        )
        log = outcome.stdout + outcome.stderr
    path = ag / "results" / "results.json"
    if not path.is_file():
        return Graded(
            upload.name,
            autograder.module("lab5_boundary").GRADER_ERROR,
            f"no results.json (the run's log ends: {log[-300:]!r})",
            {},
            log=log,
            upload=upload,
        ), outcome
    return Graded.of(upload.name, json.loads(path.read_text()), autograder, log=log, upload=upload), outcome
