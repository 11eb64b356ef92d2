"""The lab's written question (graded by hand, q9) and a student's answer to it.

The question is read from the master (tools.project.MASTER), never written down here: its name and
points from its `# BEGIN QUESTION` raw cell (the one with `manual: true`), its prompt (the markdown
cell right after that raw cell), its reference answer and rubric (the markdown between the question's
`# BEGIN SOLUTION` and `# END SOLUTION` raw cells; the rubric is the part from the line that starts
with `_Rubric` on). An instructor who rewrites the question changes nothing here.

A student's answer is found by the question's text, not by otter's cell tag, which is lost when a
student copies cells or opens the notebook in another editor: the markdown cells after the cell that
starts with the prompt's label ("Question 9", whatever the student did to the rest of the prompt), up
to the next code or raw cell, heading, or question; and whatever the student wrote below the prompt in
that cell itself. Only where that finds nothing, the markdown cells that still carry the tag.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from tools import project
from tools.notebooks import ANSWER_TAG

# What otter assign puts in a written answer's cell (otter.assign.cell_factory.create_markdown_response_cell):
# no answer until the student replaces it.
PLACEHOLDER = "_Type your answer here, replacing this text._"
RUBRIC_START = "_Rubric"  # the line of the question's solution cell from which on it is the TA's rubric
_COMMENT = re.compile(r"<!--.*?-->", re.S)  # invisible in a rendered cell; otter marks questions with them
_QUESTION_MARK = re.compile(r"<!--\s*(BEGIN|END)\s+QUESTION\s*-->")  # otter's bounds of a question in a student's notebook
_HEADING = re.compile(r"#{1,6}(\s|$)")


@dataclass(frozen=True)
class Question:
    name: str  # its column in scores.csv ("q9_written")
    points: float
    prompt: str  # as students read it (markdown)
    reference: str  # the reference answer (markdown)
    rubric: str  # for TAs (markdown), "" where the master gives none

    @property
    def label(self) -> str:
        """What a student's copy of the prompt starts with, compared plain (_plain): its bold lead up to
        its number ("question 9"), else the whole lead, else its first line."""
        first = (_clean(self.prompt).splitlines() or [""])[0]
        bold = re.match(r"\s*(\*\*|__)(.+?)\1", first)
        lead = _plain(bold.group(2) if bold else first)
        numbered = re.match(r".*?\d+(?!\d)", lead)
        return numbered.group(0) if numbered else lead


def _clean(text: str) -> str:
    """What a reader sees of a markdown cell's text: without HTML comments, stripped."""
    return _COMMENT.sub("", text).strip()


def _plain(text: str) -> str:
    """``text`` to compare: without emphasis marks, one space for any run of whitespace, any case."""
    return " ".join(re.sub(r"[*_`]", "", text).split()).casefold()


def _raw_marker(cell) -> str:
    return cell.source.strip() if cell.cell_type == "raw" else ""


@functools.cache
def question(master: Path = project.MASTER) -> Question:
    """The written question of ``master``: the one question whose BEGIN QUESTION cell says `manual: true`."""
    cells = nbformat.read(master, as_version=4).cells
    manual = []
    for i, cell in enumerate(cells):
        marker = _raw_marker(cell)
        if marker.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(marker.removeprefix("# BEGIN QUESTION")) or {}
            if isinstance(config, dict) and config.get("manual"):
                manual.append((i, config))
    if len(manual) != 1:
        raise ValueError(f"{master.name} has {len(manual)} questions with `manual: true`; the TA command reads "
                         "exactly one written question")
    start, config = manual[0]
    name, points = config.get("name"), config.get("points")
    if not name or not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
        raise ValueError(f"{master.name}: the written question's BEGIN QUESTION cell needs its `name:` and `points: N`")
    if start + 1 >= len(cells) or cells[start + 1].cell_type != "markdown" or not _clean(cells[start + 1].source):
        raise ValueError(f"{master.name}: the written question {name} needs its prompt, a markdown cell, right after "
                         "its BEGIN QUESTION cell")
    solution, inside = [], False
    for cell in cells[start + 1:]:
        marker = _raw_marker(cell)
        if marker == "# END QUESTION":
            break
        if marker in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside = marker == "# BEGIN SOLUTION"
        elif inside and cell.cell_type == "markdown":
            solution += [*cell.source.strip().splitlines(), ""]  # a blank line between cells
    at = _rubric_at(solution)
    return Question(name=str(name), points=points, prompt=_clean(cells[start + 1].source),
                    reference="\n".join(solution[:at]).strip(), rubric="\n".join(solution[at:]).strip())


