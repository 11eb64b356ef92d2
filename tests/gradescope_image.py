"""Grading as on Gradescope's image (tools/gradescope_image.py), for the tests: each corpus submission
of SUBMISSIONS_ON_THE_IMAGE graded there, one at a time, as Gradescope runs them, in Gradescope's
container as tools/container.py emulates it (root without CAP_SYS_ADMIN and without namespaces, so the
notebook runs as the unprivileged grading user alone; read-only cgroups, so the memory limit is the
address space's and the container's own) where this machine can emulate it, else as root with the
grading user alone asked for (LAB5_SANDBOX=user, LAB5_MEMORY=address-space)."""

from __future__ import annotations

from pathlib import Path

from submissions.corpus import SUBMISSIONS_ON_THE_IMAGE, group_env, make_group_submission

from tools import container
from tools.grade import Graded
from tools.gradescope_image import is_root, run_autograder, set_up  # noqa: F401 (is_root: for the fixtures)

# The container of the tests' gradings: the memory that the offline profile's gradings need with a
# margin (docs/performance.md, "Memory at grading"); all of the machine's CPUs (the
# gradings share them with the rest of the suite: half a CPU is the benchmark's, bench/fullprofile.py).
TEST_CONTAINER = (4 * 2**30, 2.0)


def container_limits() -> tuple[int, float] | None:
    return TEST_CONTAINER if container.available() is None else None


def grade_cases(folder: Path, base, record: dict, env: dict[str, str]) -> tuple[dict[str, Graded], Path, str]:
    """Set the image up in ``folder``, then grade each of SUBMISSIONS_ON_THE_IMAGE there, one at a time,
    with ``env`` and each case's own variables."""
    shim, image, printed = set_up(folder)
    graded = {}
    for name, group in SUBMISSIONS_ON_THE_IMAGE.items():
        upload = make_group_submission(group, base, record, folder / "uploads" / f"{name}.zip")
        graded[name], _ = run_autograder(
            upload, folder / "runs", shim, image, {**env, **group_env(group)}, limits=container_limits()
        )
    return graded, folder, printed
