"""The committed student/, autograder/ and solutions/ are exactly what the build makes now."""

from __future__ import annotations

import json
import re
import sys
import zipfile

import lab5_intake as intake
import lab5_student_run as student_run
import nbformat
import pytest
import yaml
from conftest import POINTS

from tools import build, project
from tools.autograder import BUILD_RUN


def files_under(folder):
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def test_student_folder_matches_a_fresh_build(fresh_build):
    committed, fresh = files_under(project.STUDENT), files_under(fresh_build / "student")
    assert sorted(committed) == sorted(fresh), (
        "student/ lists other files than a fresh build: run python3 -m tools build"
    )
    stale = [name for name in fresh if committed[name].read_bytes() != fresh[name].read_bytes()]
    assert not stale, f"student/ differs from a fresh build in {stale}: run python3 -m tools build"


# The build's run: its accuracies are measured, and the last digits of a measurement differ
# between CPUs (the baseline's solver sums through BLAS kernels chosen per CPU: 0.4695 on one machine,
# 0.4715 on another, for the same inputs).
MEASURED = f"files/{BUILD_RUN}"
MEASURED_TOLERANCE = 0.01


def test_autograder_zip_matches_a_fresh_build(fresh_build):
    """Byte for byte, but for the accuracies the build measured, which agree within MEASURED_TOLERANCE."""
    assert [p.name for p in project.AUTOGRADER.iterdir()] == [project.AUTOGRADER_ZIP.name]
    with (
        zipfile.ZipFile(project.AUTOGRADER_ZIP) as ours,
        zipfile.ZipFile(fresh_build / "autograder" / project.AUTOGRADER_ZIP.name) as theirs,
    ):
        assert ours.namelist() == theirs.namelist(), (
            "autograder/ lists other files than a fresh build: run python3 -m tools build"
        )
        stale = [name for name in ours.namelist() if name != MEASURED and ours.read(name) != theirs.read(name)]
        assert not stale, f"autograder/ differs from a fresh build in {stale}: run python3 -m tools build"
        committed, fresh = json.loads(ours.read(MEASURED)), json.loads(theirs.read(MEASURED))
    assert committed.keys() == fresh.keys()
    far = {
        key: (committed[key], fresh[key])
        for key in committed
        if committed[key] != fresh[key]
        and not (isinstance(fresh[key], float) and abs(committed[key] - fresh[key]) <= MEASURED_TOLERANCE)
    }
    assert not far, f"the build's run differs from a fresh build's: {far}: run python3 -m tools build"


def code_and_text(path):
    """A notebook's cells without their outputs, which change with every training run."""
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


def test_solutions_match_a_fresh_build(fresh_build):
    assert sorted(files_under(project.SOLUTIONS)) == sorted(files_under(fresh_build / "solutions"))
    fresh = fresh_build / "solutions" / project.SOLUTION_NOTEBOOK.name
    assert code_and_text(project.SOLUTION_NOTEBOOK) == code_and_text(fresh), (
        "solutions/ differs from a fresh build: run python3 -m tools build"
    )


def test_solution_notebook_is_published_executed_and_its_html_matches_it(tmp_path):
    nb = nbformat.read(project.SOLUTION_NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), "the solution notebook should carry the build's run's outputs"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), "the comparison plot is missing"
    for cell in code:
        for out in cell.outputs:
            assert not (out.output_type == "stream" and out.name == "stderr"), "stderr is not published"
            assert out.output_type != "error", f"the build's run raised an error in:\n{cell.source}"
    build.write_html(nb, tmp_path / "solution.html")
    assert (tmp_path / "solution.html").read_bytes() == project.SOLUTION_HTML.read_bytes(), (
        "solutions/lab5-solution.html is not the HTML of solutions/lab5-solution.ipynb: run python3 -m tools build"
    )


def test_autograder_zip_holds_what_grading_needs():
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        names = set(zf.namelist())
        modules = [f"files/{name}" for name in intake.OWN_MODULES]  # every module beside the master
        for name in (
            "otter_config.json",
            "environment.yml",
            "run_autograder",
            "setup.sh",
            *modules,
            "files/lab5_calibration_offline.json",
            "files/lab5_calibration_full.json",
        ):
            assert name in names, f"{name} is missing from the autograder zip"
        tests = sorted(n for n in names if n.startswith("tests/"))
        assert tests == [f"tests/{q}.py" for q in POINTS]
        # what the student's side gets of the tests at grading: the students' own public tests, no more
        public = {n.split("/", 1)[1]: zf.read(n) for n in names if n.startswith(f"{student_run.PUBLIC_TESTS}/")}
        assert public == {p.name: p.read_bytes() for p in (project.STUDENT / "tests").glob("*.py")}
        config = zf.read("otter_config.json").decode()
        environment = yaml.safe_load(zf.read("environment.yml"))
        setup, run = zf.read("setup.sh").decode(), zf.read("run_autograder").decode()

    assert json.loads(config) == {**json.loads(project.OTTER_CONFIG.read_text()), "assignment_name": "lab5"}
    assert "python=3.11" in environment["dependencies"], "Gradescope must run the Python we test with"
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    derived = [
        line
        for line in build.autograder_requirements(project.REQUIREMENTS.read_text()).splitlines()
        if not line.startswith("#")
    ]
    assert pip == ["otter-grader[grading,plugins]==7.0.0", *derived]
    # the image makes the grading user and copies data and checkpoint; grading runs from them with the hub off
    assert setup.rstrip().endswith(build.IMAGE_SETUP.strip())
    assert run.index(build.GRADING_ENV) < run.index(build.LAB_ENTRY) and "run_otter.py" not in run


