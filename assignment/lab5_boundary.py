"""What crosses a process boundary at grading: one home for each name two sides must agree on.

Shipped in the autograder zip, never to students; at grading also on the student's side, which holds
no test and no answer (docs/design.md, "The trust boundary"). Three boundaries:

- the TA command (tools/grade.py) or Gradescope -> the entry point: the environment variables that
  set grading's limits;
- the grader <-> the student's side: the environment it is started with, the files of its report
  folder (what it hands back, each read with its size limit), the kinds of grading notes;
- the entry point -> the TA's tools: Gradescope's ``extra_data`` (one builder, one reader), the
  statuses of a submission, each run's test predictions and scores (encoded here, decoded here).
"""

from __future__ import annotations

import enum
import os
from dataclasses import asdict, dataclass, field, fields
from typing import NamedTuple

# --------------------------------------------------------------------------------------------
# Limits, and the environment variables that set them
# --------------------------------------------------------------------------------------------

BUDGET_ENV = "LAB5_GRADING_BUDGET_S"  # the whole submission, seconds (the TA command passes its --timeout)
CELL_LIMIT_ENV = "LAB5_CELL_LIMIT_S"  # one cell of the notebook, seconds
SANDBOX_ENV = "LAB5_SANDBOX"  # how the student's side runs: auto (default), bubblewrap, user or none
GRADING_USER_ENV = "LAB5_GRADING_USER"  # the user it runs as
MEMORY_ENV = "LAB5_MEMORY"  # how its memory is limited: auto (default), cgroup or address-space
MEMORY_LIMIT_ENV = "LAB5_MEMORY_LIMIT"  # bytes, all its processes together (a memory cgroup)
ADDRESS_SPACE_LIMIT_ENV = "LAB5_ADDRESS_SPACE_LIMIT"  # bytes, each of its processes (where no cgroup can be made)
WRITE_LIMIT_ENV = "LAB5_WRITE_LIMIT"  # bytes written to disk, all together