def _rubric_at(lines: list[str]) -> int:
    """Where the rubric starts in a written question's solution lines (their length: it has none)."""
    return next((i for i, line in enumerate(lines) if line.lstrip().startswith(RUBRIC_START)), len(lines))


def without_rubric(solution: str) -> str:
    """A written question's solution cell up to its rubric: the reference answer alone."""
    lines = solution.splitlines()
    return "\n".join(lines[:_rubric_at(lines)]).strip()


def _starts_question(text: str, label: str) -> bool:
    """Whether a cell's ``text`` starts with the question's ``label`` (not with a longer number)."""
    plain = _plain(_clean(text))
    return plain.startswith(label) and not plain[len(label):len(label) + 1].isdigit()


def _other_question(text: str, label: str) -> bool:
    """Whether a cell's ``text`` starts another question's prompt: the label with another number."""
    numbered = re.match(r"(.*?)\d+$", label)
    if not numbered or _starts_question(text, label):
        return False
    return re.match(re.escape(numbered.group(1)) + r"\d+(?!\d)", _plain(_clean(text))) is not None


def _below_prompt(text: str, prompt: str, edited: bool = True) -> str | None:
    """What a cell that starts with the prompt holds below it: after the prompt's lines where they are
    the master's (whitespace and emphasis aside); where the student edited them (``edited``), after as
    many paragraphs as the prompt has; else None."""
    lines, want = _clean(text).splitlines(), _plain(prompt)
    for k in range(1, len(lines) + 1):
        if _plain("\n".join(lines[:k])) == want:
            return "\n".join(lines[k:])
    if not edited:
        return None
    paragraphs = re.split(r"\n\s*\n", _clean(text))
    return "\n\n".join(paragraphs[len(re.split(r"\n\s*\n", prompt)):])


def _answer_text(text: str) -> str:
    """A cell's answer as the student wrote it: what a reader sees, without otter's placeholder."""
    return _clean(_clean(text).replace(PLACEHOLDER, ""))


def answer(nb, written: Question | None = None) -> str | None:
    """The student's answer to ``written`` (default: the master's written question) in the notebook
    ``nb`` (an nbformat node), cells joined by a blank line; None where the student wrote none."""
    written = written or question()
    label, cells = written.label, nb.cells
    start = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and _starts_question(c.source, label)), None)
    parts = []
    if start is not None:
        parts.append(_answer_text(_below_prompt(cells[start].source, written.prompt)))
        for cell in cells[start + 1:]:
            text = cell.source if cell.cell_type == "markdown" else ""
            if (cell.cell_type != "markdown" or _QUESTION_MARK.search(text) or _HEADING.match(_clean(text))
                    or _other_question(text, label)):
                break
            # a copy of the prompt (a duplicated cell): only what is below it; "Question 9: ..." is an answer
            below = _below_prompt(text, written.prompt, edited=False) if _starts_question(text, label) else None
            parts.append(_answer_text(text if below is None else below))
    if not any(parts):  # the prompt is gone (or nothing follows it): otter's tag, where it survived
        parts = [_answer_text(c.source) for c in cells
                 if c.cell_type == "markdown" and ANSWER_TAG in c.metadata.get("tags", [])]
    return "\n\n".join(p for p in parts if p) or None
