"""The upload's intake (lab5_intake.py), unit by unit, without a built autograder or a kernel: what it
keeps of an upload, what it leaves out and says. The corpus (test_corpus.py) grades whole uploads."""

from __future__ import annotations

import zipfile

import lab5_intake as intake
import lab5_utils as lab
import nbformat
import pytest
import yaml

from tools import build, project

NOTEBOOK = nbformat.writes(nbformat.v4.new_notebook())


def test_only_the_notebook_and_results_file_are_taken(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / lab.NOTEBOOK_FILE).write_text(NOTEBOOK)
    for name in (
        lab.RESULTS_FILE,
        "lab5.pdf",
        ".OTTER_LOG",
        "notes.txt",
        "lab5_x.zip",
        "sitecustomize.py",
        "extra.pth",
        "numpy.py",
    ):
        (folder / name).write_text("x")
    (folder / "lab5_utils.py").write_bytes((project.ASSIGNMENT / "lab5_utils.py").read_bytes())  # the lab's own copy
    for package in ("lab5_answer_key", "__MACOSX", ".ipynb_checkpoints", "data"):
        (folder / package).mkdir()
    (folder / "lab5_answer_key" / "__init__.py").write_text("")
    (folder / "__MACOSX" / "._lab5_utils.py").write_text("")  # AppleDouble clutter, not code
    (folder / ".ipynb_checkpoints" / "lab5_utils-checkpoint.py").write_text("")
    (folder / "data" / "notes.csv").write_text("")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    upload = intake.take_upload(folder)
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
    upload = intake.take_upload(folder)
    assert upload.results is None and upload.other == [lab.RESULTS_FILE]


def zipped(folder, files: dict[str, bytes], name="lab5_upload.zip"):
    with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)


def test_a_zip_is_read_not_unpacked(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    zipped(
        folder,
        {
            lab.NOTEBOOK_FILE: NOTEBOOK.encode(),
            lab.RESULTS_FILE: b"{}",
            "../../outside.py": b"x",
            "pkg/__init__.py": b"",
        },
    )
    upload = intake.take_upload(folder)
    assert (upload.notebook_name, upload.results) == (lab.NOTEBOOK_FILE, b"{}")
    assert upload.code == ["..", "pkg/"] or upload.code == ["../", "pkg/"]
    assert [p.name for p in folder.iterdir()] == ["lab5_upload.zip"] and not (tmp_path.parent / "outside.py").exists()


def test_an_oversized_results_file_is_not_read(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    zipped(folder, {lab.NOTEBOOK_FILE: NOTEBOOK.encode(), lab.RESULTS_FILE: b"0" * (intake.RESULTS_LIMIT + 1)})
    upload = intake.take_upload(folder)
    assert upload.problem is None and upload.results is None
    assert [n.kind for n in upload.notes] == ["results too large"] and "MB unpacked" in upload.notes[0].message


@pytest.mark.parametrize(
    "files, problem",
    [
        ({}, "has no notebook"),
        ({"a.ipynb": NOTEBOOK.encode(), "b.ipynb": NOTEBOOK.encode()}, "2 notebooks"),
        ({lab.NOTEBOOK_FILE: b"{not json"}, "is not a readable Jupyter notebook"),
        ({lab.NOTEBOOK_FILE: b"[" * 100_000 + b"]" * 100_000}, "is not a readable Jupyter notebook"),
    ],
)
def test_an_upload_that_cannot_be_graded_says_why(tmp_path, files, problem):
    folder = tmp_path / "submission"
    folder.mkdir()
    zipped(folder, files)
    assert problem in intake.take_upload(folder).problem


def test_a_damaged_zip_says_so(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "lab5.zip").write_bytes(b"PK\x03\x04 truncated")
    assert "damaged" in intake.take_upload(folder).problem


def test_the_intake_knows_every_module_of_the_autograder():
    """Every module beside the master is one an upload could try to shadow: the intake's list of the
    autograder's own modules is the master's list of files the build ships, and the files that exist."""
    config = yaml.safe_load(build.config_cell(nbformat.read(project.MASTER, 4)).source)
    shipped = {name for name in config["files"] + config["autograder_files"] if name.endswith(".py")}
    assert set(intake.OWN_MODULES) == shipped == {p.name for p in project.ASSIGNMENT.glob("lab5_*.py")}


def test_an_unchanged_copy_of_an_own_module_is_clutter_an_edited_one_is_code(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / lab.NOTEBOOK_FILE).write_text(NOTEBOOK)
    (folder / "lab5_checks.py").write_bytes((project.ASSIGNMENT / "lab5_checks.py").read_bytes())
    (folder / "lab5_verdict.py").write_bytes((project.ASSIGNMENT / "lab5_verdict.py").read_bytes() + b"\n# mine\n")
    upload = intake.take_upload(folder)
    assert upload.other == ["lab5_checks.py"] and upload.code == ["lab5_verdict.py"]
    notes = intake.upload_notes(upload)
    assert [n.kind for n in notes] == ["code removed", "removed"] and "lab5_verdict.py" in notes[0].message
