"""A student runs the lab: the student notebook filled in (with the solution, or edited), saved, run
top to bottom in a kernel as a student would, and its submission exported by its last cell. The one
harness of the tests and of every benchmark that needs a student's run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools import notebooks, project


@dataclass
class StudentRun:
    folder: Path  # the student's folder after the run: notebook, results file, seed file, submission zip
    executed: nbformat.NotebookNode
    submission: Path  # the zip the export cell wrote

    @property
    def record(self) -> dict:
        """The results file the run wrote."""
        return json.loads((self.folder / project.RESULTS_FILE).read_text())


def filled_in(edits: tuple[tuple[str, str], ...] = ()) -> nbformat.NotebookNode:
    """The student notebook with every blank as in the solution, then each (old, new) of ``edits``
    replaced in the one code cell that holds old."""
    nb = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_FILE, project.SOLUTION_NOTEBOOK)
    for old, new in edits:
        notebooks.replace_in_code(nb, old, new)
    return nb


def runs_the_lab(folder: Path, seed: int | None = None, nb: nbformat.NotebookNode | None = None) -> StudentRun:
    """A copy of student/ at ``folder`` where ``nb`` (default: :func:`filled_in`) runs top to bottom, as
    a student whose drawn training seed is ``seed`` (None: the setup cell draws one)."""
    executed = notebooks.run_as_student(nb if nb is not None else filled_in(), project.STUDENT, folder, seed=seed)
    zips = sorted(folder.glob("lab5_*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"the export cell wrote {len(zips)} submission zips in {folder}, not one")
    return StudentRun(folder, executed, zips[0])
