"""The corpus's language: a case, the submission it makes, and the edits that make it.

A case starts from student/lab5.ipynb with every blank filled in with the reference solution (as a
student who got everything right would: tools.notebooks.filled_in), plus the results file of one real
training run, and then changes one thing. It states the points it must get on each question that does
not get full points, and a piece of the message the failing test must show, so that a wrong submission
loses points on the question it breaks and is told why, and a right one loses nothing. The cases
themselves are in tests/submissions/cases.py; bench boundary makes its variants with it too.
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools import copies
from tools.autograder import Autograder
from tools.notebooks import code_cell_with, replace_in_code
from tools.project import AUTOGRADER_ZIP, NOTEBOOK_FILE, RESULTS_FILE


@dataclass
class Submission:
    """What a case edits: the notebook, the results record (None: not submitted), the zip's files."""

    notebook: nbformat.NotebookNode
    results: dict | None
    raw_notebook: bytes | None = None  # replaces the notebook file's bytes (e.g. broken JSON)
    zip_bytes: bytes | None = None  # replaces the whole upload (e.g. a damaged zip)
    # more files in the upload: path in the zip ("pkg/__init__.py") -> content
    extra_files: dict[str, bytes] = field(default_factory=dict)
    # the results file of another student's real run (with another training seed)
    other_run: dict | None = None
    # zip entries of this many zero bytes (a zip bomb: megabytes in the zip, gigabytes unpacked)
    zeros: dict[str, int] = field(default_factory=dict)


Edit = Callable[[Submission], None]


@dataclass
class Case:
    name: str
    why: str
    edits: list[Edit]
    # Expected score of each question that does not get full points (all others: full points).
    scores: dict[str, float] = field(default_factory=dict)
    # A piece of text the failure messages of the questions in ``scores`` must show.
    message: str = ""
    status: str = "graded"  # or "not gradable", "timed out"
    # A piece of text the TA's flags (extra_data of the results) must show.
    flag: str = ""
    # Environment of the grading (e.g. shorter time limits, so that the corpus stays quick).
    env: dict[str, str] = field(default_factory=dict)
    # Its verdict holds only where the notebook runs in a sandbox (lab5_sandbox.py).
    sandboxed: bool = False
    # Its fault is a setting that a training run would carry into its results (costing the points of q5 or q7 in a
    # real run): a public check of the setup questions must fail, as the training cells run them before training.
    before_training: bool = False
    # Also graded as on Gradescope's image: the image's setup and run_autograder, a root entry point,
    # the notebook as an unprivileged user without namespaces (tests/test_gradescope.py).
    gradescope: bool = False

    @property
    def right(self) -> bool:
        return not self.scores and self.status == "graded"

    @property
    def results_only(self) -> bool:
        """The case changes nothing but the uploaded results file: the notebook is the reference's, so that
        the entry point's results grader decides it alone (tests/test_corpus.py grades it in-process too)."""
        return bool(self.edits) and all(getattr(edit, "results_only", False) for edit in self.edits)


# --------------------------------------------------------------------------------------------
# Making submissions
# --------------------------------------------------------------------------------------------


def make_submission(
    case: Case, base: nbformat.NotebookNode, results: dict, dest: Path, other_run: dict | None = None
) -> Path:
    """Write ``case``'s submission zip (as the export cell makes it) to ``dest``. ``results`` is the
    record of a real run; ``other_run`` that of another student's (another training seed)."""
    sub = Submission(copy.deepcopy(base), copy.deepcopy(results), other_run=other_run)
    for edit in case.edits:
        edit(sub)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if sub.zip_bytes is not None:
        dest.write_bytes(sub.zip_bytes)
        return dest
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NOTEBOOK_FILE, sub.raw_notebook if sub.raw_notebook is not None else nbformat.writes(sub.notebook))
        if sub.results is not None:  # a string stands for a file that is not JSON at all
            zf.writestr(RESULTS_FILE, sub.results if isinstance(sub.results, str) else json.dumps(sub.results))
        for name, data in sub.extra_files.items():
            zf.writestr(name, data)
        chunk = bytes(2**24)
        for name, size in sub.zeros.items():
            with zf.open(name, "w", force_zip64=True) as f:
                for start in range(0, size, len(chunk)):
                    f.write(chunk[: min(len(chunk), size - start)])
    return dest


# --------------------------------------------------------------------------------------------
# Edits
# --------------------------------------------------------------------------------------------


