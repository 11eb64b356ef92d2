"""Otter's plugin that puts a notebook in grading mode: a first cell that enters it
(lab5_grading_mode.enter) and a last cell that writes the notebook's facts (lab5_facts.py).

Shipped in the autograder zip only; at grading on the student's side, where the otter process
(lab5_student_side.py) names it to otter's run_autograder, which imports it. Nothing here decides a
grade (docs/design.md, "The trust boundary").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import lab5_boundary as boundary
import nbformat
from otter.plugins import AbstractOtterPlugin

GRADING_CELL = (
    "# Added by the autograder: the notebook runs in grading mode (nothing is trained; your submitted\n"
    "# lab5_results.json is graded; a cell that runs too long is stopped).\n"
    "import lab5_grading_mode as _lab5_grading\n"
    "_lab5_grading.enter({folder!r}, {limit}, end_leftovers={isolated})\n"
)
SKIPPED_CELL = (
    "# Skipped by the autograder: when the notebook was graded, this cell did not stop at its time limit,\n"
    "# or it ended the kernel, so the notebook was graded again without it.\n"
)
FACTS_CELL = (
    "# Added by the autograder: what the tests may know of the notebook's graded names (lab5_facts.py).\n"
    "import lab5_grading_mode as _lab5_grading\n"
    "_lab5_grading.write_facts(globals(), {path!r})\n"
)


class GradingMode(AbstractOtterPlugin):
    """The grading-mode cell goes first in the notebook otter executes (otter's own cells come before
    it) and the facts cell last (otter's run of the public tests comes after it); the uploaded file is
    not changed. Its settings come from the environment the grader started the student's side with."""

    def before_execution(self, submission):
        folder = Path(os.environ[boundary.REPORT_ENV])
        skipped = {int(i) for i in json.loads(os.environ.get(boundary.SKIPPED_ENV) or "[]")}
        for index, cell in enumerate(submission.cells):  # the driver tells cells by the notebook's index
            if cell.cell_type == "code":
                cell.metadata[boundary.CELL_KEY] = index
                if index in skipped:
                    cell.source = SKIPPED_CELL
        first = GRADING_CELL.format(
            folder=str(folder), limit=boundary.CELL_LIMIT_S, isolated=os.environ.get(boundary.ISOLATED_ENV) == "1"
        )
        submission.cells.insert(0, nbformat.v4.new_code_cell(first))
        last = nbformat.v4.new_code_cell(FACTS_CELL.format(path=str(folder / boundary.FACTS_FILE)))
        last.metadata[boundary.CELL_KEY] = boundary.FACTS_CELL_KEY
        submission.cells.append(last)
        return submission
