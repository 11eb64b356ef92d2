"""The autograder's entry point: take the upload, run the notebook on the student's side, and grade
every question here, from the notebook's facts and the upload, within a time budget.

Gradescope's run_autograder (as root) and the TA command (tools/grade.py, as the TA) run

    python /autograder/source/files/lab5_autograder.py /autograder

docs/design.md, "The trust boundary". Grading is a function of the uploaded files. This process (root
on Gradescope) never runs the notebook's code; it only orchestrates, each step a module of its own:

1. the upload into memory, size-limited, the rest left out and said (lab5_intake.py); an upload that
   cannot be graded gets zero on every test case with a message that says what to upload instead;
2. what it grades with, loaded before any of the notebook's code runs: every test file, public and
   hidden, and the answer key's data and the uploaded lab5_results.json (lab5_verdict.Suite, .Grader);
3. the student's side, started first so that otter loads meanwhile (lab5_student_run.py): a workspace
   with the two uploaded files, the student's own helpers and the public tests, no hidden test and no
   answer key, as an unprivileged user or in a bubblewrap sandbox (lab5_sandbox.py), its kernel without
   network, within the time budget, a memory limit and a limit on what it writes;
4. once every process of that side has ended, what it handed back (the notebook's facts, its notes,
   the public tests' verdicts in its kernel), read as untrusted data (lab5_boundary.py names it all);
5. every test case, run here on the facts (lab5_facts.py) and the upload (lab5_verdict.py), with flags
   where the kernel found otherwise on a public test, changed the files it was given or rewrote the
   results file; the answer to the written question found in the notebook for the TA (lab5_written.py);
6. Gradescope's results.json, made in one place (lab5_verdict.Outcome), cleaned of any line of a hidden
   test or of the answer key in what the student sees.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import lab5_boundary as boundary
import lab5_intake as intake
import lab5_sandbox as sandbox
import lab5_student_run as student_run
import lab5_student_side as student_side
import lab5_utils as lab
import lab5_verdict as verdict
import lab5_written as written
from lab5_boundary import Note, NoteKind
from lab5_intake import Upload
from lab5_student_run import StudentSide
from lab5_verdict import Outcome


def grade(ag_dir: Path) -> dict:
    """Grade the upload in ``ag_dir``/submission; return Gradescope's results."""
    started = time.monotonic()
    box = sandbox.choose()
    suite = None  # the test files: loaded while the student's side starts, where there is one
    try:
        if box.user is not None:  # the grader's folders: the student's side has its own copies
            for sub in ("source", "submission", "results"):
                if (ag_dir / sub).is_dir():
                    os.chmod(ag_dir / sub, 0o700)
        upload = intake.take_upload(ag_dir / "submission")
        network = box.describe_network()
        if upload.problem:
            print(upload.problem)
            outcome = Outcome.not_graded(upload.problem)
        else:
            side = StudentSide(ag_dir, box)  # it imports otter while this process loads what it grades with
            try:
                suite = verdict.Suite.load(ag_dir / "source")
                outcome = _grade(ag_dir, suite, upload, side, started)
                network = side.network()
            finally:
                side.end()
        if upload.notebook is not None:  # the TA grades it by hand, whatever the autograder could grade
            outcome.extra.written = written.answer_in(upload.notebook, written.load())
        outcome.extra.sandbox = box.describe()
        outcome.extra.isolation = {
            "sandbox": box.describe(),
            "network": network,
            "memory": box.memory.describe(),
            "memory_peak": box.memory.peak(),
        }
    finally:
        box.clean_up()
    if box.survivors:  # cannot write the results (not theirs to write), but a TA should know
        outcome.extra.flags.append(
            f"{len(box.survivors)} process(es) of the grading user were still ending when the results were written"
        )
    suite = suite or verdict.Suite.load(ag_dir / "source")
    return outcome.results(suite, suite.secret_lines())  # whatever path the grading took