def sub(old: str, new: str) -> Edit:
    """Replace ``old`` by ``new`` in the one code cell that contains it."""

    def edit(s: Submission) -> None:
        replace_in_code(s.notebook, old, new)

    return edit


def sub_all(old: str, new: str) -> Edit:
    """Replace ``old`` by ``new`` in every code cell that contains it."""

    def edit(s: Submission) -> None:
        cells = [c for c in s.notebook.cells if c.cell_type == "code" and old in c.source]
        assert cells, f"no code cell contains {old!r}"
        for cell in cells:
            cell.source = cell.source.replace(old, new)

    return edit


def sub_statement(first_line: str, new: str) -> Edit:
    """Replace the statement that starts with ``first_line`` and ends at the next line ``)``."""

    def edit(s: Submission) -> None:
        cell = code_cell_with(s.notebook, first_line)
        lines = cell.source.split("\n")
        start = lines.index(first_line)
        end = lines.index(")", start)
        cell.source = "\n".join(lines[:start] + new.split("\n") + lines[end + 1 :])

    return edit


def insert_after(text: str, source: str) -> Edit:
    """Add a code cell with ``source`` after the code cell that contains ``text``."""

    def edit(s: Submission) -> None:
        index = s.notebook.cells.index(code_cell_with(s.notebook, text))
        s.notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))

    return edit


def append_to(text: str, source: str) -> Edit:
    """Add ``source`` at the end of the code cell that contains ``text``."""

    def edit(s: Submission) -> None:
        cell = code_cell_with(s.notebook, text)
        cell.source = cell.source.rstrip("\n") + "\n" + source

    return edit


def strip_tags(s: Submission) -> None:
    """Every cell loses its metadata (tags included), as some editors and copy-paste do."""
    for cell in s.notebook.cells:
        cell.metadata = {}


def fresh_notebook(s: Submission) -> None:
    """The cells' sources copied into a new notebook: no cell or notebook metadata of otter's."""
    nb = nbformat.v4.new_notebook()
    for cell in s.notebook.cells:
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}.get(cell.cell_type)
        if make:
            nb.cells.append(make(cell.source))
    s.notebook = nb


def writes_results_at_grading(upload: Callable[[dict], None] | None = None) -> Edit:
    """A cell that writes the real results file while the notebook runs at grading. The submission
    holds no results file, or (with ``upload``) the real one changed by ``upload``."""

    def edit(s: Submission) -> None:
        source = f"import json\nwith open({RESULTS_FILE!r}, 'w') as f:\n    json.dump({json.dumps(s.results)}, f)"
        insert_after('quiz_q3 = "orange"', source)(s)
        if upload is None:
            s.results = None
        else:
            upload(s.results)

    return edit


def add_file(name: str, content: str | bytes) -> Edit:
    """One more file in the upload (``name`` may be in a folder: "lab5_utils/__init__.py")."""

    def edit(s: Submission) -> None:
        s.extra_files[name] = content.encode() if isinstance(content, str) else content

    return edit


def cell_with_real_results(source: str, after: str) -> Edit:
    """Add a cell after the code cell holding ``after`` that runs ``source``, in which ``REAL`` is the
    real results record as it was before the other edits of the case changed it (e.g. to fabricate
    the upload)."""

    def edit(s: Submission) -> None:
        insert_after(after, f"REAL = {json.dumps(s.results)!r}\n{source}")(s)

    return edit


def gold_labels() -> list[int]:
    """The test subset's true labels, as the autograder that grades the submissions knows them."""
    return list(Autograder(AUTOGRADER_ZIP).module("lab5_answer_key").subsets().test_labels)


def last_eval(r: dict, run: str = "ft") -> dict:
    return [e for e in r[f"{run}_log_history"] if "eval_accuracy" in e][-1]


def record_consistently(r: dict, run: str, preds: list[int], logits: list[list[float]]) -> None:
    """``run``'s predictions and scores, recorded as a real run would record them (tools.copies)."""
    copies.record_consistently(r, run, preds, logits, gold_labels())


def predictions_from_labels(r: dict, consistent: bool) -> None:
    """Predictions made from the true labels (every third one changed) instead of by a model; with
    ``consistent``, scores to match and the log's accuracy edited to agree with them."""
    gold = gold_labels()
    preds = [(y + 1) % 3 if i % 3 == 0 else y for i, y in enumerate(gold)]
    r["ft_preds"] = preds
    if consistent:
        r["ft_logits"] = [[2.0 if k == p else -1.0 for k in range(3)] for p in preds]
        accuracy = sum(p == y for p, y in zip(preds, gold)) / len(gold)
        last_eval(r)["eval_accuracy"] = accuracy
        r["ft_metrics"]["test_accuracy"] = r["acc_ft"] = accuracy


