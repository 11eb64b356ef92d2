"""The written question (q9, graded by hand): read from the master (tools/written.py), a student's answer
found by the question's text however the notebook was edited (lab5_written.py, at grading), the README's
rubric, and the TA's column in scores.csv, kept when the batch is graded again. Nothing here grades or runs
a notebook."""

from __future__ import annotations

import copy
import functools
import re

import lab5_written
import nbformat
import pandas as pd
import pytest
from conftest import POINTS

from tools import project, report, written
from tools.autograder import Autograder
from tools.grade import Graded

QUESTION = written.question()
ANSWER = "Pretraining: the same network from random weights does no better than the majority class."


@functools.cache
def _handed_out():
    return nbformat.read(project.STUDENT / project.NOTEBOOK_FILE, as_version=4)


def handed_out():
    """The notebook students get, and the index of its written question's prompt and answer cell."""
    nb = copy.deepcopy(_handed_out())
    prompt = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "**Question 9" in c.source)
    assert nb.cells[prompt + 1].source == lab5_written.PLACEHOLDER
    return nb, prompt, prompt + 1


def untagged(nb):
    """``nb`` as another editor or a copy-and-paste leaves it: no cell metadata at all."""
    for cell in nb.cells:
        cell.metadata = {}
    return nb


# --------------------------------------------------------------------------------------------
# The question, from the master
# --------------------------------------------------------------------------------------------


def test_the_written_question_is_read_from_the_master():
    assert QUESTION.name == "q9_written" and QUESTION.points == 2
    assert QUESTION.prompt.startswith("**Question 9 (written, graded by your TA).**")
    assert "close the gap?" in QUESTION.prompt and "<!--" not in QUESTION.prompt
    assert QUESTION.rubric.startswith("_Rubric") and "1 point" in QUESTION.rubric
    assert QUESTION.reference.startswith("_Reference answer:_") and "_Rubric" not in QUESTION.reference
    assert QUESTION.label == "question 9"


def test_a_rewritten_question_is_followed(tmp_path):
    """Nothing of the question is written down in the code: another name, points, prompt and rubric."""
    master = nbformat.read(project.MASTER, as_version=4)
    for cell in master.cells:
        if cell.cell_type == "raw" and "manual: true" in cell.source:
            cell.source = cell.source.replace(f"name: {QUESTION.name}", "name: q10_essay").replace(
                f"points: {QUESTION.points}", "points: 3"
            )
        cell.source = cell.source.replace("**Question 9 (written, graded by your TA).**", "**Question 10.** Explain.")
        cell.source = cell.source.replace(
            "_Rubric (2 points, for TAs):_", "_Rubric (3 points):_ - **3 points:** all of it."
        )
    nbformat.write(master, tmp_path / "lab5.ipynb")
    rewritten = written.question(tmp_path / "lab5.ipynb")
    assert (rewritten.name, rewritten.points, rewritten.label) == ("q10_essay", 3, "question 10")
    assert rewritten.prompt.startswith("**Question 10.** Explain.") and rewritten.rubric.startswith(
        "_Rubric (3 points):_"
    )


def test_the_placeholder_is_otters():
    from otter.assign.cell_factory import CellFactory

    assert lab5_written.PLACEHOLDER == CellFactory.create_markdown_response_cell().source


def test_the_readme_holds_the_masters_rubric():
    readme = (project.ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"<!-- q9 rubric: copied from the master; tests/test_written.py checks they agree -->\n(.*?)"
        r"<!-- end q9 rubric -->",
        readme,
        re.S,
    )
    assert found, "README.md has no q9 rubric between its two comments"
    assert found.group(1).strip() == QUESTION.rubric, (
        "copy the master's rubric (its solution cell, from _Rubric on) to README.md"
    )


# --------------------------------------------------------------------------------------------
# A student's answer, by the question's text
# --------------------------------------------------------------------------------------------


def test_the_answer_is_found_with_the_tag_and_without_any_tags():
    nb, _, cell = handed_out()
    nb.cells[cell].source = ANSWER
    assert lab5_written.answer(nb, QUESTION) == ANSWER
    assert lab5_written.answer(untagged(nb), QUESTION) == ANSWER


def test_the_placeholder_alone_is_no_answer():
    nb, prompt, cell = handed_out()
    assert (
        lab5_written.answer(nb, QUESTION) is None and lab5_written.answer(untagged(copy.deepcopy(nb)), QUESTION) is None
    )
    nb.cells[cell].source = f"{lab5_written.PLACEHOLDER}\n\n{ANSWER}"  # written below it: only the answer
    assert lab5_written.answer(nb, QUESTION) == ANSWER


