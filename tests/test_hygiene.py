"""Nothing a student receives holds solution code, hidden tests or reference answers."""

from __future__ import annotations

import ast
import re
import zipfile

import nbformat
import pytest
import yaml
from conftest import POINTS

from tools import project
from tools.autograder import Autograder

SOLUTION_MARK = re.compile(r"#\s*SOLUTION\s*$")


def student_texts() -> dict[str, str]:
    """Every file students receive, by name: student/'s files, and the files inside its zips."""
    texts = {}
    for path in sorted(project.STUDENT.rglob("*")):
        name = path.relative_to(project.STUDENT).as_posix()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                texts.update({f"{name}:{member}": zf.read(member).decode("utf-8") for member in zf.namelist()})
        elif path.is_file():
            texts[name] = path.read_text(encoding="utf-8")
    return texts


def student_code_lines() -> dict[str, set[str]]:
    """Per file students receive, its lines of code (stripped); for the notebook, its code cells."""
    found = {}
    for name, text in student_texts().items():
        if name.endswith(".ipynb"):
            nb = nbformat.reads(text, as_version=4)
            text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        found[name] = {line.strip() for line in text.splitlines() if line.strip()}
    return found


def solution_lines() -> list[str]:
    """Every line of the master that otter assign must strip: `# SOLUTION` lines and solution blocks."""
    master = nbformat.read(project.MASTER, as_version=4)
    lines, in_block_cell = [], False
    for cell in master.cells:
        if cell.cell_type == "raw":
            marker = cell.source.strip()
            in_block_cell = marker == "# BEGIN SOLUTION" or (in_block_cell and marker != "# END SOLUTION")
            continue
        if not (cell.cell_type == "code" and in_block_cell):
            continue
        in_block = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped == "# BEGIN SOLUTION":
                in_block = True
            elif stripped == "# END SOLUTION":
                in_block = False
            elif in_block or SOLUTION_MARK.search(line):
                code = SOLUTION_MARK.sub("", stripped).strip()
                if len(code) >= 12:  # shorter lines (`args=args,`) say nothing a prompt does not
                    lines.append(code)
    return lines


def test_master_has_solution_lines_to_check():
    assert len(solution_lines()) >= 20


@pytest.mark.parametrize("line", solution_lines())
def test_no_solution_code_reaches_students(line):
    leaks = [name for name, lines in student_code_lines().items() if line in lines]
    assert not leaks, f"solution code {line!r} is in student/{leaks[0]}"


def hidden_test_functions() -> dict[str, str]:
    """Name -> source of every hidden test case in the autograder zip."""
    found = {}
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        for name in zf.namelist():
            if not name.startswith("tests/"):
                continue
            source = zf.read(name).decode()
            for node in ast.parse(source).body:
                if isinstance(node, ast.FunctionDef):
                    hidden = any(
                        isinstance(d, ast.Call)
                        and any(k.arg == "hidden" and getattr(k.value, "value", False) for k in d.keywords)
                        for d in node.decorator_list
                    )
                    if hidden:
                        found[node.name] = ast.get_source_segment(source, node)
    return found


def test_autograder_has_hidden_tests_for_every_autograded_question():
    questions = {name.split("_")[1] for name in hidden_test_functions()}
    assert questions == {question.split("_")[0] for question in POINTS}


def test_no_hidden_test_reaches_students():
    texts = student_texts()
    for name, source in hidden_test_functions().items():
        # its own asserts, or the autograder-only checks of lab5_answer_key it calls
        checks = [
            line.strip()
            for line in source.splitlines()
            if line.strip().startswith("assert") or line.strip().startswith("ref.check_")
        ]
        assert checks, f"hidden test {name} checks nothing"
        for path, text in texts.items():
            assert name not in text, f"hidden test {name} is in student/{path}"
            for line in checks:
                assert line not in text, f"a check of hidden test {name} is in student/{path}: {line}"


def test_no_reference_answer_or_reference_module_reaches_students():
    texts = student_texts()
    assert not [name for name in texts if name.endswith("lab5_answer_key.py")], (
        "the autograder-only module is in student/"
    )
    for path, text in texts.items():
        assert "lab5_answer_key" not in text, f"student/{path} mentions the autograder-only module"
        assert not re.search(r"quiz_q\d\s*=\s*[\"']", text), f"student/{path} assigns a quiz answer"
    code = student_code_lines()[project.NOTEBOOK_FILE]
    for name in ("quiz_q1", "quiz_q2", "quiz_q3"):
        assert f"{name} = ..." in code, f"{name} is not left blank for students"


