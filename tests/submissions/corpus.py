"""The corpus of submissions: the cases (cases.py, written in the language of tools/submissions.py) and how the
tests grade them, several cases to one submission where their faults sit in different questions."""

from __future__ import annotations

from pathlib import Path

import nbformat

# what the tests and benchmarks take from the corpus
from submissions.cases import CASES, ENVIRONMENT_TARGETS, ESCAPE_MARKER, FAULT_CLASSES, GROUPS, LOOPBACK_PORT  # noqa: F401
from submissions.points import POINTS, PUBLIC_CASES  # noqa: F401

from tools.submissions import Case, make_submission

BY_NAME = {case.name: case for case in CASES}


def submissions() -> dict[str, list[Case]]:
    """What is graded through the whole autograder: each group, and every case that is neither grouped
    nor results-only, by the submission's name."""
    grouped = {name for names in GROUPS.values() for name in names}
    found = {group: [BY_NAME[name] for name in names] for group, names in GROUPS.items()}
    found.update({case.name: [case] for case in CASES if case.name not in grouped and not case.results_only})
    return found


def group_env(cases: list[Case]) -> dict[str, str]:
    """The grading's environment variables that the cases of one submission set (see GROUPS)."""
    return {key: value for case in cases for key, value in case.env.items()}


def make_group_submission(
    cases: list[Case], base: nbformat.NotebookNode, results: dict, dest: Path, other_run: dict | None = None
) -> Path:
    """One submission with the edits of every case in ``cases``, in order (see GROUPS)."""
    together = Case("+".join(case.name for case in cases), "", [edit for case in cases for edit in case.edits])
    return make_submission(together, base, results, dest, other_run)


# Also graded as on Gradescope's image (tests/test_gradescope.py): the reference, and every submission
# that holds a case marked ``gradescope`` (the notebook's operating system rights at grading).
SUBMISSIONS_ON_THE_IMAGE = {
    name: group
    for name, group in submissions().items()
    if name == "right_reference" or any(case.gradescope for case in group)
}
