"""The upload, as grading takes it: the notebook and lab5_results.json, each read into memory with a
size limit; everything else left out, and said.

Shipped in the autograder zip only: the grader's side (docs/design.md, "The upload, the results
questions, and grading mode"). A zip is read, never unpacked to disk; a folder is walked without
following a link. An upload that cannot be graded gets a ``problem`` that says what to upload instead;
what could be imported or run in place of the autograder's own files is listed as code, for the TA.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import lab5_utils as lab
from lab5_boundary import Note, NoteKind, size_text
from lab5_sandbox import TooLarge, read_back

FILES = Path(__file__).resolve().parent  # the autograder's own files
# The autograder's own modules, beside the master and in its files: an unchanged copy of one in the
# upload (a student's lab5_utils.py) is clutter; any other file of code is code. A test holds this list
# to the files that exist, so that every new module is covered (and its name in the corpus's shadowing case).
OWN_MODULES = (
    "lab5_answer_key.py",
    "lab5_autograder.py",
    "lab5_boundary.py",
    "lab5_checks.py",
    "lab5_facts.py",
    "lab5_grading_mode.py",
    "lab5_image_setup.py",
    "lab5_intake.py",
    "lab5_otter_plugin.py",
    "lab5_sandbox.py",
    "lab5_student_run.py",
    "lab5_student_side.py",
    "lab5_utils.py",
    "lab5_verdict.py",
    "lab5_written.py",
)
# What the upload may hold, unpacked: a notebook with its outputs is a few MB, a results file of this
# lab about 0.3 MB. Anything larger is not read.
NOTEBOOK_LIMIT = 64 * 2**20
RESULTS_LIMIT = 16 * 2**20
CODE_SUFFIXES = {".py", ".pyc", ".pyo", ".pyd", ".so", ".pth"}
# What operating systems and Jupyter put beside a notebook by themselves: never code of the student's.
CLUTTER = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", ".OTTER_LOG"}

NOTEBOOK_HINT = (
    "Upload the zip that the last cell of lab5.ipynb makes (or, from Colab, lab5.ipynb together "
    "with lab5_results.json)."
)


class _Entry(NamedTuple):
    """A file of the upload: its path (in the folder, or in a zip of it), its size, how to read it."""

    name: str
    size: int
    read: object  # (limit) -> bytes
    link: bool = False


@dataclass
class Upload:
    """What was handed in, as grading takes it: the notebook and the results file (bytes, or None),
    what was left out (code, and the rest), why it cannot be graded (``problem``), and notes."""

    notebook_name: str = ""
    notebook: bytes | None = None
    results: bytes | None = None
    code: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    problem: str | None = None
    notes: list[Note] = field(default_factory=list)


def _folder_entries(submission: Path) -> list[_Entry]:
    """The files of the submission folder (no link followed)."""
    entries = []
    for top, dirs, files in os.walk(submission, followlinks=False):
        for name in files + [d for d in dirs if (Path(top) / d).is_symlink()]:
            path = Path(top) / name
            rel = path.relative_to(submission).as_posix()
            if path.is_symlink():
                entries.append(_Entry(rel, 0, lambda limit: b"", link=True))
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            entries.append(_Entry(rel, size, lambda limit, p=path: read_back(p.parent, p.name, limit) or b""))
    return entries


def _zip_entries(archive: Path) -> list[_Entry]:
    """The files of a zip, read on demand (a member is never read past its limit; nothing is unpacked)."""
    zf = zipfile.ZipFile(archive)

    def read(info, limit):
        with zf.open(info) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(info.filename)
        return data

    return [
        _Entry(info.filename.lstrip("/"), info.file_size, lambda limit, i=info: read(i, limit))
        for info in zf.infolist()
        if not info.is_dir()
    ]


def _is_code(name: str, entries: list[_Entry]) -> bool:
    """Whether the top-level ``name`` (a file, or a folder of ``entries``) could be imported or run by
    Python, unless it is an unchanged copy of one of the autograder's own files (a student's lab5_utils.py)."""
    if name in CLUTTER:
        return False

    def code_like(rel: str) -> bool:
        path = Path(rel)
        return path.suffix in CODE_SUFFIXES or path.stem in ("sitecustomize", "usercustomize")

    if len(entries) == 1 and entries[0].name == name:  # a file
        entry = entries[0]
        if not code_like(name) or entry.link:
            return code_like(name)
        own = FILES / name
        if name in OWN_MODULES and own.is_file() and entry.size == own.stat().st_size:
            try:
                return entry.read(entry.size) != own.read_bytes()
            except Exception:  # noqa: BLE001 (a damaged member is not the autograder's file)
                return True
        return True
    return any(code_like(e.name) for e in entries)


def _listed(names: list[str], most: int = 12) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def take_upload(submission: Path) -> Upload:
    """Read the upload in ``submission`` (a folder, as Gradescope keeps it): its files, or, when it
    holds no notebook, the files of its zips (Gradescope may keep an uploaded zip whole)."""
    import nbformat

    upload = Upload()
    entries = _folder_entries(submission)
    unpacked, damaged = [], []
    if not any("/" not in e.name and e.name.endswith(".ipynb") and not e.link for e in entries):
        for entry in [e for e in entries if "/" not in e.name and e.name.lower().endswith(".zip") and not e.link]:
            try:
                entries += _zip_entries(submission / entry.name)
                unpacked.append(entry.name)
            except (zipfile.BadZipFile, OSError, ValueError):
                damaged.append(entry.name)
    entries = [e for e in entries if e.name not in unpacked]
    notebooks = sorted(e.name for e in entries if "/" not in e.name and e.name.endswith(".ipynb") and not e.link)
    if not notebooks:
        upload.problem = (
            f"The uploaded zip file is damaged and cannot be opened. {NOTEBOOK_HINT}"
            if damaged
            else f"The submission has no notebook (.ipynb file). {NOTEBOOK_HINT}"
        )
        return upload
    if len(notebooks) > 1:
        upload.problem = (
            f"The submission has {len(notebooks)} notebooks ({', '.join(notebooks)}); keep only lab5.ipynb."
        )
        return upload
    name = notebooks[0]
    entry = next(e for e in entries if e.name == name)
    if entry.size > NOTEBOOK_LIMIT:
        upload.problem = (
            f"{name} is {size_text(entry.size)}, more than the {size_text(NOTEBOOK_LIMIT)} a notebook of this lab "
            "may be: clear its outputs (Kernel > Restart Kernel and Clear Outputs), save, and export again."
        )
        return upload
    try:
        data = entry.read(NOTEBOOK_LIMIT)
        nbformat.validate(nbformat.reads(data.decode("utf-8"), as_version=4))
    except Exception as e:  # nbformat, json and zip raise several kinds for unreadable files
        text = str(e).strip()
        first_line = text.splitlines()[0] if text else type(e).__name__
        upload.problem = (
            f"{name} is not a readable Jupyter notebook ({first_line[:200]}). Open it in "
            f"Jupyter, save it, and submit again. {NOTEBOOK_HINT}"
        )
        return upload
    upload.notebook_name, upload.notebook = name, data

    results = next((e for e in entries if e.name == lab.RESULTS_FILE), None)
    if results is not None and not results.link:
        if results.size > RESULTS_LIMIT:
            upload.notes.append(
                Note(
                    NoteKind.RESULTS_TOO_LARGE,
                    (
                        f"The {lab.RESULTS_FILE} you submitted is {size_text(results.size)} unpacked; a results file of this lab is "
                        f"about 0.3 MB (at most {size_text(RESULTS_LIMIT)} is read). It was not read: questions 5 and 7 are graded "
                        f"as if none was submitted. Submit the {lab.RESULTS_FILE} that lab.save_results wrote."
                    ),
                    f"{lab.RESULTS_FILE} of {size_text(results.size)} not read",
                )
            )
        else:
            try:
                upload.results = results.read(RESULTS_LIMIT)
            except Exception:  # noqa: BLE001 (a damaged zip member: graded as not submitted)
                upload.notes.append(
                    Note(
                        NoteKind.RESULTS_TOO_LARGE,
                        (
                            f"The {lab.RESULTS_FILE} in your zip could not be unpacked (the zip is damaged): questions 5 and 7 are "
                            "graded as if none was submitted. Export the zip again."
                        ),
                        f"{lab.RESULTS_FILE} damaged in the zip",
                    )
                )

    tops: dict[str, list[_Entry]] = {}
    for e in entries:
        tops.setdefault(e.name.split("/", 1)[0], []).append(e)
    for top in sorted(tops):
        members = tops[top]
        is_file = len(members) == 1 and members[0].name == top
        if top == name or (top == lab.RESULTS_FILE and is_file and not members[0].link):
            continue
        shown = top + ("" if is_file else "/")
        if _is_code(top, members) and not (is_file and members[0].link):
            upload.code.append(shown)
        elif top not in (f"{Path(name).stem}.pdf", ".OTTER_LOG"):
            upload.other.append(shown)
    return upload


def upload_notes(upload: Upload) -> list[Note]:
    """What the student and the TA are told of the upload itself: what was left out, and why."""
    notes = list(upload.notes)
    if upload.code:
        notes.append(
            Note(
                NoteKind.CODE_REMOVED,
                (
                    f"Your upload held files that Python could run instead of the autograder's own ({_listed(upload.code)}); "
                    f"they were removed before grading. Only the notebook and {lab.RESULTS_FILE} are graded, with the "
                    "autograder's copy of lab5_utils.py."
                ),
                _listed(upload.code),
            )
        )
    if upload.other:
        notes.append(
            Note(
                NoteKind.REMOVED,
                f"Not used for grading (removed before your notebook ran): {_listed(upload.other)}. "
                f"Only the notebook and {lab.RESULTS_FILE} are graded.",
            )
        )
    return notes