def test_an_answer_in_the_prompts_own_cell_is_found():
    nb, prompt, cell = handed_out()
    nb.cells[prompt].source += f"\n\n{ANSWER}"
    assert lab5_written.answer(nb, QUESTION) == ANSWER
    nb.cells[prompt].source = nb.cells[prompt].source.replace("\n\n" + ANSWER, "\n" + ANSWER)  # no blank line
    del nb.cells[cell]
    assert lab5_written.answer(untagged(nb), QUESTION) == ANSWER


def test_two_answer_cells_are_joined_and_what_follows_the_question_is_not():
    nb, prompt, cell = handed_out()
    nb.cells[cell].source = "First part."
    nb.cells.insert(cell + 1, nbformat.v4.new_markdown_cell("Second part."))
    nb.cells.insert(cell + 2, nbformat.v4.new_markdown_cell(" "))  # an empty cell ends nothing
    nb.cells.insert(cell + 3, nbformat.v4.new_markdown_cell("Third part."))
    assert lab5_written.answer(untagged(nb), QUESTION) == "First part.\n\nSecond part.\n\nThird part."
    # a code cell, a heading or another question ends the answer
    for boundary in (
        nbformat.v4.new_code_cell("print(1)"),
        nbformat.v4.new_markdown_cell("## Notes"),
        nbformat.v4.new_markdown_cell("**Question 10.** Another one."),
    ):
        ended = copy.deepcopy(nb)
        ended.cells.insert(cell + 1, boundary)
        assert lab5_written.answer(untagged(ended), QUESTION) == "First part.", boundary.source


def test_an_edited_prompt_still_finds_the_answer():
    nb, prompt, cell = handed_out()
    edited = re.sub(  # its second sentence
        r"all three models saw.*same network\.",
        "the three models learned from one set of tweets.",
        nb.cells[prompt].source,
        flags=re.S,
    )
    assert edited != nb.cells[prompt].source
    nb.cells[prompt].source = edited
    nb.cells[cell].source = ANSWER
    assert lab5_written.answer(untagged(copy.deepcopy(nb)), QUESTION) == ANSWER
    # and the answer written below the edited prompt, in its cell
    nb.cells[prompt].source = f"{edited}\n\n{ANSWER}"
    del nb.cells[cell]
    assert lab5_written.answer(untagged(nb), QUESTION) == ANSWER


def test_without_the_prompt_the_tag_finds_the_answer():
    nb, prompt, cell = handed_out()
    nb.cells[cell].source = ANSWER
    del nb.cells[prompt]
    assert lab5_written.answer(nb, QUESTION) == ANSWER
    assert lab5_written.answer(untagged(nb), QUESTION) is None, "neither the prompt nor the tag: no answer to show"


def test_the_autograder_carries_the_question_and_finds_the_answer_in_the_uploaded_bytes():
    """The build puts the master's question in the zip; the entry point reads the notebook it was handed
    (never running it) and hands the answer to the TA's report in extra_data."""
    assert Autograder(project.AUTOGRADER_ZIP).written_question() == QUESTION
    nb, _, cell = handed_out()
    nb.cells[cell].source = ANSWER
    data = nbformat.writes(untagged(nb)).encode()
    assert lab5_written.answer_in(data, QUESTION) == ANSWER
    assert lab5_written.answer_in(b"{not a notebook", QUESTION) is None and lab5_written.answer_in(data, None) is None
    nb.cells[cell].source = "x" * (lab5_written.ANSWER_LIMIT + 5)
    assert len(lab5_written.answer_in(nbformat.writes(nb).encode(), QUESTION)) == lab5_written.ANSWER_LIMIT


# --------------------------------------------------------------------------------------------
# scores.csv: the TA's column, and both totals
# --------------------------------------------------------------------------------------------


def graded_as(sid: str, lost: float = 0, answer: str | None = None) -> Graded:
    """A submission as the autograder's entry point reports it (no grading): every question's points
    but ``lost`` of q8's, and its ``answer`` to the written question."""
    tests = [{"name": q, "score": p - (lost if q.startswith("q8") else 0), "max_score": p} for q, p in POINTS.items()]
    cases = {
        f"{q} - 1": {"passed": not (lost and q.startswith("q8")), "score": p, "max_score": p, "message": ""}
        for q, p in POINTS.items()
    }
    return Graded(sid, "graded", "", {"tests": tests, "extra_data": {"cases": cases, "written": answer}})


