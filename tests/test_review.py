"""TA review: `python3 -m tools grade` on a folder (its arguments, what it skips, its files, a TA
without root), and its report of a whole class: the graded corpus (test_corpus.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import POINTS, need
from submissions.corpus import FAULT_CLASSES

from tools import agreement, calibration, project, report

TA = "lab5-ta"  # an unprivileged account, as most TAs grade with


def run_command(inbox: Path, out: Path, *extra: str, user: str | None = None, env: dict | None = None):
    command = [sys.executable, "-m", "tools.grade", str(inbox), "--out", str(out), "--profile", "offline", *extra]
    if user:
        command = [
            "runuser",
            "-u",
            user,
            "--",
            "env",
            f"HOME={out.parent / 'home'}",
            f"PYTHONPATH={project.ROOT}",
            *command,
        ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=1200, cwd=project.ROOT, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="session")
def command_batch(tmp_path_factory):
    """The command on a folder of what is graded without a kernel: a damaged zip, a zip without a
    notebook, a Gradescope export's submission folder (names in submission_metadata.yml) whose notebook
    is not JSON, and a file that is not a submission."""
    folder = tmp_path_factory.mktemp("review")
    inbox = folder / "submissions"
    inbox.mkdir()
    (inbox / "carol.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with zipfile.ZipFile(inbox / "dan.zip", "w") as zf:
        zf.writestr(project.RESULTS_FILE, "{}")
    (inbox / "notes.txt").write_text("not a submission")
    (inbox / "submission_4711").mkdir()
    (inbox / "submission_4711" / project.NOTEBOOK_FILE).write_text('{"cells": [ not json')
    (inbox / "submission_metadata.yml").write_text(
        "submission_4711:\n  :submitters:\n  - :name: Erin Example\n    :email: erin@example.edu\n"
    )
    out = folder / "report"
    return run_command(inbox, out, "--jobs", "2"), out


def test_command_grades_the_folder_and_says_what_it_skipped(command_batch):
    proc, out = command_batch
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skipped notes.txt: not a submission" in proc.stderr
    assert (out / "scores.csv").is_file() and (out / "report.html").is_file()
    rows = pd.read_csv(out / "scores.csv", keep_default_na=False).set_index("submission")
    assert list(rows.index) == ["carol", "dan", "submission_4711"]
    assert set(rows["status"]) == {"not gradable"} and set(rows["total"]) == {0}
    assert "damaged" in rows.loc["carol", "flags"] and "no notebook" in rows.loc["dan", "flags"]
    assert rows.loc["submission_4711", "student"] == "Erin Example <erin@example.edu>"
    assert "not a readable Jupyter notebook" in rows.loc["submission_4711", "flags"]
    assert {"q1_data - 1", "q8_quiz - 4"} <= set(rows.columns)


def test_rerun_gives_the_same_table(command_batch, tmp_path):
    proc, out = command_batch
    again = tmp_path / "report"
    assert run_command(out.parent / "submissions", again).returncode == 0
    assert (again / "scores.csv").read_text() == (out / "scores.csv").read_text()


@pytest.mark.parametrize(
    "args, says",
    [
        (["/no/such/folder"], "does not exist"),
        (["{empty}"], "no submissions in"),
        (["{empty}", "--autograder", "/no/such.zip"], "no autograder zip"),
        (["{empty}", "--jobs", "0"], "must be positive"),
    ],
)
def test_bad_arguments_get_one_line(args, says, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "tools.grade", *[a.format(empty=empty) for a in args]],
        capture_output=True,
        text=True,
        cwd=project.ROOT,
        timeout=120,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], proc.stderr


def test_without_bubblewrap_the_command_says_what_to_install(tmp_path):
    """No sandbox, no grading: one line with what to install, or --no-sandbox to grade anyway."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "carol.zip").write_bytes(b"PK\x03\x04 not really a zip")
    blind = {"PATH": str(Path(sys.executable).parent)}  # no bwrap on the PATH
    proc = run_command(tmp_path / "in", tmp_path / "out", env=blind)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "bubblewrap is not installed" in lines[0] and "--no-sandbox" in lines[0]
    proc = run_command(tmp_path / "in", tmp_path / "out", "--no-sandbox", env=blind)
    assert proc.returncode == 0 and "--no-sandbox: the notebooks run with your own rights" in proc.stderr
    assert "no sandbox: the notebook ran with the grader" in (tmp_path / "out" / "report.html").read_text()