def test_student_notebook_has_blanks_and_no_outputs():
    nb = nbformat.read(project.STUDENT / project.NOTEBOOK_FILE, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "the student notebook carries outputs"
    assert sum(c.source.count("...") for c in code) >= 10, "the student notebook should have blanks to fill"
    ignored = [c for c in code if "otter_ignore" in c.metadata.get("tags", [])]
    assert any("trainer.train()" in c.source for c in ignored), "training must be skipped by the autograder"
    assert any("trainer.predict(" in c.source for c in ignored), "evaluation must be skipped by the autograder"


def test_public_tests_are_public():
    for path in sorted((project.STUDENT / "tests").glob("*.py")):
        assert "hidden=True" not in path.read_text(), f"student/tests/{path.name} holds a hidden test"


def test_grader_only_code_does_not_reach_students():
    """What only the autograder runs (the entry point, the grading mode, the reference checks) stays in
    the autograder's files: students get none of these files, and the helper they get defines none
    of their functions."""
    config = yaml.safe_load(nbformat.read(project.MASTER, 4).cells[0].source)
    texts = student_texts()
    helper = texts["lab5_utils.py"]
    for name in config["autograder_files"]:
        assert not [t for t in texts if t.split(":")[-1] == name] and name.removesuffix(".py") not in helper, (
            f"student/ holds or names {name}"
        )
        if not name.endswith(".py"):
            continue  # the calibration's data
        tree = ast.parse((project.ASSIGNMENT / name).read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("test"):
                assert f"def {node.name}(" not in helper and f"class {node.name}(" not in helper, (
                    f"student/lab5_utils.py defines {node.name}, which only the autograder needs ({name})"
                )


def test_no_student_gets_a_training_seed():
    """Each student's setup cell draws their own (lab5_utils.training_seed): none is handed out."""
    assert not list(project.STUDENT.rglob(project.SEED_FILE)) and not list(project.STUDENT.rglob(project.RESULTS_FILE))


def test_public_tests_come_first_in_each_question():
    """A student's "q4_setup - 2" (the public tests they run) is the TA's and Gradescope's "q4_setup - 2"
    (every test): otter numbers a question's tests in the order the master writes them."""

    for test_file in Autograder(project.AUTOGRADER_ZIP).test_files():
        hidden = [case.hidden for case in test_file.test_cases]
        assert hidden == sorted(hidden), (
            f"{test_file.name}: a hidden test before a public one ({hidden}): move it after them in the master"
        )


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["linter", "formatter"])
def test_the_projects_code_passes_the_linter_and_the_formatter(command):
    """ruff (pinned in requirements-dev.txt) with the project's ruff.toml, on everything but the generated
    folders: its rules, and its formatter's layout (``ruff format`` makes it so)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", str(project.ROOT)], capture_output=True, text=True
    )
    assert done.returncode == 0, (
        f"run: ruff {' '.join(command)} (ruff format fixes the layout)\n{done.stdout}{done.stderr}"
    )


def test_the_design_and_the_readme_list_every_module_beside_the_master():
    """docs/design.md's module table and the README's "What is where" name each lab5_*.py there is, and no other."""
    modules = {p.name for p in project.ASSIGNMENT.glob("lab5_*.py")}
    design = (project.ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\s*\| `(lab5_\w+\.py)` \|", design, re.M))
    readme = set(
        re.findall(
            r"^\| `assignment/(lab5_\w+\.py)` \|", (project.ROOT / "README.md").read_text(encoding="utf-8"), re.M
        )
    )
    assert table == modules, (
        f"design.md's module table: missing {sorted(modules - table)}, extra {sorted(table - modules)}"
    )
    assert readme == modules, f"README's table: missing {sorted(modules - readme)}, extra {sorted(readme - modules)}"


def test_the_tools_reach_the_lab_through_one_door():
    """No module of tools/ or bench/ puts a folder on sys.path or imports a lab module by name: the lab's
    modules and a built autograder are reached through tools/autograder.py."""
    for path in [*(project.ROOT / "tools").glob("*.py"), *(project.ROOT / "bench").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
                assert path.name == "autograder.py", f"{path.name}:{node.lineno} uses sys.path"
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not [n for n in names if n.startswith("lab5_")], f"{path.name}:{node.lineno} imports {names} by name"
