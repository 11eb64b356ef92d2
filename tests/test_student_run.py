"""The student's side as the grader drives it (lab5_student_run.py): what its workspace holds, which of
the files it was given it changed, and what it hands back, read as data."""

from __future__ import annotations

import json

import lab5_boundary as boundary
import lab5_student_run as student_run
import pytest

from tools import project
from tools.autograder import Autograder


@pytest.fixture
def autograder_dir(tmp_path):
    return Autograder(project.AUTOGRADER_ZIP).lay_out(tmp_path)


def test_changed_and_added_given_files_are_found(autograder_dir, tmp_path):
    before = student_run.given_files(autograder_dir)
    public = autograder_dir / "source" / student_run.PUBLIC_TESTS
    assert set(before) == {*student_run.STUDENT_SIDE, *(f"tests/{p.name}" for p in public.glob("*.py"))}
    box = tmp_path / "box"
    submission = box / "autograder" / "submission"
    (submission / "tests").mkdir(parents=True)
    for name in student_run.STUDENT_SIDE:  # what otter copies beside the notebook
        (submission / name).write_bytes((autograder_dir / "source" / "files" / name).read_bytes())
    (submission / "__init__.py").write_text("")  # otter's own
    (submission / "__pycache__").mkdir()
    (submission / "__pycache__" / "lab5_utils.cpython-311.pyc").write_bytes(b"")
    assert student_run.changed_given_files(box, before) == []
    (submission / "lab5_checks.py").write_text("def checked_run(record, *args): return record\n")
    (submission / "numpy").mkdir()
    (submission / "numpy" / "__init__.py").write_text("")
    (submission / "tests" / "q5_results.py").write_text("")
    assert student_run.changed_given_files(box, before) == [
        "lab5_checks.py",
        "numpy/__init__.py",
        "tests/q5_results.py",
    ]


def test_the_student_side_holds_no_hidden_test_and_no_answer_key(autograder_dir, sandbox_mode):
    """Its workspace holds the student's own helpers, the public tests and what runs the notebook: no line
    of a hidden test or of the answer key is in any of its files (in the mode the corpus grades in)."""
    import lab5_sandbox
    import lab5_verdict

    box = lab5_sandbox.choose(sandbox_mode)
    side = student_run.StudentSide(autograder_dir, box)
    try:
        files = sorted(p.relative_to(side.ws.box).as_posix() for p in side.ws.box.rglob("*") if p.is_file())
        source = "autograder/source/"
        public = autograder_dir / "source" / student_run.PUBLIC_TESTS
        assert [f for f in files if f.startswith(source)] == sorted(
            [
                f"{source}otter_config.json",
                *(f"{source}files/{n}" for n in student_run.STUDENT_SIDE),
                *(f"{source}tests/{p.name}" for p in public.glob("*.py")),
            ]
        )
        secrets = lab5_verdict.Suite.load(autograder_dir / "source").secret_lines()
        assert any("ref." in line for line in secrets) and any("ONE_CLASS_SHARE" in line for line in secrets)
        for f in files:
            text = (side.ws.box / f).read_text(errors="replace")
            assert not [line for line in secrets if line in text], f"{f} holds hidden code"
    finally:
        side.end()
        box.clean_up()


def test_the_kernels_notes_are_read_as_data():
    lines = [
        json.dumps({"kind": "memory", "message": "ran out"}),
        "not json",
        json.dumps({"kind": "made up", "message": 3}),
        json.dumps({"kind": "train"}),
        json.dumps(["kind", "message"]),
        json.dumps({"kind": "x" * 99, "message": "m" * 2000}),
    ]
    notes = student_run.kernel_notes("\n".join(lines).encode())
    assert [(n.kind, n.message) for n in notes[:2]] == [(boundary.NoteKind.MEMORY, "ran out"), ("made up", "3")]
    assert len(notes) == 3 and len(notes[2].kind) == 40 and len(notes[2].message) == 1000
    assert student_run.kernel_notes(None) == []


def test_a_stopped_submission_says_where_it_stopped():
    assert "after 300 s while the cell that starts with `while True:` was running" in student_run.budget_reason(
        300, "while True:"
    )
    assert "while a cell was running" in student_run.budget_reason(5)
