"""How long grading one complete submission takes, and where the seconds go.

    python3 -m tools bench grading [--runs 5]

In the offline profile: runs the student notebook filled in with the reference solution top to
bottom as a student would (training included) and exports it; grades that submission with
``otter run`` and the built autograder ``--runs`` times; then replays what grading executes (the
notebook without its otter_ignore cells, then every test file) cell by cell in a kernel, to show
where the time goes. Takes about 5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from bench import machine
from tools import grade, project, student

TIME_TESTS = """\
import glob, json, time
from otter.test_files import ExceptionTestFile
_seconds = {}
for _path in sorted(glob.glob("tests/*.py")):
    _start = time.perf_counter()
    ExceptionTestFile.from_file(_path).run(globals())
    _seconds[_path[6:-3]] = time.perf_counter() - _start
print(json.dumps(_seconds))
"""


def replay(submission: Path, folder: Path) -> dict:
    """Execute what otter executes, cell by cell, and time the kernel start, each cell and the tests."""
    folder.mkdir(parents=True)
    with zipfile.ZipFile(submission) as zf:
        zf.extractall(folder)
    with zipfile.ZipFile(project.AUTOGRADER_ZIP) as zf:
        for name in zf.namelist():
            if name.startswith("files/"):
                (folder / name[6:]).write_bytes(zf.read(name))
            elif name.startswith("tests/"):
                (folder / "tests").mkdir(exist_ok=True)
                (folder / name).write_bytes(zf.read(name))
    nb = nbformat.read(folder / project.NOTEBOOK_FILE, 4)
    nb.cells = [c for c in nb.cells if "otter_ignore" not in c.metadata.get("tags", [])]
    nb.cells.append(nbformat.v4.new_code_cell(TIME_TESTS))
    client = NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(folder)}}, allow_errors=True)
    start = time.perf_counter()
    cells = []
    with client.setup_kernel():
        kernel = time.perf_counter() - start
        for index, cell in enumerate(nb.cells):
            begin = time.perf_counter()
            client.execute_cell(cell, index)
            if cell.cell_type == "code":
                first = next(
                    (line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), ""
                )
                cells.append((time.perf_counter() - begin, first[:70]))
    tests_output = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return {"kernel": kernel, "cells": cells[:-1], "tests": json.loads(tests_output.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools bench grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="gradings to take the median of (default: 5)")
    args = parser.parse_args(argv)
    project.use_profile("offline")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        print("Running the filled-in notebook as a student would (training included) ...", flush=True)
        start = time.perf_counter()
        submission = student.runs_the_lab(scratch / "student", seed=project.BUILD_SEED).submission
        full = time.perf_counter() - start
        print(f"Grading it {args.runs} times with otter run ...", flush=True)
        gradings = []
        for i in range(args.runs):
            graded = grade.otter_run(submission, scratch / f"run{i}")
            if graded.status != "graded":
                raise SystemExit(f"otter run failed: {graded.log[-2000:]}")
            gradings.append(graded.seconds)
        parts = replay(submission, scratch / "replay")
    median = statistics.median(gradings)
    print(f"\nMachine: {machine()}\n")
    print("| | seconds |\n|---|---|")
    print(f"| whole notebook as a student runs it (training included) | {full:.1f} |")
    print(
        f"| `otter run` on its submission, median of {args.runs} ({', '.join(f'{g:.1f}' for g in gradings)}) | {median:.1f} |"
    )
    print(f"| ratio | {full / median:.1f}x |")
    print("\nWhere grading's seconds go (one replay of what otter executes):\n")
    print("| step | seconds |\n|---|---|")
    print(f"| kernel start | {parts['kernel']:.1f} |")
    for seconds, first in sorted(parts["cells"], reverse=True)[:8]:
        print(f"| cell `{first}` | {seconds:.1f} |")
    rest = sum(s for s, _ in sorted(parts["cells"], reverse=True)[8:])
    print(f"| the other {max(len(parts['cells']) - 8, 0)} cells | {rest:.1f} |")
    for question, seconds in parts["tests"].items():
        print(f"| tests of {question} | {seconds:.1f} |")
    accounted = parts["kernel"] + sum(s for s, _ in parts["cells"]) + sum(parts["tests"].values())
    print(
        f"| otter's own work (unpacking, its kernel's start and imports, results): median minus the above | {median - accounted:.1f} |"
    )
    return 0