def test_a_ta_without_root_grades_in_a_sandbox_of_their_own_account(reference_run, request):
    """Most TAs are no root: the sandbox is then a user namespace of their own account."""
    import pwd

    import lab5_sandbox

    need(lab5_sandbox.is_root(), "root, to make an unprivileged TA account")
    need(lab5_sandbox.bubblewrap_problem() is None, "bubblewrap")
    try:
        ta = pwd.getpwnam(TA)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", TA], check=True)
        ta = pwd.getpwnam(TA)
    lab5_sandbox.open_to(ta)  # the TA's Python and data, as on their own machine
    work = Path(tempfile.mkdtemp(prefix="lab5-ta-"))  # a folder of the TA's (pytest's own are root's alone)
    request.addfinalizer(lambda: shutil.rmtree(work, ignore_errors=True))
    (work / "in").mkdir(parents=True)
    (work / "home").mkdir()
    shutil.copy(reference_run.submission, work / "in" / "alice.zip")
    for path in [work, *work.rglob("*")]:
        os.chown(path, ta.pw_uid, ta.pw_gid)
    proc = run_command(work / "in", work / "out", user=TA)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = pd.read_csv(work / "out" / "scores.csv", keep_default_na=False).set_index("submission")
    assert rows.loc["alice", "total"] == sum(POINTS.values()), rows.loc["alice", "flags"]
    assert rows.loc["alice", "sandbox"].startswith("bubblewrap sandbox (as the grader's account in a user namespace")


# --------------------------------------------------------------------------------------------
# The report of a class: the corpus, graded
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def class_report(corpus_grades, reference_graded, tmp_path_factory):
    """The report of the graded corpus (built on the build's run, seed 43), with the reference student's
    own export (seed 42) as alice's."""
    out = tmp_path_factory.mktemp("class-report")
    graded = {**corpus_grades[0], "alice": reference_graded}
    names = {"alice": "Alice Example <alice@example.edu>"}
    table = report.write(graded, names, project.AUTOGRADER_ZIP, out)
    return table.set_index("submission"), out


def test_scores_table_has_a_row_per_submission_with_scores_per_question(class_report, corpus_grades):
    rows, out = class_report
    assert list(rows.index) == sorted([*corpus_grades[0], "alice"])
    assert rows.loc["alice", "student"] == "Alice Example <alice@example.edu>"
    for q, points in POINTS.items():
        assert rows.loc["alice", q] == points, q
        assert rows.loc["right_reference", q] == points, q
    assert (pd.read_csv(out / "scores.csv", keep_default_na=False)["submission"] == list(rows.index)).all()


def test_the_report_flags_what_needs_a_look(class_report):
    rows, _ = class_report
    # the corpus's submissions are built on one real run (the build's, seed 43): copies of each other, and
    # flagged so; alice's own run (seed 42) is nobody's copy
    assert "the same training run as" in rows.loc["right_reference", "flags"]
    assert rows.loc["alice", "flags"] == "" and rows.loc["alice", "total"] == sum(POINTS.values())
    assert rows.loc["alice", "seed"] == 42 and rows.loc["right_reference", "seed"] == project.BUILD_SEED
    assert rows.loc["bad_damaged_zip", "status"] == "not gradable" and "damaged" in rows.loc["bad_damaged_zip", "flags"]
    assert "a cell was stopped at grading" in rows.loc["bad_endless_cells", "flags"]
    # a cell that swallows the stop is ended from outside, and the notebook graded again without it
    swallows = rows.loc["bad_endless_cell_swallows_the_stop"]
    assert swallows["status"] == "graded" and "a cell was stopped at grading" in swallows["flags"]
    assert rows.loc["wrong_cell_kills_the_grader", "status"] == "stopped"
    several = rows.loc["wrong_in_several_places_2"]
    assert several["q5_results"] == 0 and "rejected: does not add up" in several["flags"]
    assert "code in the upload removed before grading: lab5_checks/" in rows.loc["wrong_in_several_places_3", "flags"]
    assert "rewritten at grading" in rows.loc["wrong_in_several_places_1", "flags"]
    assert "no lab5_results.json" in rows.loc["bad_empty_notebook", "flags"]
    assert "a cell left processes running at grading" in rows.loc["sandboxed_cells", "flags"]


def test_report_has_every_section(class_report):
    rows, out = class_report
    page = (out / "report.html").read_text()
    for section in (
        "Needs a human look",
        "How much the students' runs agree",
        "Scores by question",
        "Test cases failed most often",
        "Accuracies against the expected ranges",
        "Written answers",
        "All scores",
    ):
        assert f"<h2>{section}" in page, section
    assert page.count("data:image/png;base64,") == 4, "the report embeds its plots"
    assert "<h2>The class as a seed study" in page
    assert "How the notebooks ran at grading" in page and "bubblewrap sandbox" in page
    study = pd.read_csv(out / "seed-study.csv", keep_default_na=False).set_index("submission")
    assert list(study.columns) == ["student", "seed", *project.ACCURACIES, "gap"]
    # one row per training run: alice's, and the build's run however many submissions carry it (a copy
    # whose predictions were edited counts as a run of its own: near copies are flagged, not merged)
    assert study.loc["alice", "seed"] == 42 and set(study["seed"]) == {42, project.BUILD_SEED}
    assert (study["seed"] == project.BUILD_SEED).sum() < (rows["seed"] == project.BUILD_SEED).sum()
    needs_a_look = page.split("<h2>Scores by question")[0]
    for who in ("bad_damaged_zip", "bad_endless_cells", "wrong_in_several_places_2", "wrong_cell_kills_the_grader"):
        assert who in needs_a_look, f"{who} needs a human look"


