"""What crosses a process boundary (lab5_boundary.py), without a built autograder: the environment names
each side reads, the report folder, the run vectors' codec and extra_data's one builder and one reader."""

from __future__ import annotations

import json
import re

import lab5_boundary as boundary
import numpy as np

from tools import project


def test_each_environment_name_and_report_file_has_one_home():
    """Every LAB5_* name and report file name the lab's modules read is written once: in lab5_boundary (or,
    for the profile and the data, in the helper students get)."""
    homes = {"lab5_boundary.py", "lab5_utils.py"}
    for path in project.ASSIGNMENT.glob("lab5_*.py"):
        text = path.read_text(encoding="utf-8")
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())  # comments may name them
        if path.name not in homes:
            assert not re.findall(r"\"LAB5_[A-Z_]+\"", code), path.name
            assert not re.findall(r"\"(facts\.json|notes\.jsonl|cell\.txt|network\.txt)\"", code), path.name


def test_a_run_crosses_as_it_was_and_anything_else_decodes_to_nothing():
    predictions, scores = [0, 2, 1], [[0.5, -1.25, 3.0], [1e-3, 2.0, -7.5], [0.0, 0.0, 1.0]]
    decoded = boundary.decode_run(json.loads(json.dumps(boundary.encode_run(predictions, scores))))
    assert decoded[0].tolist() == predictions and np.allclose(decoded[1], scores)
    assert boundary.encode_run([0], [[1e31, 0.0, 0.0]]) is None  # no float32
    vectors = boundary.encode_run(predictions, scores)
    for broken in (
        None,
        [],
        {"predictions": "013", "scores": vectors["scores"]},
        {**vectors, "scores": "***"},
        {"predictions": "01", "scores": vectors["scores"]},
        {"predictions": 12, "scores": vectors["scores"]},
    ):
        assert boundary.decode_run(broken) is None, broken


def test_extra_data_reads_back_what_was_written_and_nothing_of_the_wrong_kind():
    extra = boundary.Extra(
        status=boundary.STOPPED,
        reason="why",
        flags=["look"],
        sandbox="bubblewrap",
        results_file={"runs": {"ft": boundary.encode_run([1], [[0.0, 1.0, 0.0]]), "scratch": "x"}},
    )
    read = boundary.Extra.of({"extra_data": json.loads(json.dumps(extra.to_json()))})
    assert read == extra and list(read.runs()) == ["ft"] and read.runs()["ft"][0].tolist() == [1]
    forged = boundary.Extra.of(
        {"extra_data": {"status": 3, "flags": "not a list", "cases": [], "isolation": None, "written": {"a": 1}}}
    )
    assert forged == boundary.Extra()
    assert boundary.Extra.of({}) == boundary.Extra.of({"extra_data": "x"}) == boundary.Extra()


def test_a_note_kind_the_lab_does_not_know_stays_text():
    assert boundary.note_kind("memory") is boundary.NoteKind.MEMORY
    assert boundary.note_kind("forged kind") == "forged kind"
