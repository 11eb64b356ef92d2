"""Run notebooks in a real Jupyter kernel, and keep only the outputs worth publishing."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tools import project
from tools.autograder import checkout_module
from tools.written import without_rubric

# Outputs that change from run to run or only make sense live: progress widgets, stderr.
_LIVE_ONLY_MIME = "application/vnd.jupyter.widget-view+json"
SOLUTION_TAG = (
    "otter_assign_solution_cell"  # otter assign's tag of the solution cells (lab5_written.ANSWER_TAG: the blanks)
)
_SOLUTION_LINE_MARK = re.compile(r"[ \t]*#[ \t]*SOLUTION[ \t]*$", re.M)
_SOLUTION_BLOCK_MARK = re.compile(r"^[ \t]*#[ \t]*(BEGIN|END) SOLUTION[ \t]*(\n|\Z)", re.M)


def execute(path: Path, cwd: Path, timeout: int = 1800, allow_errors: bool = False):
    """Execute the notebook at ``path`` with the working directory ``cwd``; return the executed copy."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        allow_errors=allow_errors,
        record_timing=False,
        store_widget_state=False,
    )
    client.execute()
    return nb


def published_outputs(nb):
    """A copy of ``nb`` without progress widgets, stderr streams and widget state."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [
            out
            for out in cell.outputs
            if not (out.output_type == "stream" and out.name == "stderr") and _LIVE_ONLY_MIME not in out.get("data", {})
        ]
    return nb


def stable_ids(nb):
    """Give every cell an id derived from its content (otter gives the cells it adds random ids),
    so that the same master always builds the same notebooks."""
    seen: dict[str, int] = {}
    for cell in nb.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    return nb


def filled_in(student: Path, solution: Path):
    """The student notebook with each blank (code, and the written answer) as in the solution, as a
    student who got everything right would hand it in (without otter's solution markers)."""
    nb, sol = nbformat.read(student, 4), nbformat.read(solution, 4)
    tag = checkout_module("lab5_written").ANSWER_TAG
    for kind in ("code", "markdown"):
        blanks = [c for c in nb.cells if c.cell_type == kind and tag in c.metadata.get("tags", [])]
        answers = [c for c in sol.cells if c.cell_type == kind and SOLUTION_TAG in c.metadata.get("tags", [])]
        if not blanks or len(blanks) != len(answers):
            raise ValueError(f"{student} and {solution} no longer line up: rebuild (python3 -m tools build)")
        for blank, answer in zip(blanks, answers):
            blank.source = _SOLUTION_BLOCK_MARK.sub("", _SOLUTION_LINE_MARK.sub("", answer.source))
            if kind == "markdown":  # the written answer: the reference, not the TA's rubric beside it
                blank.source = without_rubric(blank.source)
    return nb


def code_cell_with(nb, text: str):
    """The one code cell of ``nb`` that contains ``text``."""
    cells = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    if len(cells) != 1:
        raise ValueError(f"{len(cells)} code cells contain {text!r}; expected exactly one")
    return cells[0]


def replace_in_code(nb, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the one code cell that contains it."""
    cell = code_cell_with(nb, old)
    cell.source = cell.source.replace(old, new)


def run_as_student(nb, student_dir: Path, folder: Path, seed: int | None = None):
    """Save ``nb`` as lab5.ipynb in a copy of ``student_dir`` at ``folder`` and run it top to bottom
    in a kernel there, as a student would (its last cell exports the submission zip). With ``seed``,
    as a student whose drawn training seed is ``seed``; else the setup cell draws one."""
    shutil.copytree(student_dir, folder)
    if seed is not None:
        (folder / project.SEED_FILE).write_text(f"{seed}\n")
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = folder / project.NOTEBOOK_FILE
    nbformat.write(nb, path)
    return execute(path, cwd=folder)