def _setting(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


CELL_LIMIT_S = _setting(CELL_LIMIT_ENV, 60)
BUDGET_S = _setting(BUDGET_ENV, 300)  # Gradescope's own default limit is 600 s: a reason before it ends grading
# Memory of the student's side (docs/performance.md, "Memory at grading": an honest grading's peak, with
# room for a cell that forks up to the process limit). The TA command lowers it to the machine's memory
# shared by the gradings it runs at once.
MEMORY_LIMIT = int(_setting(MEMORY_LIMIT_ENV, 6 * 2**30))
ADDRESS_SPACE_LIMIT = int(_setting(ADDRESS_SPACE_LIMIT_ENV, 8 * 2**30))
WRITE_LIMIT = int(_setting(WRITE_LIMIT_ENV, 2**30))


def size_text(n: int) -> str:
    """A size as a message says it."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


# --------------------------------------------------------------------------------------------
# The grader <-> the student's side
# --------------------------------------------------------------------------------------------

# What the grader sets in the student's side's environment
REPORT_ENV = "LAB5_GRADING_DIR"  # its report folder
ADDRESS_SPACE_ENV = (
    "LAB5_ADDRESS_SPACE"  # bytes: the address-space limit it sets itself, where the grader has no cgroup
)
ISOLATED_ENV = "LAB5_ISOLATED"  # "1": every process of the kernel's user is this grading's (a sandbox)
SKIPPED_ENV = "LAB5_SKIPPED_CELLS"  # JSON list: the notebook's cells run again without (lab5_student_side)
CELL_KEY = "lab5_cell"  # cell metadata the plugin adds: the notebook's index of a cell, or FACTS_CELL_KEY
FACTS_CELL_KEY = "facts"

# The report folder: what the student's side hands back, and the most of each the grader reads
FACTS_FILE = "facts.json"  # the notebook's facts (lab5_facts.py)
KERNEL_FILE = "kernel.json"  # the public tests' verdicts as its kernel found them, or otter's error
NOTES_FILE = "notes.jsonl"  # grading notes, one JSON object per line (NoteKind)
CELL_FILE = "cell.txt"  # the first line of the cell running now
NETWORK_FILE = "network.txt"  # what the kernel's launcher says of its network filter
SIDE_FILE = "side.json"  # how the otter process ended: its passes over the notebook, the cells it skipped
REPORT_LIMITS = {
    FACTS_FILE: 16 * 2**20,
    KERNEL_FILE: 2**20,
    NOTES_FILE: 2**18,
    CELL_FILE: 2**10,
    NETWORK_FILE: 2**10,
    SIDE_FILE: 2**16,
}


class NoteKind(str, enum.Enum):
    """What a grading note says happened: the kernel's (lab5_grading_mode.py) and the grader's."""

    TRAIN = "train"  # Trainer.train/evaluate/predict called at grading
    EVALUATE = "evaluate"
    PREDICT = "predict"
    SAVED = "saved"  # lab.save_results called at grading
    CELL_TIME_LIMIT = "cell time limit"
    PROCESSES_ENDED = "processes ended"
    RESULTS_TOO_LARGE = "results too large"
    RESULTS_REJECTED = "results rejected"  # its failing tests explain it: not shown as a note
    RESULTS_REWRITTEN = "results rewritten"
    CODE_REMOVED = "code removed"
    REMOVED = "removed"
    CHECKS_CHANGED = "checks changed"
    GRADER_FILES_CHANGED = "grader files changed"
    MEMORY = "memory"  # a cell ran out of memory at grading
    KERNEL_DIED = "kernel died"  # a cell ended the notebook's kernel: graded again without it
    FACTS_NOT_TAKEN = "facts not taken"  # names whose facts could not be taken (hung, raised, cut off)
    SIDE_ENDED = "side ended"  # the student's side ended abnormally (killed, no verdicts, facts cut off)
    REDACTED = "redacted"  # a message shown to the student echoed the grader's hidden code
    GRADER_FAULT = "grader fault"  # a test read what the facts do not carry


class Note(NamedTuple):
    """Something that happened at grading: ``message`` tells the student (shown unless its kind is
    RESULTS_REJECTED, which the failing tests explain); ``flag``, if the kind is in FLAGGED, tells the
    TA in a few words (default: the message)."""

    kind: NoteKind | str  # a string: a kind the kernel reported that this lab does not know
    message: str
    flag: str = ""


KINDS = {kind.value for kind in NoteKind}


def note_kind(text: str) -> NoteKind | str:
    """A note's kind as the student's side wrote it: one this lab knows, else the text (untrusted)."""
    return NoteKind(text) if text in KINDS else text


# --------------------------------------------------------------------------------------------
# The entry point -> the TA's tools
# --------------------------------------------------------------------------------------------

# A submission's status: graded, or why it was not
GRADED, NOT_GRADABLE, TIMED_OUT, STOPPED, GRADER_ERROR = (
    "graded",
    "not gradable",
    "timed out",
    "stopped",
    "grader error",
)
FLAGGED_STATUSES = (TIMED_OUT, STOPPED)  # not graded in full, for a reason a TA should look at


@dataclass
class Extra:
    """Gradescope's ``extra_data`` as the entry point writes it: for TAs, never shown to students."""

    status: str = GRADED
    reason: str = ""  # why it was not graded ("" when it was)
    cases: dict = field(default_factory=dict)  # test case -> {"passed", "score", "max_score", "message"}
    flags: list = field(default_factory=list)  # what a TA should look at, a line each
    notes: list = field(default_factory=list)  # the grading notes the student was shown
    results_file: dict = field(default_factory=dict)  # the graded lab5_results.json (lab5_verdict.results_facts)
    removed: dict = field(default_factory=dict)  # {"code": [...], "other": [...]}: left out of the upload
    written: str | None = None  # the answer to the written question, as the notebook holds it (lab5_written.py)
    sandbox: str = ""  # how the notebook ran
    isolation: dict = field(default_factory=dict)  # {"sandbox", "network", "memory", "memory_peak"}
    # how the student's side ended: {"otter_exit", "passes", "skipped", "facts", "not_taken"} (lab5_autograder)
    student_side: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    def runs(self) -> dict:
        """Run -> (predictions, scores) of the graded results file's runs (:func:`decode_run`), where they decode."""
        carried = self.results_file.get("runs")
        decoded = {run: decode_run(vectors) for run, vectors in (carried.items() if isinstance(carried, dict) else ())}
        return {run: value for run, value in decoded.items() if value is not None}

    @classmethod
    def of(cls, results: dict) -> Extra:
        """The ``extra_data`` of a results.json (read as data: a key of the wrong type is left at its default)."""
        data = results.get("extra_data") if isinstance(results, dict) else None
        data = data if isinstance(data, dict) else {}
        found = cls()
        for f in fields(cls):
            value, default = data.get(f.name), getattr(found, f.name)
            if isinstance(value, str if default is None else type(default)):  # None: a text, or nothing
                setattr(found, f.name, value)
        return found


def encode_run(predictions: list[int], scores: list[list[float]]) -> dict | None:
    """A run's test predictions and scores, compact, for the TA report's comparison of students' runs
    (tools/agreement.py): the predictions as one digit per tweet, the scores as little-endian float32 in
    base64. None when a score does not fit a float32."""
    import base64
    import struct

    if any(abs(v) >= 1e30 for row in scores for v in row):
        return None
    packed = struct.pack(f"<{3 * len(predictions)}f", *(float(v) for row in scores for v in row))
    return {"predictions": "".join(map(str, predictions)), "scores": base64.b64encode(packed).decode()}


def decode_run(vectors):
    """(predictions, scores) as numpy arrays (int8 of n, float32 of n x 3) from :func:`encode_run`'s
    form, or None when ``vectors`` is not one."""
    import base64

    import numpy as np

    try:
        predictions = np.frombuffer(vectors["predictions"].encode("ascii"), dtype=np.uint8) - ord("0")
        scores = np.frombuffer(base64.b64decode(vectors["scores"], validate=True), dtype="<f4").reshape(-1, 3)
    except (KeyError, TypeError, AttributeError, ValueError, UnicodeError):
        return None
    if len(predictions) != len(scores) or not len(scores) or predictions.max() > 2:
        return None
    return predictions.astype(np.int8), scores.astype(np.float32)