def fabricated(r: dict) -> None:
    """The fine-tuned run's predictions made from the true labels (every third one changed), with
    acc_ft their accuracy; scores and log left as the real run wrote them: only the run checks (the
    predictions are not the argmax of the scores, and they score other than the log says) catch it."""
    predictions_from_labels(r, consistent=False)
    gold = gold_labels()
    r["acc_ft"] = sum(p == y for p, y in zip(r["ft_preds"], gold)) / len(gold)


def one_class(r: dict) -> None:
    """A fine-tuned run that calls every test tweet neutral, recorded as a real run would record it:
    scores, predictions, predict's metrics and the last evaluation all agree with each other."""
    size = len(gold_labels())
    record_consistently(r, "ft", [1] * size, [[-1.0, 1.0, -0.5] for _ in range(size)])


def scores_at(run: str, accuracy: float) -> Callable[[dict], None]:
    """``run``'s predictions made to score ``accuracy`` (the true labels, the first ones changed), recorded
    as a real run records them: scores, predictions, predict's metrics, the last evaluation and
    acc_* agree; the class shares stay close to the test subset's."""

    def change(r: dict) -> None:
        gold = gold_labels()
        wrong = round(len(gold) * (1 - accuracy))
        preds = [(y + 1) % 3 if i < wrong else y for i, y in enumerate(gold)]
        record_consistently(r, run, preds, [[2.0 if k == p else -1.0 for k in range(3)] for p in preds])

    return change


def tied_by_rounding(run: str) -> Callable[[dict], None]:
    """Two of ``run``'s tweets whose two highest scores are equal in the file (a model that barely tells
    the classes apart has scores closer than the file's 5 decimals), the prediction the later class."""

    def change(r: dict) -> None:
        rows = [(row, p) for row, p in zip(r[f"{run}_logits"], r[f"{run}_preds"]) if p > 0][:2]
        for row, p in rows:
            row[0] = row[p]

    return change


def scale_log_steps(r: dict) -> None:
    """The log of a run twice as long (e.g. the full profile's 4,000 tweets) with this run's predictions."""
    for entry in r["ft_log_history"]:
        entry["step"] *= 2


def delete_answer_cells(s: Submission) -> None:
    s.notebook.cells = [c for c in s.notebook.cells if "otter_answer_cell" not in c.metadata.get("tags", [])]


def delete_all_cells(s: Submission) -> None:
    s.notebook.cells = []


def assignment_name(name: str) -> Edit:
    def edit(s: Submission) -> None:
        s.notebook.metadata["otter"]["assignment_name"] = name

    return edit


def results_only(edit: Edit) -> Edit:
    """Mark ``edit`` as changing nothing but the uploaded results file (see ``Case.results_only``)."""
    edit.results_only = True
    return edit


def results(change: Callable[[dict], None]) -> Edit:
    def edit(s: Submission) -> None:
        change(s.results)

    return results_only(edit)


def results_text(text: str) -> Edit:
    """The uploaded results file is ``text`` (e.g. not JSON at all)."""

    def edit(s: Submission) -> None:
        s.results = text

    return results_only(edit)


@results_only
def another_students_run(s: Submission) -> None:
    """The results file of another real run, trained with another student's training seed."""
    assert s.other_run is not None, "this case needs another student's run (make_submission's other_run)"
    s.results = copy.deepcopy(s.other_run)


@results_only
def no_results(s: Submission) -> None:
    s.results = None


def raw_notebook(data: bytes) -> Edit:
    def edit(s: Submission) -> None:
        s.raw_notebook = data

    return edit


def upload_bytes(data: bytes) -> Edit:
    def edit(s: Submission) -> None:
        s.zip_bytes = data

    return edit


def zip_bomb(name: str, size: int) -> Edit:
    """``name`` in the zip unpacks to ``size`` zero bytes (instead of what the case had there)."""

    def edit(s: Submission) -> None:
        if name == RESULTS_FILE:
            s.results = None
        s.zeros[name] = size

    return results_only(edit) if name == RESULTS_FILE else edit


def only_results_in_zip(s: Submission) -> None:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(RESULTS_FILE, json.dumps(s.results))
    s.zip_bytes = buffer.getvalue()
