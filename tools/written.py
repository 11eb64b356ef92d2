"""The lab's written question (graded by hand, q9), read from the master.

The question is read from the master (tools.project.MASTER), never written down here: its name and
points from its `# BEGIN QUESTION` raw cell (the one with `manual: true`), its prompt (the markdown
cell right after that raw cell), its reference answer and rubric (the markdown between the question's
`# BEGIN SOLUTION` and `# END SOLUTION` raw cells; the rubric is the part from the line that starts
with `_Rubric` on). An instructor who rewrites the question changes nothing here. The build puts it in
the autograder (lab5_written.QUESTION_FILE), whose entry point finds each student's answer by its text
(assignment/lab5_written.py); the TA's report takes both from there.
"""

from __future__ import annotations

import functools
from pathlib import Path

import nbformat
import yaml

from tools import project
from tools.autograder import checkout_module


def _raw_marker(cell) -> str:
    return cell.source.strip() if cell.cell_type == "raw" else ""


@functools.cache
def question(master: Path = project.MASTER):
    """The written question of ``master`` (a lab5_written.Question): the one question whose BEGIN QUESTION
    cell says `manual: true`."""
    written = checkout_module("lab5_written")
    cells = nbformat.read(master, as_version=4).cells
    manual = []
    for i, cell in enumerate(cells):
        marker = _raw_marker(cell)
        if marker.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(marker.removeprefix("# BEGIN QUESTION")) or {}
            if isinstance(config, dict) and config.get("manual"):
                manual.append((i, config))
    if len(manual) != 1:
        raise ValueError(
            f"{master.name} has {len(manual)} questions with `manual: true`; the TA command reads "
            "exactly one written question"
        )
    start, config = manual[0]
    name, points = config.get("name"), config.get("points")
    if not name or not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
        raise ValueError(f"{master.name}: the written question's BEGIN QUESTION cell needs its `name:` and `points: N`")
    if (
        start + 1 >= len(cells)
        or cells[start + 1].cell_type != "markdown"
        or not written.clean(cells[start + 1].source)
    ):
        raise ValueError(
            f"{master.name}: the written question {name} needs its prompt, a markdown cell, right after "
            "its BEGIN QUESTION cell"
        )
    solution, inside = [], False
    for cell in cells[start + 1 :]:
        marker = _raw_marker(cell)
        if marker == "# END QUESTION":
            break
        if marker in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside = marker == "# BEGIN SOLUTION"
        elif inside and cell.cell_type == "markdown":
            solution += [*cell.source.strip().splitlines(), ""]  # a blank line between cells
    at = _rubric_at(solution, written.RUBRIC_START)
    return written.Question(
        name=str(name),
        points=points,
        prompt=written.clean(cells[start + 1].source),
        reference="\n".join(solution[:at]).strip(),
        rubric="\n".join(solution[at:]).strip(),
    )


def _rubric_at(lines: list[str], start: str) -> int:
    """Where the rubric starts in a written question's solution lines (their length: it has none)."""
    return next((i for i, line in enumerate(lines) if line.lstrip().startswith(start)), len(lines))


def without_rubric(solution: str) -> str:
    """A written question's solution cell up to its rubric: the reference answer alone."""
    lines = solution.splitlines()
    return "\n".join(lines[: _rubric_at(lines, checkout_module("lab5_written").RUBRIC_START)]).strip()
