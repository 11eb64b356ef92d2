"""The Colab path, in a real kernel with a stand-in for google.colab (tests/colab_standin): the first
cell fetches the lab's files from the URL the instructor set (or unpacks an uploaded lab5-files.zip,
or says what to do), the setup cell then finds them, and lab.submit makes the one zip the autograder expects from Colab's own copy of
the notebook and downloads it (or, without that copy, the results file with the reason)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import POINTS
from nbclient import NotebookClient

from tools import build, grade, notebooks, project

STANDIN = Path(__file__).parent / "colab_standin"
HANDOUT = project.STUDENT / build.HANDOUT_ZIP


@pytest.fixture(scope="module")
def course_site():
    """The course's web server: serves student/ (lab5-files.zip) on a local port."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(project.STUDENT))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


STUDENT_NB = nbformat.read(project.STUDENT / project.NOTEBOOK_FILE, 4)
SETUP = notebooks.code_cell_with(STUDENT_NB, "lab.setup_environment()").source
OTTER = notebooks.code_cell_with(STUDENT_NB, "otter.Notebook(").source


def fetch_cell(url: str) -> str:
    """The student notebook's first code cell, with LAB_FILES_URL as the instructor set it to ``url``."""
    cell = notebooks.code_cell_with(STUDENT_NB, "LAB_FILES_URL = ")
    assert STUDENT_NB.cells.index(cell) == min(i for i, c in enumerate(STUDENT_NB.cells) if c.cell_type == "code")
    return build.FILES_URL_LINE.sub(f"LAB_FILES_URL = {json.dumps(url)}", cell.source)


def on_colab(cells: list[str], folder: Path, monkeypatch, notebook: Path | None = None):
    """Run ``cells`` in a fresh kernel in ``folder`` (Colab's /content) with google.colab imported, as
    Colab's runtime does at startup; ``notebook`` is Colab's copy of the notebook (kept in Drive, not in
    ``folder``). Returns the executed cells and the paths Colab was asked to download."""
    downloads = folder.parent / "downloads.txt"
    downloads.write_text("")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(STANDIN), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("COLAB_STANDIN_DOWNLOADS", str(downloads))
    if notebook:
        monkeypatch.setenv("COLAB_STANDIN_NOTEBOOK", str(notebook))
    else:
        monkeypatch.delenv("COLAB_STANDIN_NOTEBOOK", raising=False)
    executed = run_cells(["import google.colab", *cells], folder)
    return executed[1:], downloads.read_text().split()