def test_autograder_requirements_pin_what_we_test_with():
    pins = {name: spec.split("==")[1] for name, spec in build.pins(project.REQUIREMENTS.read_text())}
    assert pins["torch"] == "2.13.0", "the CPU build of torch on this machine is 2.13.0"
    derived = build.autograder_requirements(project.REQUIREMENTS.read_text())
    assert "torch==2.13.0+cpu" in derived.splitlines()
    assert f"--extra-index-url {build.TORCH_CPU_INDEX}" in derived.splitlines()
    for name, version in pins.items():
        if name in build.STUDENT_ONLY:
            assert not [line for line in derived.splitlines() if line.startswith(name)], f"{name} is not for Gradescope"
        elif name not in ("torch", "otter-grader"):
            assert f"{name}=={version}" in derived.splitlines(), f"{name} is not pinned for Gradescope"


def test_students_get_every_pin_and_the_whole_handout_in_one_zip():
    """student/requirements.txt pins what requirements.txt does (JupyterLab included); lab5-files.zip,
    which Colab's setup cell fetches, holds exactly student/'s other files."""
    required = sorted(spec for _, spec in build.pins(project.REQUIREMENTS.read_text()))
    student = (project.STUDENT / "requirements.txt").read_text()
    assert sorted(spec for _, spec in build.pins(student)) == required and "jupyterlab==" in student
    with zipfile.ZipFile(project.STUDENT / build.HANDOUT_ZIP) as zf:
        zipped = {name: zf.read(name) for name in zf.namelist()}
    folder = {
        name: path.read_bytes() for name, path in files_under(project.STUDENT).items() if name != build.HANDOUT_ZIP
    }
    assert zipped == folder


def test_the_configs_files_url_reaches_the_setup_cell_and_never_otter():
    master = nbformat.read(project.MASTER, 4)
    assert build.set_files_url(master) == ""  # the repository's master: no course site yet
    config = build.config_cell(master)
    config.source = config.source.replace(
        'lab_files_url: ""', 'lab_files_url: "https://example.edu/lab5/lab5-files.zip"'
    )
    assert build.set_files_url(master) == "https://example.edu/lab5/lab5-files.zip"
    setup = next(c.source for c in master.cells if c.cell_type == "code" and "LAB_FILES_URL = " in c.source)
    assert 'LAB_FILES_URL = "https://example.edu/lab5/lab5-files.zip"' in setup
    build.configure_master(master, "requirements-autograder.txt")
    assert build.FILES_URL_KEY not in yaml.safe_load(build.config_cell(master).source), (
        "otter rejects keys it does not know"
    )
    master = nbformat.read(project.MASTER, 4)
    build.config_cell(master).source += "\nlab_files_url: ftp://example.edu/x.zip"
    with pytest.raises(SystemExit, match="must be an http"):
        build.set_files_url(master)


def test_colab_installs_the_versions_we_test_with(monkeypatch):
    """On Colab, the student's helper pins its packages with the requirements.txt beside it (the handout's)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("students_lab5_utils", project.STUDENT / "lab5_utils.py")
    helper = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, helper)  # its dataclasses look their module up there
    spec.loader.exec_module(helper)
    pins = helper.pinned()
    assert [pin.split("==")[0] for pin in pins] == list(helper.COLAB_PACKAGES), pins
    assert set(pins) <= {spec for _, spec in build.pins(project.REQUIREMENTS.read_text())}


def test_master_keeps_its_contract_names():
    """The student-facing names (docs/design.md, "Student-facing names") exist in the solution."""
    source = "\n".join(c.source for c in nbformat.read(project.SOLUTION_NOTEBOOK, 4).cells if c.cell_type == "code")
    for name in (
        "label_names",
        "num_labels",
        "train_texts",
        "train_labels",
        "test_texts",
        "test_labels",
        "tfidf",
        "bow_clf",
        "bow_preds",
        "acc_bow",
        "tokenizer",
        "tok_fn",
        "tok_train",
        "tok_test",
        "model_ft",
        "args",
        "compute_metrics",
        "trainer",
        "acc_ft",
        "model_scratch",
        "trainer_scratch",
        "acc_scratch",
        "quiz_q1",
        "quiz_q2",
        "quiz_q3",
    ):
        assert re.search(rf"\b{name}\b\s*(,[^=\n]*)?=|def {name}\(", source), f"{name} is never assigned"


def test_every_section_the_code_and_readme_cite_exists():
    """Code comments and the README cite docs/ by section name ('docs/design.md, "The trust boundary"')
    or link (docs/design.md#the-trust-boundary): each must name a heading there."""
    headings = {
        doc: [
            line.lstrip("#").strip()
            for line in (project.ROOT / "docs" / doc).read_text().splitlines()
            if line.startswith("#")
        ]
        for doc in ("design.md", "performance.md")
    }
    anchors = {
        doc: {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in found} for doc, found in headings.items()
    }
    sources = [project.ROOT / "README.md", *(project.ROOT / "docs").glob("*.md")]
    for folder in ("assignment", "tools", "bench", "tests"):
        sources += (project.ROOT / folder).rglob("*.py")
    cited = 0
    for path in sources:
        text = " ".join(re.sub(r"\n\s*#", "\n", path.read_text()).split())  # a citation may wrap over comment lines
        for doc, section in re.findall(r'(design\.md|performance\.md), "([^"]+)"', text):
            cited += 1
            assert any(h.startswith(section) for h in headings[doc]), (
                f"{path.name} cites {doc}, {section!r}: no such section"
            )
        for doc, anchor in re.findall(r"(design\.md|performance\.md)#([\w\-]+)", text):
            cited += 1
            assert anchor in anchors[doc], f"{path.name} links {doc}#{anchor}: no such section"
    assert cited > 10, "the code cites the docs by section"
