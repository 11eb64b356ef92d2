"""The lab's written question (graded by hand) and a student's answer to it, found in the notebook.

Shipped in the autograder zip only: the grader's side. The build reads the question from the master
(tools/written.py) and puts it beside this module (QUESTION_FILE): its name and points, its prompt, the
reference answer and the rubric. The entry point finds each upload's answer in the notebook's cells
(never running them) and hands it to the TA's report in extra_data (lab5_boundary.Extra.written).

A student's answer is found by the question's text, not by otter's cell tag, which is lost when a
student copies cells or opens the notebook in another editor: the markdown cells after the cell that
starts with the prompt's label ("Question 9", whatever the student did to the rest of the prompt), up
to the next code or raw cell, heading, or question; and whatever the student wrote below the prompt in
that cell itself. Only where that finds nothing, the markdown cells that still carry the tag.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

QUESTION_FILE = "lab5_written.json"
ANSWER_TAG = "otter_answer_cell"  # otter assign's tag of the cells students fill in
# What otter assign puts in a written answer's cell (otter.assign.cell_factory.create_markdown_response_cell):
# no answer until the student replaces it.
PLACEHOLDER = "_Type your answer here, replacing this text._"
RUBRIC_START = "_Rubric"  # the line of the question's solution cell from which on it is the TA's rubric
ANSWER_LIMIT = 20_000  # characters of an answer handed to the TA (a page is 3,000)
_COMMENT = re.compile(r"<!--.*?-->", re.S)  # invisible in a rendered cell; otter marks questions with them
# otter's bounds of a question in a student's notebook
_QUESTION_MARK = re.compile(r"<!--\s*(BEGIN|END)\s+QUESTION\s*-->")
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
        first = (clean(self.prompt).splitlines() or [""])[0]
        bold = re.match(r"\s*(\*\*|__)(.+?)\1", first)
        lead = _plain(bold.group(2) if bold else first)
        numbered = re.match(r".*?\d+(?!\d)", lead)
        return numbered.group(0) if numbered else lead

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n"


def load(folder: Path | None = None) -> Question | None:
    """The question the build put in ``folder`` (default: beside this module, in the autograder's files),
    None where it put none."""
    folder = Path(__file__).resolve().parent if folder is None else folder
    path = folder / QUESTION_FILE
    return Question(**json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None


def clean(text: str) -> str:
    """What a reader sees of a markdown cell's text: without HTML comments, stripped."""
    return _COMMENT.sub("", text).strip()


def _plain(text: str) -> str:
    """``text`` to compare: without emphasis marks, one space for any run of whitespace, any case."""
    return " ".join(re.sub(r"[*_`]", "", text).split()).casefold()


def _starts_question(text: str, label: str) -> bool:
    """Whether a cell's ``text`` starts with the question's ``label`` (not with a longer number)."""
    plain = _plain(clean(text))
    return plain.startswith(label) and not plain[len(label) : len(label) + 1].isdigit()


def _other_question(text: str, label: str) -> bool:
    """Whether a cell's ``text`` starts another question's prompt: the label with another number."""
    numbered = re.match(r"(.*?)\d+$", label)
    if not numbered or _starts_question(text, label):
        return False
    return re.match(re.escape(numbered.group(1)) + r"\d+(?!\d)", _plain(clean(text))) is not None


def _below_prompt(text: str, prompt: str, edited: bool = True) -> str | None:
    """What a cell that starts with the prompt holds below it: after the prompt's lines where they are
    the master's (whitespace and emphasis aside); where the student edited them (``edited``), after as
    many paragraphs as the prompt has; else None."""
    lines, want = clean(text).splitlines(), _plain(prompt)
    for k in range(1, len(lines) + 1):
        if _plain("\n".join(lines[:k])) == want:
            return "\n".join(lines[k:])
    if not edited:
        return None
    paragraphs = re.split(r"\n\s*\n", clean(text))
    return "\n\n".join(paragraphs[len(re.split(r"\n\s*\n", prompt)) :])


def _answer_text(text: str) -> str:
    """A cell's answer as the student wrote it: what a reader sees, without otter's placeholder."""
    return clean(clean(text).replace(PLACEHOLDER, ""))


def answer(nb, question: Question) -> str | None:
    """The student's answer to ``question`` in the notebook ``nb`` (an nbformat node), cells joined by a
    blank line; None where the student wrote none."""
    label, cells = question.label, nb.cells
    start = next(
        (i for i, c in enumerate(cells) if c.cell_type == "markdown" and _starts_question(c.source, label)), None
    )
    parts = []
    if start is not None:
        parts.append(_answer_text(_below_prompt(cells[start].source, question.prompt)))
        for cell in cells[start + 1 :]:
            text = cell.source if cell.cell_type == "markdown" else ""
            if (
                cell.cell_type != "markdown"
                or _QUESTION_MARK.search(text)
                or _HEADING.match(clean(text))
                or _other_question(text, label)
            ):
                break
            # a copy of the prompt (a duplicated cell): only what is below it; "Question 9: ..." is an answer
            below = _below_prompt(text, question.prompt, edited=False) if _starts_question(text, label) else None
            parts.append(_answer_text(text if below is None else below))
    if not any(parts):  # the prompt is gone (or nothing follows it): otter's tag, where it survived
        parts = [
            _answer_text(c.source)
            for c in cells
            if c.cell_type == "markdown" and ANSWER_TAG in c.metadata.get("tags", [])
        ]
    return "\n\n".join(p for p in parts if p) or None


def answer_in(notebook: bytes, question: Question | None) -> str | None:
    """The answer in an uploaded notebook's bytes (read as data, never run), at most ANSWER_LIMIT
    characters; None where there is no question or no answer, or the notebook does not read."""
    import nbformat

    if question is None:
        return None
    try:
        found = answer(nbformat.reads(notebook.decode("utf-8"), as_version=4), question)
    except Exception:  # noqa: BLE001 (an unreadable notebook has no answer to show; its result says why)
        return None
    return found[:ANSWER_LIMIT] if found else None