# --------------------------------------------------------------------------------------------
# Copies among the submissions: the report's flags, from what the autograder graded
# --------------------------------------------------------------------------------------------

# the corpus's copies of the reference student's results file, each graded by the results grader
COPIES = [case.name for case in FAULT_CLASSES["another student's results file"] if case.name.startswith("copy_")]


@pytest.fixture(scope="session")
def copies_report(results_grades, reference_graded, corpus_grades, tmp_path_factory):
    """A batch of two honest runs with their own training seeds (alice: the reference student's, 42;
    bob: the build's, 43) and the corpus's copies of alice's results file (corpus.py, "copy_")."""
    out = tmp_path_factory.mktemp("copies-report")
    graded = {
        "alice": reference_graded,
        "bob": corpus_grades[0]["right_reference"],
        **{name: results_grades[name] for name in COPIES},
    }
    return report.write(graded, {}, project.AUTOGRADER_ZIP, out).set_index("submission"), out


def test_the_report_flags_each_copy_naming_its_original_and_no_honest_pair(copies_report):
    rows, out = copies_report
    assert rows.loc["bob", "flags"] == "", "two runs with their own training seeds are nobody's copies"
    assert "alice" in rows.loc["copy_as_it_is", "flags"] and agreement.COPY_FLAG in rows.loc["copy_as_it_is", "flags"]
    # the same seed recorded: a seed file handed around gives the same run, and the flag says so
    assert "the same training seed (42)" in rows.loc["copy_as_it_is", "flags"]
    for name in COPIES[1:]:
        assert name in rows.loc["alice", "flags"], "the original is flagged too, naming its copy"
    # predictions changed: no run shared byte for byte, but as close to the original as no honest pair is
    for name in ("copy_flipped_1pct", "copy_flipped_3pct", "copy_flipped_10pct"):
        flags = rows.loc[name, "flags"]
        # named among its near copies (the closest first: a copy may be closer to another copy than to alice)
        assert (
            flags.startswith(agreement.NEAR_COPY_FLAG)
            and "alice" in flags.split(":")[0]
            and "calibration's honest pairs" in flags
        ), flags
        assert agreement.COPY_FLAG not in flags, f"{name} shares no run byte for byte: {flags}"
    # a tenth of the predictions changed: within what honest pairs agree on, but the rest as close as the original
    assert "the fine-tuned scores' median gap is" in rows.loc["copy_flipped_10pct", "flags"]
    # every score moved, no prediction changed: the predictions are the original's to the last one
    assert f"{agreement.COPY_FLAG} alice" in rows.loc["copy_rescored", "flags"]
    assert "identical fine-tuned predictions" in rows.loc["copy_rescored", "flags"]
    assert not any("bob" in rows.loc[name, "flags"] for name in rows.index), "bob is nobody's copy"
    page = (out / "report.html").read_text()
    assert "<h2>How much the students' runs agree" in page and "No two submissions hold runs" not in page
    # where the flag's honest pairs and the ranges come from: the offline profile's calibration
    assert "<h2>Calibration</h2>" in page and "Ranges and honest pairs: 8 honest runs of the offline profile" in page


def test_what_is_not_a_run_is_left_out_of_the_comparison():
    """The report decodes what the entry point handed over; anything else compares with nothing."""
    import base64

    import lab5_boundary as boundary
    import numpy as np

    scores = base64.b64encode(np.zeros((2, 3), dtype="<f4").tobytes()).decode()
    assert boundary.decode_run({"predictions": "01", "scores": scores}) is not None
    for broken in (
        None,
        {},
        {"predictions": "03", "scores": scores},
        {"predictions": "012", "scores": scores},
        {"predictions": "01", "scores": "not base64"},
        {"predictions": 1, "scores": scores},
    ):
        assert boundary.decode_run(broken) is None, broken
    one = agreement.Run(*boundary.decode_run({"predictions": "01", "scores": scores}))
    pairs = agreement.pairs({"a": {"ft": one}, "b": {}, "c": {"ft": one}})
    with_b = (pairs["a"] == "b") | (pairs["b"] == "b")
    assert len(pairs) == 3 and pairs.loc[with_b, "ft_agree"].isna().all() and pairs.loc[~with_b, "ft_agree"].eq(2).all()
    found = agreement.bounds(pairs, json.loads(calibration.path("offline").read_text()))
    assert {one: sorted(others) for one, others in agreement.near_copies(pairs, found).items()} == {
        "a": ["c"],
        "c": ["a"],
    }
