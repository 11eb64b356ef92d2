"""The one door to the lab's modules and to a built autograder, for the tools, the tests and the benchmarks.

- :func:`checkout_module`: a module of the checkout's ``assignment/``, loaded under its own name with the
  lab modules it imports, from the same folder.
- :class:`Autograder`: a built autograder zip: its modules (read from the zip itself), its test files
  and their points, the build's run, its calibration, Gradescope's folder tree with an upload in it, and
  the result of a submission it did not grade.

Neither goes through ``sys.path``: a module is found in the one place it is asked from, and one process
holds one copy of each lab module. A second source with other bytes (the checkout and an older zip) is
refused with a message, never mixed: the TA command takes every fact of the lab from the zip it grades with.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import shutil
import sys
import zipfile
import zipimport
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignment"
FILES = "files"  # where the zip keeps the autograder's own files (Gradescope's /autograder/source/files)
BUILD_RUN = "lab5_build_run.json"  # the build's own run (tools/build.py writes it): its accuracies


class DifferentSource(RuntimeError):
    """A lab module is already loaded from elsewhere, with other bytes."""


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the lab's modules (lab5_*) in one place only: a folder, or a zip's folder."""

    def __init__(self, where: str, find, read):
        self.where, self._find, self.read = where, find, read

    def find_spec(self, name, path=None, target=None):
        return self._find(name) if name.startswith("lab5_") and path is None else None


def _load(finder: _Finder, name: str):
    """``name`` and the lab modules it imports, found by ``finder``; refused where one is loaded with other bytes."""
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module(name)
    finally:
        sys.meta_path.remove(finder)
    for loaded in [m for n, m in list(sys.modules.items()) if n.startswith("lab5_")]:
        mine = finder.read(loaded.__name__)
        if mine is not None and _source(loaded) != mine:
            raise DifferentSource(
                f"{loaded.__name__} is loaded from {loaded.__file__}, whose bytes differ from "
                f"{finder.where}'s: one process works with one copy of the lab (run it on its own)"
            )
    return module


def _source(module) -> bytes | None:
    loader = getattr(module, "__loader__", None)
    try:
        return loader.get_data(module.__file__) if loader is not None and hasattr(loader, "get_data") else None
    except OSError:
        return None


def checkout_module(name: str):
    """The checkout's ``assignment/<name>.py`` (e.g. lab5_utils), with the lab modules it imports."""

    def find(module):
        path = ASSIGNMENT / f"{module}.py"
        return importlib.util.spec_from_file_location(module, path) if path.is_file() else None

    def read(module):
        path = ASSIGNMENT / f"{module}.py"
        return path.read_bytes() if path.is_file() else None

    return _load(_Finder(str(ASSIGNMENT), find, read), name)


def checkout_names():
    """The checkout's lab5_utils under a name of its own (``checkout_lab5_utils``), for the names it owns
    (the lab's files, runs, accuracies, environment variables) in the build, the tests and the benchmarks:
    it imports no lab module at import, and a TA process that holds it may still load its zip's own."""
    name = "checkout_lab5_utils"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ASSIGNMENT / "lab5_utils.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


class Autograder:
    """A built autograder zip (``python3 -m tools build`` writes autograder/lab5-autograder.zip)."""

    def __init__(self, zip_path: Path):
        self.path = Path(zip_path)
        with zipfile.ZipFile(self.path) as zf:
            self.names = set(zf.namelist())

    def read(self, name: str) -> bytes | None:
        """A file of the zip (None: it has none)."""
        if name not in self.names:
            return None
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(name)

    def module(self, name: str):
        """The zip's ``files/<name>.py``, read from the zip itself, with the lab modules it imports."""
        importer = zipimport.zipimporter(f"{self.path}/{FILES}/")

        def find(module):
            return importer.find_spec(module) if f"{FILES}/{module}.py" in self.names else None

        return _load(_Finder(str(self.path), find, lambda module: self.read(f"{FILES}/{module}.py")), name)

    def test_files(self) -> list:
        """The test files of every autograded question (otter's ExceptionTestFile), public and hidden."""
        from otter.test_files import ExceptionTestFile

        return [
            ExceptionTestFile.from_string(self.read(name).decode(), path=name)
            for name in sorted(self.names)
            if name.startswith("tests/") and name.endswith(".py")
        ]

    def points(self) -> dict[str, dict[str, float]]:
        """Question -> {test case: points}, as the test files define them."""
        return {f.name: {case.name: case.points for case in f.test_cases} for f in self.test_files()}

    def build_run(self) -> dict | None:
        """The build's own run (its profile, seed and accuracies), None when the zip carries none."""
        data = self.read(f"{FILES}/{BUILD_RUN}")
        return json.loads(data) if data is not None else None

    def calibration(self, profile: str) -> dict | None:
        """The calibration of ``profile`` that the zip carries (None: it carries none)."""
        data = self.read(f"{FILES}/{self.module('lab5_answer_key').CALIBRATION_FILE.format(profile=profile)}")
        return json.loads(data) if data is not None else None

    def written_question(self):
        """The written question the zip carries (its lab5_written.Question, read from the master by the build)."""
        module = self.module("lab5_written")
        return module.Question(**json.loads(self.read(f"{FILES}/{module.QUESTION_FILE}")))

    def lay_out(self, workdir: Path) -> Path:
        """Gradescope's folder tree in ``workdir``: /autograder/source (the zip), an empty submission and
        results folder; returns the /autograder folder."""
        ag_dir = workdir / "autograder"
        shutil.rmtree(ag_dir, ignore_errors=True)
        for sub in ("source", "submission", "results"):
            (ag_dir / sub).mkdir(parents=True)
        (ag_dir / "submission_metadata.json").write_text("{}")
        with zipfile.ZipFile(self.path) as zf:
            zf.extractall(ag_dir / "source")
        return ag_dir

    def not_graded(self, ag_dir: Path, reason: str, status: str) -> dict:
        """The results.json of a submission in ``ag_dir`` (lay_out) that the zip's entry point did not grade:
        every question at zero, with ``reason``, as the entry point writes it (lab5_verdict.Outcome)."""
        verdict = self.module("lab5_verdict")
        return verdict.Outcome.not_graded(reason, status).results(verdict.Suite.load(ag_dir / "source"))
