"""The autograder's entry point in pieces (no kernel): what it keeps of an upload, the notebook's
answers as it reads them, what the results questions read, and the grader files it watches.
The corpus (test_corpus.py) grades whole submissions through it."""

from __future__ import annotations

import json
import sys
import zipfile

import nbformat
import numpy as np
import pytest

import lab5_autograder as entry
import lab5_grading_mode as mode
import lab5_utils as lab
from tools import project


NOTEBOOK = nbformat.writes(nbformat.v4.new_notebook())


def test_only_the_notebook_and_results_file_are_taken(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / lab.NOTEBOOK_FILE).write_text(NOTEBOOK)
    for name in (lab.RESULTS_FILE, "lab5.pdf", ".OTTER_LOG", "notes.txt", "lab5_x.zip", "sitecustomize.py",
                 "extra.pth", "numpy.py"):
        (folder / name).write_text("x")
    (folder / "lab5_utils.py").write_bytes((project.ASSIGNMENT / "lab5_utils.py").read_bytes())  # the lab's own copy
    for package in ("lab5_answer_key", "__MACOSX", ".ipynb_checkpoints", "data"):
        (folder / package).mkdir()
    (folder / "lab5_answer_key" / "__init__.py").write_text("")
    (folder / "__MACOSX" / "._lab5_utils.py").write_text("")  # AppleDouble clutter, not code
    (folder / ".ipynb_checkpoints" / "lab5_utils-checkpoint.py").write_text("")
    (folder / "data" / "notes.csv").write_text("")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    upload = entry.take_upload(folder)
    assert upload.problem is None and upload.notebook_name == lab.NOTEBOOK_FILE and upload.notebook == NOTEBOOK.encode()
    assert upload.results == b"x"
    assert upload.code == ["extra.pth", "lab5_answer_key/", "numpy.py", "sitecustomize.py"]
    # the export's own files (the PDF, otter's log) go without a word; a zip beside a notebook is not opened
    assert upload.other == [".ipynb_checkpoints/", "__MACOSX/", "data/", "lab5_utils.py", "lab5_x.zip", "notes.txt"]
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before  # the upload is never changed


def test_a_results_file_that_is_a_folder_or_a_link_is_not_taken(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / lab.NOTEBOOK_FILE).write_text(NOTEBOOK)
    (tmp_path / "elsewhere.json").write_text("{}")
    (folder / lab.RESULTS_FILE).symlink_to(tmp_path / "elsewhere.json")
    upload = entry.take_upload(folder)
    assert upload.results is None and upload.other == [lab.RESULTS_FILE]


def zipped(folder, files: dict[str, bytes], name="lab5_upload.zip"):
    with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)


def test_a_zip_is_read_not_unpacked(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    zipped(folder, {lab.NOTEBOOK_FILE: NOTEBOOK.encode(), lab.RESULTS_FILE: b"{}", "../../outside.py": b"x",
                    "pkg/__init__.py": b""})
    upload = entry.take_upload(folder)
    assert (upload.notebook_name, upload.results) == (lab.NOTEBOOK_FILE, b"{}")
    assert upload.code == ["..", "pkg/"] or upload.code == ["../", "pkg/"]
    assert [p.name for p in folder.iterdir()] == ["lab5_upload.zip"] and not (tmp_path.parent / "outside.py").exists()


def test_an_oversized_results_file_is_not_read(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    zipped(folder, {lab.NOTEBOOK_FILE: NOTEBOOK.encode(), lab.RESULTS_FILE: b"0" * (entry.RESULTS_LIMIT + 1)})
    upload = entry.take_upload(folder)
    assert upload.problem is None and upload.results is None
    assert [n.kind for n in upload.notes] == ["results too large"] and "MB unpacked" in upload.notes[0].message


@pytest.mark.parametrize("files, problem", [
    ({}, "has no notebook"),
    ({"a.ipynb": NOTEBOOK.encode(), "b.ipynb": NOTEBOOK.encode()}, "2 notebooks"),
    ({lab.NOTEBOOK_FILE: b"{not json"}, "is not a readable Jupyter notebook"),
    ({lab.NOTEBOOK_FILE: b"[" * 100_000 + b"]" * 100_000}, "is not a readable Jupyter notebook"),
])
def test_an_upload_that_cannot_be_graded_says_why(tmp_path, files, problem):
    folder = tmp_path / "submission"
    folder.mkdir()
    zipped(folder, files)
    assert problem in entry.take_upload(folder).problem


def test_a_damaged_zip_says_so(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "lab5.zip").write_bytes(b"PK\x03\x04 truncated")
    assert "damaged" in entry.take_upload(folder).problem


@pytest.mark.parametrize("value", [0.5, 1, True, "0.57", None, ..., np.float64(0.5), np.float32(0.25), np.int64(3),
                                   float("nan"), [0.5], {"a": 1}, "x" * 500])
def test_the_notebooks_answers_keep_what_the_checks_look_at(value, tmp_path):
    path = tmp_path / "answers.json"
    mode.export_answers({"acc_ft": value, "other": 1}, str(path))
    got = mode.read_answers(path.read_bytes())
    assert list(got) == ["acc_ft"]
    if isinstance(value, (list, dict)) or (isinstance(value, str) and len(value) > 200):
        assert isinstance(got["acc_ft"], mode.Unreadable) and repr(got["acc_ft"]) == repr(value)[:200]
    else:
        assert type(got["acc_ft"]) is type(value)
        assert got["acc_ft"] is value or got["acc_ft"] == value or (value != value and got["acc_ft"] != got["acc_ft"])


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"acc_ft": {"numpy": "object", "value": 1}}',
                                  '{"acc_ft": {"numpy": "no such dtype", "value": 1}}', '{"acc_ft": 3}'])
