"""The autograder's entry point in pieces (no kernel): what it keeps of an upload, the notebook's
answers as it reads them, what the results questions read, and the grader files it watches.
The corpus (test_corpus.py) grades whole submissions through it."""

from __future__ import annotations

import json
import sys
import zipfile

import nbformat
import pytest

import lab5_autograder as entry
import lab5_facts as facts
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


@pytest.fixture
def autograder_dir(tmp_path):
    ag_dir = tmp_path / "autograder"
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        zf.extractall(ag_dir / "source")
    (ag_dir / "submission").mkdir()
    return ag_dir


class Recording(facts.FactsEnv):
    """A notebook's facts that remember which names the tests looked up."""

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


def test_results_questions_read_nothing_of_the_notebook_but_its_accuracies(reference_run, autograder_dir, monkeypatch):
    """They can be graded from an upload and a notebook's accuracies alone (the corpus's results-only
    cases are), so their tests may look up no other variable of the notebook."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # the grader takes its own files off the path
    monkeypatch.setattr(lab, "load_results", lab.load_results)  # ... and makes the helper read the upload
    monkeypatch.setattr(lab, "training_seed", lab.training_seed)
    upload = (reference_run.folder / project.RESULTS_FILE).read_bytes()
    grader = entry.Grader(autograder_dir, upload)
    record = json.loads(upload)
    env = Recording({name: record[name] for name in lab.ACCURACIES})
    verdicts = grader.grade(env, entry.RESULTS_QUESTIONS)
    assert all(v.passed for found in verdicts.values() for v in found.values()), verdicts
    assert env.seen and env.seen <= set(lab.ACCURACIES), env.seen
    # without the notebook's accuracies, the questions fail on them, not on the upload
    verdicts = grader.grade(facts.FactsEnv(), entry.RESULTS_QUESTIONS)
    assert not all(v.passed for found in verdicts.values() for v in found.values())
    found = grader.results_facts(dict(env))
    assert found["rejected"] == [] and found["accuracies"]["acc_ft"] == pytest.approx(record["acc_ft"])


def test_changed_and_added_given_files_are_found(autograder_dir, tmp_path):
    before = entry.given_files(autograder_dir)
    assert set(before) == {*entry.STUDENT_SIDE, *(f"tests/{p.name}" for p in (autograder_dir / "source" / entry.PUBLIC_TESTS).glob("*.py"))}
    box = tmp_path / "box"
    submission = box / "autograder" / "submission"
    (submission / "tests").mkdir(parents=True)
    for name in entry.STUDENT_SIDE:  # what otter copies beside the notebook
        (submission / name).write_bytes((autograder_dir / "source" / "files" / name).read_bytes())
    (submission / "__init__.py").write_text("")  # otter's own
    (submission / "__pycache__").mkdir()
    (submission / "__pycache__" / "lab5_utils.cpython-311.pyc").write_bytes(b"")
    assert entry.changed_given_files(box, before) == []
    (submission / "lab5_checks.py").write_text("def checked_run(record, *args): return record\n")
    (submission / "numpy").mkdir()
    (submission / "numpy" / "__init__.py").write_text("")
    (submission / "tests" / "q5_results.py").write_text("")
    assert entry.changed_given_files(box, before) == ["lab5_checks.py", "numpy/__init__.py", "tests/q5_results.py"]


def test_the_student_side_holds_no_hidden_test_and_no_answer_key(autograder_dir, sandbox_mode):
    """Its workspace holds the student's own helpers, the public tests and what runs the notebook: no line
    of a hidden test or of the answer key is in any of its files (in the mode the corpus grades in)."""
    import lab5_sandbox

    box = lab5_sandbox.choose(sandbox_mode)
    side = entry.StudentSide(autograder_dir, box)
    try:
        files = sorted(p.relative_to(side.ws.box).as_posix() for p in side.ws.box.rglob("*") if p.is_file())
        source = "autograder/source/"
        assert [f for f in files if f.startswith(source)] == sorted(
            [f"{source}otter_config.json", *(f"{source}files/{n}" for n in entry.STUDENT_SIDE),
             *(f"{source}tests/{p.name}" for p in (autograder_dir / "source" / entry.PUBLIC_TESTS).glob("*.py"))])
        secrets = entry.secret_lines(autograder_dir)
        assert any("ref." in line for line in secrets) and any("ONE_CLASS_SHARE" in line for line in secrets)
        for f in files:
            text = (side.ws.box / f).read_text(errors="replace")
            assert not [line for line in secrets if line in text], f"{f} holds hidden code"
    finally:
        side.end()
        box.clean_up()


def test_what_a_student_sees_is_redacted_of_hidden_code():
    secret = "assert answer == 'orange', 'quiz_q1 is not the expected answer'"
    results = {"output": f"Notes from grading:\n- {secret}",
               "tests": [{"name": "q8", "output": f"x {secret} y", "visibility": "visible"},
                         {"name": "q8 hidden", "output": secret, "visibility": "hidden"}]}
    cleaned, found = entry.redacted(results, {secret})
    assert found == [secret] and secret not in cleaned["output"] and secret not in cleaned["tests"][0]["output"]
    assert cleaned["tests"][1]["output"] == secret  # never shown: left for the TA


def test_a_test_reading_an_undeclared_fact_is_the_graders_fault_not_the_students(reference_run, autograder_dir, monkeypatch):
    """The build runs every test on the solution, so a test that reads what the facts do not carry never
    ships; should a student's notebook take a test down another path that does, the student loses the
    case with a message that says it is not their fault, and the TA is told what to declare."""
    from otter.test_files import ExceptionTestFile

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(lab, "load_results", lab.load_results)
    monkeypatch.setattr(lab, "training_seed", lab.training_seed)
    grader = entry.Grader(autograder_dir, (reference_run.folder / project.RESULTS_FILE).read_bytes())
    path = autograder_dir / "q0_probe.py"
    path.write_text("from otter.test_files import test_case\nOK_FORMAT = False\nname = 'q0_probe'\npoints = None\n\n"
                    "@test_case(points=1, hidden=True)\ndef test_probe(env):\n    import lab5_checks as checks\n"
                    "    tfidf = checks.require(env, 'tfidf')\n    assert tfidf.idf_ is not None\n")
    grader.test_files = {"q0_probe": ExceptionTestFile.from_file(str(path))}
    env = facts.of({"tfidf": __import__("sklearn.feature_extraction.text", fromlist=["x"]).TfidfVectorizer().fit(["good day", "bad day"])}, ["tfidf"])
    results, notes = entry.graded_results(grader, env, {}, ("*",))
    case = results["extra_data"]["cases"]["q0_probe - 1"]
    assert not case["passed"] and entry.GRADER_FAULT in case["message"] and "idf_" not in case["message"]
    assert [n.kind for n in notes] == ["grader fault"] and "declare it in lab5_facts.GRADED['tfidf']" in notes[0].flag


def test_hidden_test_messages_quote_no_code_public_ones_do(reference_run, autograder_dir, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(lab, "load_results", lab.load_results)
    monkeypatch.setattr(lab, "training_seed", lab.training_seed)
    grader = entry.Grader(autograder_dir, (reference_run.folder / project.RESULTS_FILE).read_bytes())
    env = facts.of({"quiz_q1": "blue", "quiz_q2": "blue", "quiz_q3": 3}, ["quiz_q1", "quiz_q2", "quiz_q3"])
    found = grader.grade(env, ("q8_quiz",))["q8_quiz"]
    public = next(v for name, v in found.items() if not v.passed and "Error at line" in v.message)
    assert "quiz_q3 = 3: answer with one of the strings" in public.message and "checks.require(env, name)" not in public.message
    hidden = [v.message for v in found.values() if not v.passed and "quiz_q1 is not the expected answer" in v.message]
    assert hidden and all("Error at line" not in m and "orange" not in m for m in hidden)
