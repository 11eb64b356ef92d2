"""TA review: `python3 -m tools grade` on a small folder of real submissions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pandas as pd
import pytest

from conftest import POINTS
from submissions.corpus import last_eval
from tools import project


@pytest.fixture(scope="session")
def review(reference_run, build_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    inbox = folder / "submissions"
    inbox.mkdir()
    shutil.copy(reference_run.submission, inbox / "alice.zip")
    shutil.copy(project.STUDENT / project.NOTEBOOK_NAME, inbox / "bob.ipynb")  # handed in blank
    (inbox / "carol.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (inbox / "notes.txt").write_text("not a submission")
    # erin's comes as in a Gradescope export: a folder per submission, names in submission_metadata.yml
    (inbox / "submission_4711").mkdir()
    shutil.copy(project.STUDENT / project.NOTEBOOK_NAME, inbox / "submission_4711" / project.NOTEBOOK_NAME)
    (inbox / "submission_metadata.yml").write_text(
        "submission_4711:\n  :submitters:\n  - :name: Erin Example\n    :email: erin@example.edu\n"
    )
    # dave's notebook has a cell that never finishes: it is stopped, the rest is graded
    nb = nbformat.read(project.STUDENT / project.NOTEBOOK_NAME, 4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("while True:\n    pass"))
    with zipfile.ZipFile(inbox / "dave.zip", "w") as zf:
        zf.writestr(project.NOTEBOOK_NAME, nbformat.writes(nb))
    # eve's endless cell swallows the stop: the command's timeout ends it
    nb.cells[3] = nbformat.v4.new_code_cell("import time\nwhile True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass")
    with zipfile.ZipFile(inbox / "eve.zip", "w") as zf:
        zf.writestr(project.NOTEBOOK_NAME, nbformat.writes(nb))
    # frank edited the accuracy in his training log
    with zipfile.ZipFile(reference_run.submission) as zin, zipfile.ZipFile(inbox / "frank.zip", "w") as zout:
        record = json.loads(zin.read(project.RESULTS_NAME))
        last_eval(record)["eval_accuracy"] += 0.05
        zout.writestr(project.RESULTS_NAME, json.dumps(record))
        zout.writestr(project.NOTEBOOK_NAME, zin.read(project.NOTEBOOK_NAME))
    # grace's zip also holds a lab5_utils/ package: removed before grading, flagged
    # heidi's notebook writes another results file while it is graded: the report shows the uploaded one's
    # ivan's results file is not JSON
    with zipfile.ZipFile(reference_run.submission) as zin:
        notebook, record = zin.read(project.NOTEBOOK_NAME), zin.read(project.RESULTS_NAME)
    with zipfile.ZipFile(inbox / "grace.zip", "w") as zout:
        zout.writestr(project.NOTEBOOK_NAME, notebook)
        zout.writestr(project.RESULTS_NAME, record)
        zout.writestr("lab5_utils/__init__.py", "run_problems = lambda *args, **kwargs: []\n")
    nb = nbformat.reads(notebook.decode(), 4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\njson.dump({'lab': 'lab5', 'format': 2, 'acc_ft': 0.99, 'acc_scratch': 0.98}, open('lab5_results.json', 'w'))"))
    with zipfile.ZipFile(inbox / "heidi.zip", "w") as zout:
        zout.writestr(project.NOTEBOOK_NAME, nbformat.writes(nb))
        zout.writestr(project.RESULTS_NAME, record)
    with zipfile.ZipFile(inbox / "ivan.zip", "w") as zout:
        zout.writestr(project.NOTEBOOK_NAME, notebook)
        zout.writestr(project.RESULTS_NAME, "not json")
    # judy's is another honest run (another training seed); kim handed in alice's file with its seeds edited
    with zipfile.ZipFile(inbox / "judy.zip", "w") as zout:
        zout.writestr(project.NOTEBOOK_NAME, notebook)
        zout.writestr(project.RESULTS_NAME, json.dumps(build_run))
    kims = json.loads(record)
    for run in ("ft", "scratch"):
        kims[f"{run}_settings"]["seed"] = 777
    with zipfile.ZipFile(inbox / "kim.zip", "w") as zout:
        zout.writestr(project.NOTEBOOK_NAME, notebook)
        zout.writestr(project.RESULTS_NAME, json.dumps(kims))
    out = folder / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.grade", str(inbox), "--out", str(out), "--timeout", "60", "--jobs", "2",
         "--profile", "offline"],
        capture_output=True, text=True, timeout=1200, cwd=project.ROOT,
        env={**os.environ, "LAB5_CELL_LIMIT_S": "15"},  # the autograder's per-cell limit, shortened for the test
    )
    return proc, out


def test_command_grades_the_folder_and_says_what_it_skipped(review):
    proc, out = review
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skipped notes.txt: not a submission" in proc.stderr
    assert (out / "scores.csv").is_file() and (out / "report.html").is_file()


def test_scores_table_has_a_row_per_submission_with_scores_per_question(review):
    _, out = review
    table = pd.read_csv(out / "scores.csv", keep_default_na=False)
    assert list(table["submission"]) == ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan",
                                         "judy", "kim", "submission_4711"]
    rows = table.set_index("submission")
    for q, points in POINTS.items():
        assert rows.loc["alice", q] == points, q
        assert rows.loc["bob", q] == 0, q
    assert rows.loc["alice", "total"] == sum(POINTS.values())
    # frank edited a copy of alice's results; grace, heidi and kim handed in copies of it; judy's is her own
    assert rows.loc["alice", "flags"].startswith("the same training run as frank, grace, heidi, kim (identical "
                                                 "fine-tuned predictions, fine-tuned scores, random-init scores)")
    assert "the same training run as alice, frank, grace, heidi" in rows.loc["kim", "flags"]
    assert rows.loc["judy", "flags"] == "" and rows.loc["judy", "total"] == sum(POINTS.values())
    assert [rows.loc[who, "seed"] for who in ("alice", "judy", "kim", "carol")] == ["42", str(project.BUILD_SEED), "777", ""]
    assert rows.loc["alice", "status"] == "graded" and rows.loc["bob", "status"] == "graded"
    assert "no lab5_results.json" in rows.loc["bob", "flags"]
    assert rows.loc["carol", "status"] == "not gradable" and "damaged" in rows.loc["carol", "flags"]
    assert rows.loc["dave", "status"] == "graded" and rows.loc["dave", "total"] == 0
    assert "a cell was stopped at grading" in rows.loc["dave", "flags"] and "while True" in rows.loc["dave", "flags"]
    assert rows.loc["eve", "status"] == "timed out" and rows.loc["eve", "total"] == 0
    assert "A cell never finished: grading stopped after 60 s" in rows.loc["eve", "flags"]
    assert rows.loc["frank", "q5_results"] == 0 and rows.loc["frank", "total"] == sum(POINTS.values()) - POINTS["q5_results"]
    assert "rejected: does not add up" in rows.loc["frank", "flags"]
    assert rows.loc["grace", "total"] == sum(POINTS.values())
    assert "code in the upload removed before grading: lab5_utils/" in rows.loc["grace", "flags"]
    # what was graded, not what heidi's notebook wrote at grading
    assert rows.loc["heidi", "total"] == sum(POINTS.values()) and "rewritten at grading" in rows.loc["heidi", "flags"]
    for key in ("acc_bow", "acc_ft", "acc_scratch"):
        assert rows.loc["heidi", key] == rows.loc["alice", key] != "", key
    assert rows.loc["ivan", "q5_results"] == 0 and rows.loc["ivan", "q7_scratch_results"] == 0
    assert "lab5_results.json rejected: not JSON" in rows.loc["ivan", "flags"]
    assert rows.loc["ivan", "acc_ft"] == "" and rows.loc["ivan", "acc_bow"] == rows.loc["alice", "acc_bow"]
    assert {"q1_data - 1", "q8_quiz - 4"} <= set(table.columns)
    assert rows.loc["submission_4711", "student"] == "Erin Example <erin@example.edu>"
    assert rows.loc["submission_4711", "status"] == "graded" and rows.loc["submission_4711", "total"] == 0


def test_report_has_every_section(review):
    _, out = review
    page = (out / "report.html").read_text()
    for section in ("Needs a human look", "Scores by question", "Test cases failed most often",
                    "Accuracies against the expected ranges", "Written answers", "All scores"):
        assert f"<h2>{section}" in page, section
    assert page.count("data:image/png;base64,") == 3, "the report embeds its plots"
    assert "<h2>The class as a seed study" in page
    study = pd.read_csv(out / "seed-study.csv", keep_default_na=False).set_index("submission")
    assert list(study.columns) == ["student", "seed", "acc_bow", "acc_ft", "acc_scratch", "gap"]
    # one row per training run: alice's (not again for its copies and edited copies), judy's
    assert list(study.index) == ["alice", "judy"] and list(study["seed"]) == [42, project.BUILD_SEED]
    assert study.loc["alice", "gap"] == pytest.approx(study.loc["alice", "acc_ft"] - study.loc["alice", "acc_scratch"], abs=1e-4)
    needs_a_look = page.split("<h2>Scores by question")[0]
    assert "carol" in needs_a_look, "the broken zip is flagged first"
    for who in ("dave", "eve", "frank", "grace", "heidi", "ivan"):
        assert who in needs_a_look, f"{who}'s submission needs a human look"


def test_rerun_gives_the_same_table(review, tmp_path):
    proc, out = review
    first = (out / "scores.csv").read_text()
    inbox = out.parent / "submissions"
    subset = tmp_path / "again"
    subset.mkdir()
    for name in ("bob.ipynb", "carol.zip"):
        shutil.copy(inbox / name, subset / name)
    again = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "tools.grade", str(subset), "--out", str(again), "--profile", "offline"],
                   check=True, capture_output=True, cwd=project.ROOT, timeout=600)
    rows = {line.split(",")[0]: line for line in first.splitlines()[1:]}
    for line in (again / "scores.csv").read_text().splitlines()[1:]:
        assert line == rows[line.split(",")[0]]


@pytest.mark.parametrize("args, says", [
    (["/no/such/folder"], "does not exist"),
    (["{empty}"], "no submissions in"),
    (["{empty}", "--autograder", "/no/such.zip"], "no autograder zip"),
    (["{empty}", "--jobs", "0"], "must be positive"),
])
def test_bad_arguments_get_one_line(args, says, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-m", "tools.grade", *[a.format(empty=empty) for a in args]],
                          capture_output=True, text=True, cwd=project.ROOT, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], proc.stderr