def _grade(ag_dir: Path, suite: verdict.Suite, upload: Upload, side: StudentSide, started: float) -> Outcome:
    notes = intake.upload_notes(upload)
    # the tests and the upload, read before any of the notebook's code runs
    grader = verdict.Grader(suite, upload.results)
    before = student_run.given_files(ag_dir)
    side.go(upload)
    grader.warming.start()
    stopped = side.wait(started)
    side.end()
    # also when nothing is graded: they say which cell ran out of memory
    notes += student_run.kernel_notes(side.read(boundary.NOTES_FILE))
    if stopped is None and side.box.memory.exceeded():
        stopped = boundary.STOPPED, student_run.memory_reason(side.box.memory, side.cell())
    if stopped:
        status, reason = stopped
        print(reason, flush=True)
        return Outcome.not_graded(reason, status, notes)

    data = side.read(boundary.KERNEL_FILE)
    kernel = lab.read_json(data) if data is not None else None
    kernel = kernel if isinstance(kernel, dict) else {}
    facts_data = side.read(boundary.FACTS_FILE)
    if facts_data is None:  # nothing of the notebook could be read: nothing to grade
        status, reason = student_run.no_facts(side, kernel)
        print(f"Grading stopped: {reason}")
        return Outcome.not_graded(reason, status, notes)

    notes += _rewritten(side, upload, before)
    env = verdict.notebook_facts(facts_data, "the notebook's last cell, which reads its variables, did not run")
    ending, said = student_run.ending(side, kernel, env, len(facts_data))
    grader.ready()
    outcome = verdict.outcome(grader, upload, env, kernel, notes + said)
    outcome.extra.student_side = ending
    return outcome


def _rewritten(side: StudentSide, upload: Upload, before: dict[str, str]) -> list[Note]:
    """Notes on what the notebook rewrote at grading: the results file, the files it was given."""
    notes = []
    if student_run.sha(side.results_file()) != student_run.sha(upload.results):
        graded = (
            f"the {lab.RESULTS_FILE} you submitted"
            if upload.results is not None
            else f"no {lab.RESULTS_FILE} (none was submitted)"
        )
        notes.append(
            Note(
                NoteKind.RESULTS_REWRITTEN,
                (
                    f"Your notebook wrote {lab.RESULTS_FILE} while it was graded. The autograder graded {graded}, not what the "
                    "notebook wrote: results come from your own run of sections 4 and 5, submitted with the notebook."
                ),
                "the uploaded one was graded" if upload.results is not None else "none was uploaded, none was graded",
            )
        )
    changed = student_run.changed_given_files(side.ws.box, before)
    if changed:
        notes.append(
            Note(
                NoteKind.GRADER_FILES_CHANGED,
                (
                    f"Your notebook changed or added files of the autograder while it was graded ({', '.join(changed[:6])}). "
                    "Every test was run by the autograder outside the notebook, with its own files."
                ),
                ", ".join(changed[:6]),
            )
        )
    return notes


def main(ag_dir: Path) -> int:
    student_side.keep_priority()
    try:
        results = grade(ag_dir)
    except Exception as e:  # a fault of the autograder itself: every case its zero, and the reason
        if isinstance(e, sandbox.SandboxError):
            print(f"Grading failed: no sandbox: {e}")
            reason = f"The autograder could not make a sandbox for the notebook ({e}); tell your instructor."
        else:
            message = f"{type(e).__name__}: {e}".strip()
            print(f"Grading failed: {message}")
            reason = f"The autograder failed on this submission ({message}); tell your instructor."
        results = Outcome.not_graded(reason, boundary.GRADER_ERROR).results(verdict.Suite.load(ag_dir / "source"))
    path = ag_dir / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    for test in results.get("tests", []):
        if "score" in test:
            print(f"{test['name']}: {test['score']:g} of {test['max_score']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder")))