def test_unreadable_answers_are_no_numbers(text, tmp_path):
    got = mode.read_answers(text.encode())
    assert all(isinstance(v, mode.Unreadable) for v in got.values())


@pytest.fixture
def autograder_dir(tmp_path):
    ag_dir = tmp_path / "autograder"
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        zf.extractall(ag_dir / "source")
    (ag_dir / "submission").mkdir()
    return ag_dir


class Recording(dict):
    """A notebook's variables that remember which names the tests looked up."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen = set()

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


def test_results_questions_read_nothing_of_the_notebook_but_its_answers(reference_run, autograder_dir, monkeypatch):
    """The entry point grades them from the upload and the answers the kernel exports, so their tests
    may look up no other variable of the notebook."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # the grader takes its own files off the path
    monkeypatch.setattr(lab, "load_results", lab.load_results)  # ... and makes the helper read the upload
    upload = (reference_run.folder / project.RESULTS_FILE).read_bytes()
    grader = entry.ResultsGrader(autograder_dir, upload)
    record = json.loads(upload)
    env = Recording({name: record[name] for name in lab.ACCURACIES})
    for question in entry.RESULTS_QUESTIONS:
        test_file = grader.test_files[question]
        test_file.run(env)
        assert all(r.passed for r in test_file.test_case_results), test_file.summary()
    assert env.seen and env.seen <= set(lab.ACCURACIES), env.seen
    # without the notebook's answers, the questions fail on them, not on the upload
    verdict = grader.grade({})
    assert not all(passed for cases in verdict.values() for passed, _ in cases.values())
    facts = grader.facts(dict(env))
    assert facts["rejected"] == [] and facts["accuracies"]["acc_ft"] == pytest.approx(record["acc_ft"])


def test_changed_and_added_grader_files_are_found(autograder_dir, tmp_path):
    before = entry.grader_files(autograder_dir)
    box = tmp_path / "box"
    submission = box / "autograder" / "submission"
    (submission / "tests").mkdir(parents=True)
    for name in ("lab5_utils.py", "lab5_answer_key.py"):  # what otter copies beside the notebook
        (submission / name).write_bytes((autograder_dir / "source" / "files" / name).read_bytes())
    (submission / "__init__.py").write_text("")  # otter's own
    (submission / "__pycache__").mkdir()
    (submission / "__pycache__" / "lab5_utils.cpython-311.pyc").write_bytes(b"")
    assert entry.changed_grader_files(box, before) == []
    (submission / "lab5_answer_key.py").write_text("def results(run): ...\n")
    (submission / "numpy").mkdir()
    (submission / "numpy" / "__init__.py").write_text("")
    (submission / "tests" / "q5_results.py").write_text("")
    assert entry.changed_grader_files(box, before) == ["lab5_answer_key.py", "numpy/__init__.py", "tests/q5_results.py"]
