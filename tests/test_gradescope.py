"""Grading as on Gradescope's image (tests/gradescope_image.py): the image's own setup lines and
run_autograder, as root in Gradescope's container as emulated here (no namespaces: the notebook as the
unprivileged grading user alone); on corpus submissions that try what a notebook can do with its
operating system's rights at grading."""

from __future__ import annotations

import pwd

import gradescope_image
import pytest
from conftest import check_verdict
from submissions.corpus import SUBMISSIONS_ON_THE_IMAGE

CASES_ON_THE_IMAGE = [(name, case) for name, group in SUBMISSIONS_ON_THE_IMAGE.items() for case in group]


def test_the_image_copies_the_data_and_makes_the_grading_user(image_grades):
    import lab5_sandbox

    _, folder, printed, _ = image_grades
    assert (
        "notebooks run at grading as lab5-student" in printed
        and "their kernels have no network (a seccomp filter)" in printed
    )
    assert sorted(p.name for p in (folder / "opt-lab5" / "tweeteval" / "sentiment").iterdir()) == [
        "mapping.txt",
        "test_labels.txt",
        "test_text.txt",
        "val_labels.txt",
        "val_text.txt",
    ]
    assert (folder / "opt-lab5" / "checkpoint" / "config.json").is_file()
    user = pwd.getpwnam(lab5_sandbox.GRADING_USER)
    assert user.pw_dir == "/nonexistent" and lab5_sandbox.unreachable(user) == []


@pytest.mark.parametrize("name, case", CASES_ON_THE_IMAGE, ids=[case.name for _, case in CASES_ON_THE_IMAGE])
def test_case_gets_its_expected_points_on_the_image(name, case, image_grades):
    graded = image_grades[0][name]
    check_verdict(case, graded, others=[other for other in SUBMISSIONS_ON_THE_IMAGE[name] if other is not case])
    if graded.status == "graded":
        assert graded.extra.sandbox == "unprivileged user lab5-student (no namespaces)"
        assert graded.extra.isolation["network"] == "no internet sockets for the kernel (its seccomp filter loaded)"
        memory = graded.extra.isolation["memory"]
        assert "of address space per process (no memory cgroup here)" in memory
        if gradescope_image.container_limits():  # the container's own limit, which the entry point read
            assert memory.endswith(f", within the machine's {gradescope_image.TEST_CONTAINER[0] / 2**20:.0f} MB"), (
                memory
            )


def test_the_grading_user_cannot_reach_the_graders_files(image_grades):
    """What the entry point keeps to itself on the image: the upload, the autograder's files, results/."""
    folder = image_grades[1]
    for ag in (folder / "runs").glob("*/autograder"):
        for sub in ("source", "submission", "results"):
            assert (ag / sub).stat().st_mode & 0o077 == 0, f"{ag.parent.name}: {sub}/ is open to others"