def run_cells(sources: list[str], folder: Path):
    """Execute ``sources`` as the cells of a notebook in a fresh kernel in ``folder``; the cells, run."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb.cells


def shown(cell) -> str:
    return "\n".join(o.get("text", "") or f"{o.get('ename', '')}: {o.get('evalue', '')}" for o in cell.outputs)


def errors(cells) -> list[str]:
    return [shown(c) for c in cells if any(o.output_type == "error" for o in c.outputs)]


def test_first_cell_fetches_the_lab_files_from_the_course_url(course_site, tmp_path, monkeypatch):
    content = tmp_path / "content"
    content.mkdir()
    cells, _ = on_colab([fetch_cell(f"{course_site}/{build.HANDOUT_ZIP}"), SETUP, OTTER], content, monkeypatch)
    assert not errors(cells), errors(cells)
    assert "Unpacked the lab's files: lab5_checks.py, lab5_facts.py, lab5_utils.py, requirements.txt, tests" in shown(
        cells[0]
    )
    assert "Package versions match the autograder's." in shown(cells[1])
    with zipfile.ZipFile(HANDOUT) as zf:
        expected = sorted(n for n in zf.namelist() if not n.endswith(".ipynb"))
        assert all((content / n).read_bytes() == zf.read(n) for n in expected)
    got = sorted(
        p.relative_to(content).as_posix()
        for p in content.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.name != ".OTTER_LOG"
    )  # .OTTER_LOG: otter's log of the checks
    assert got == expected, "the setup cell unpacks the helper, tests and requirements, never a notebook"


def test_first_cell_unpacks_an_uploaded_zip_when_no_url_is_set(tmp_path, monkeypatch):
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(HANDOUT, content / build.HANDOUT_ZIP)
    cells, _ = on_colab([fetch_cell(""), SETUP], content, monkeypatch)
    assert not errors(cells), errors(cells)
    assert (content / "lab5_utils.py").is_file() and (content / "tests" / "q1_data.py").is_file()


@pytest.mark.parametrize(
    "url, says",
    [
        ("", "The lab's files have no URL set"),
        ("http://127.0.0.1:9/lab5-files.zip", "could not be fetched from http://127.0.0.1:9/lab5-files.zip"),
    ],
)
def test_first_cell_says_what_to_do_when_it_cannot_fetch_the_files(url, says, tmp_path, monkeypatch):
    content = tmp_path / "content"
    content.mkdir()
    cells, _ = on_colab([fetch_cell(url)], content, monkeypatch)
    message = shown(cells[0])
    assert says in message and "Upload lab5-files.zip from your course with the Files panel" in message, message
    assert message.startswith("FileNotFoundError") and not list(content.iterdir())


def test_first_cell_on_a_laptop_never_fetches(course_site, tmp_path):
    """Outside Colab the first cell does nothing: the setup cell imports the helper beside the notebook."""
    cells = run_cells([fetch_cell(f"{course_site}/{build.HANDOUT_ZIP}"), SETUP], tmp_path)
    assert not cells[0].outputs
    assert shown(cells[1]).startswith("ModuleNotFoundError: No module named 'lab5_utils'")
    assert not list(tmp_path.iterdir())


def colab_content(folder: Path, results: Path) -> Path:
    """Colab's /content after the lab ran there: the lab's files and the results file, no notebook."""
    with zipfile.ZipFile(HANDOUT) as zf:
        zf.extractall(folder, members=[n for n in zf.namelist() if not n.endswith(".ipynb")])
    shutil.copy(results, folder / project.RESULTS_FILE)
    return folder


SUBMIT = [fetch_cell(""), SETUP, OTTER, "lab.submit(grader)"]


def test_submit_on_colab_downloads_one_zip_that_gets_full_points(reference_run, tmp_path, monkeypatch):
    content = colab_content(tmp_path / "content", reference_run.folder / project.RESULTS_FILE)
    drive = tmp_path / "drive" / "lab5.ipynb"  # Colab's copy: the executed notebook, as the browser has it
    drive.parent.mkdir()
    nbformat.write(reference_run.executed, drive)
    cells, downloads = on_colab(SUBMIT, content, monkeypatch, notebook=drive)
    assert not errors(cells), errors(cells)
    assert len(downloads) == 1 and downloads[0].endswith(".zip"), downloads
    assert "Upload that zip to Gradescope" in shown(cells[-1])
    with zipfile.ZipFile(downloads[0]) as zf:
        assert sorted(zf.namelist()) == [project.NOTEBOOK_FILE, project.RESULTS_FILE]
        assert json.loads(zf.read(project.NOTEBOOK_FILE)) == json.loads(drive.read_text())
        assert zf.read(project.RESULTS_FILE) == (reference_run.folder / project.RESULTS_FILE).read_bytes()
    graded = grade.grade(Path(downloads[0]), project.AUTOGRADER_ZIP, tmp_path / "grading")
    assert graded.status == "graded", graded.log[-3000:]
    assert {q: graded.score(q) for q in POINTS} == POINTS, graded.failures()


def test_submit_on_colab_without_the_notebook_downloads_the_results_with_the_reason(
    reference_run, tmp_path, monkeypatch
):
    content = colab_content(tmp_path / "content", reference_run.folder / project.RESULTS_FILE)
    cells, downloads = on_colab(SUBMIT, content, monkeypatch, notebook=None)
    assert not errors(cells), errors(cells)
    message = shown(cells[-1])
    assert "Could not get this notebook from Colab (Colab did not send the notebook within 2 minutes)" in message
    assert "Upload two files to Gradescope together" in message
    assert downloads == [str(content / project.RESULTS_FILE)] and not list(content.glob("*.zip"))


SAVE_A_RUN = """\
import types
import numpy as np
import lab5_utils as lab

args = types.SimpleNamespace(**lab.TRAINING, seed=7, fp16=False, device="cuda:0")
trainer = types.SimpleNamespace(args=args, train_dataset=[0] * 10,
                                state=types.SimpleNamespace(log_history=[{"train_runtime": 1.0, "step": 1, "epoch": 2.0}]))
lab.save_results(trainer=trainer, predictions=types.SimpleNamespace(predictions=np.eye(3), metrics={}), acc_ft=1.0)
"""


def test_on_colab_a_saved_run_is_downloaded_with_the_seed_file_at_once(tmp_path, monkeypatch):
    """A runtime reset deletes the files beside the notebook: each saved run downloads the results and
    seed files, and says how to get them back."""
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(project.STUDENT / "lab5_utils.py", content)
    (content / project.SEED_FILE).write_text("7\n")
    cells, downloads = on_colab([SAVE_A_RUN], content, monkeypatch)
    assert not errors(cells), errors(cells)
    assert downloads == [str(content / project.RESULTS_FILE), str(content / project.SEED_FILE)]
    assert "Colab deletes lab5_results.json and lab5_seed.txt when its runtime resets" in shown(cells[-1])