@pytest.fixture
def batch(tmp_path):
    graded = {
        "alice": graded_as("alice", answer=ANSWER),
        "bob": graded_as("bob", lost=1),
        "carol": graded_as("carol"),
        "dan": graded_as("dan"),
    }
    return graded, tmp_path / "report"


def read_scores(out):
    return pd.read_csv(out / report.SCORES, dtype=str, keep_default_na=False).set_index("submission")


def test_scores_have_the_written_column_and_both_totals(batch):
    graded, out = batch
    report.write(graded, {}, project.AUTOGRADER_ZIP, out)
    table = pd.read_csv(out / report.SCORES, keep_default_na=False)
    autograded = sum(POINTS.values())
    assert list(table.columns[:9]) == [
        "submission",
        "student",
        "status",
        "message",
        "total",
        "possible",
        QUESTION.name,
        report.LAB_TOTAL,
        report.LAB_POSSIBLE,
    ]
    assert set(table["possible"]) == {autograded} and set(table[report.LAB_POSSIBLE]) == {autograded + QUESTION.points}
    assert set(table[QUESTION.name]) == {""} and set(table[report.LAB_TOTAL]) == {""}, "blank until a TA enters points"
    page = (out / "report.html").read_text()
    section = page.split("<h2>Written answers")[1].split("<h2>All scores")[0]
    assert section.count("The rubric:") == 1 and "Half a point for" in section
    assert section.count("Question 9 (written, graded by your TA)") == 1
    assert f"<code>{QUESTION.name}</code> column" in section and "Pretraining: the same network" in section


def test_a_rerun_keeps_the_points_a_ta_entered(batch, capsys):
    graded, out = batch
    report.write(graded, {}, project.AUTOGRADER_ZIP, out)
    scores = read_scores(out)
    scores[QUESTION.name] = pd.Series({"alice": "1.5", "bob": "2", "carol": "3", "dan": "good"})
    scores.loc["erin", QUESTION.name] = "1"  # a submission not in this batch
    scores.to_csv(out / report.SCORES)
    capsys.readouterr()
    report.write(graded, {}, project.AUTOGRADER_ZIP, out)
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and said[0].startswith(f"Kept the {QUESTION.name} points entered for 2 submissions"), said
    assert "left out 2 that do not read as a number from 0 to 2 (carol: '3', dan: 'good')" in said[0]
    assert "1 of submissions not in this batch (erin)" in said[0] and report.KEPT_BEFORE in said[0]
    assert (out / report.KEPT_BEFORE).is_file(), "what could not be kept is not lost"
    again = read_scores(out)
    assert dict(again[QUESTION.name]) == {"alice": "1.5", "bob": "2", "carol": "", "dan": ""}
    assert dict(again[report.LAB_TOTAL]) == {"alice": "26.5", "bob": "26", "carol": "", "dan": ""}
    assert "(1.5 of 2 entered)" in (out / "report.html").read_text()
    # graded again as it is: the same points, nothing left out
    report.write(graded, {}, project.AUTOGRADER_ZIP, out)
    said = capsys.readouterr().err.strip().splitlines()
    assert said == [f"Kept the {QUESTION.name} points entered for 2 submissions in {out / report.SCORES}."]
    assert read_scores(out).equals(again)


def test_points_saved_by_a_spreadsheet_with_semicolons_and_decimal_commas_are_kept(batch, capsys):
    graded, out = batch
    out.mkdir(parents=True)
    saved = pd.DataFrame({"submission": ["alice", "bob"], QUESTION.name: ["1,5", " 0 "]})
    saved.to_csv(out / report.SCORES, sep=";", index=False)
    assert report.entered_points(out / report.SCORES, graded, QUESTION)[0] == {"alice": 1.5, "bob": 0.0}
    (out / report.SCORES).write_text("not, a table\n\x00\x01")
    kept, said = report.entered_points(out / report.SCORES, graded, QUESTION)
    assert kept == {} and "could not be read as a table" in said and (out / report.KEPT_BEFORE).is_file()


def test_a_student_who_got_everything_right_answers_without_the_rubric():
    """The harness's filled-in notebook (tools.notebooks.filled_in) answers with the reference alone."""
    from tools import notebooks

    filled = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_FILE, project.SOLUTION_NOTEBOOK)
    found = lab5_written.answer(filled, QUESTION)
    assert found == written.question().reference
    assert lab5_written.RUBRIC_START not in found
