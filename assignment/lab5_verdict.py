"""The verdict: every test case, public and hidden, run in the grader's own process on a notebook's
facts and the upload, and Gradescope's results.json made from it in one place (:class:`Outcome`).

Shipped in the autograder zip only: the grader's side (docs/design.md, "Facts, not verdicts"). What
grades is loaded before any of the notebook's code runs: the test files once (:class:`Suite`), the
answer key's data, the uploaded lab5_results.json (:class:`Grader`). What the notebook's kernel found
of the public tests only tells the TA whether it changed its checks; no line of a hidden test or of the
answer key reaches a student (:func:`redacted`).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import lab5_answer_key as ref
import lab5_boundary as boundary
import lab5_checks as checks
import lab5_facts as facts
import lab5_grading_mode as mode
import lab5_utils as lab
from lab5_boundary import Extra, Note, NoteKind
from lab5_intake import Upload
from lab5_student_run import PUBLIC_TESTS, STUDENT_SIDE

FILES = Path(__file__).resolve().parent  # the autograder's own files
# The results questions: their tests read no more of the notebook than its accuracies
# (lab5_utils.ACCURACIES; a test checks this), so that they can be graded from an upload alone.
RESULTS_QUESTIONS = ("q5_results", "q7_scratch_results")
# What a TA should look at (the report's "needs a human look"), in a few words; the other notes only inform.
FLAGGED = {
    NoteKind.RESULTS_REJECTED: f"{lab.RESULTS_FILE} rejected",
    NoteKind.RESULTS_REWRITTEN: f"{lab.RESULTS_FILE} rewritten at grading",
    NoteKind.RESULTS_TOO_LARGE: f"{lab.RESULTS_FILE} not read",
    NoteKind.CELL_TIME_LIMIT: "a cell was stopped at grading",
    NoteKind.PROCESSES_ENDED: "a cell left processes running at grading",
    NoteKind.CODE_REMOVED: "code in the upload removed before grading",
    NoteKind.CHECKS_CHANGED: "the notebook changed the grader's checks",
    NoteKind.GRADER_FILES_CHANGED: "the notebook changed the autograder's files",
    NoteKind.MEMORY: "a cell ran out of memory at grading",
    NoteKind.KERNEL_DIED: "a cell ended the notebook's kernel at grading (graded again without it)",
    NoteKind.FACTS_NOT_TAKEN: "names whose facts could not be taken",
    NoteKind.SIDE_ENDED: "the student's side ended abnormally",
    NoteKind.REDACTED: "a message echoed the autograder's hidden code (removed)",
    NoteKind.GRADER_FAULT: "the autograder could not run a test (the lab's fault)",
}


@dataclass
class Suite:
    """The autograder's test files (public and hidden) and otter's configuration, loaded once from its
    ``source`` folder (/autograder/source): what every result, graded or not, is made against."""

    source: Path
    config: object  # otter's AutograderConfig
    files: dict  # question -> otter's ExceptionTestFile

    @classmethod
    def load(cls, source: Path) -> Suite:
        from otter.run.run_autograder.autograder_config import AutograderConfig
        from otter.test_files import ExceptionTestFile

        config = AutograderConfig(json.loads((source / "otter_config.json").read_text()))
        files = {}
        for path in sorted((source / "tests").glob("*.py")):
            test_file = ExceptionTestFile.from_file(str(path))
            files[test_file.name] = test_file
        return cls(source, config, files)

    def points(self) -> dict[str, dict[str, float]]:
        """Question -> {test case name: points}."""
        return {name: {case.name: case.points for case in f.test_cases} for name, f in self.files.items()}

    def secret_lines(self) -> set[str]:
        """The lines of the hidden tests and of the grader-only modules that the student's side never
        sees (the lines of what it does see left out): none may reach a student (:func:`redacted`)."""
        source = self.source
        secret = {
            line.strip()
            for path in [*sorted((source / "tests").glob("*.py")), source / "files" / "lab5_answer_key.py"]
            for line in path.read_text(encoding="utf-8").splitlines()
            if len(line.strip()) >= 24
        }
        seen = "\n".join(
            path.read_text(encoding="utf-8")
            for path in [
                *sorted((source / PUBLIC_TESTS).glob("*.py")),
                *(source / "files" / name for name in STUDENT_SIDE),
            ]
        )
        return {line for line in secret if line not in seen}


class Verdict(NamedTuple):
    """A test case as graded here: ``fault`` says why the grader could not run it (its own fault)."""

    passed: bool
    message: str
    fault: str = ""


GRADER_FAULT = (
    "The autograder could not run this test case on your notebook (a fault of the lab's tests, not of "
    "your work); your instructor has been told."
)


class Grader:
    """What grades, in this process: the autograder's modules, every test file (public and hidden), the
    answer key's data and the upload. The tests run here, on a notebook's facts (lab5_facts.py)."""

    def __init__(self, suite: Suite, upload: bytes | None):
        for module in (lab, facts, checks, ref, mode):
            if Path(module.__file__).resolve().parent != FILES:
                raise RuntimeError(
                    f"{module.__name__} was imported from {module.__file__}, not from the autograder's files"
                )
        self.lab, self.facts, self.checks, self.ref, self.mode = lab, facts, checks, ref, mode
        self.suite, self.upload = suite, upload
        self.test_files = suite.files
        mode.use_upload(upload)  # lab.load_results reads the upload, lab.training_seed its seed
        mode.use_recorded_seed()
        self.warming = threading.Thread(target=self._warm_up, name="answer key", daemon=True)
        self.warm_error: BaseException | None = None

    def _warm_up(self) -> None:
        try:
            self._warm()
        except BaseException as e:  # noqa: BLE001 (raised again where grading waits for it)
            self.warm_error = e

    def _warm(self) -> None:
        """The answer key's data (the true labels, the checkpoint's configuration, tokenizer and embeddings,
        the vocabulary of the true training texts) and whatever the tests import, loaded while the notebook
        runs (``warming``, started once the student's side has gone): the grading after it is quick."""
        subsets = self.ref.subsets()
        self.ref.checkpoint_config(), self.ref.pretrained_rows(), self.ref.token_ids(["a"])
        self.ref.vocabulary(subsets.train_texts), self.ref.terms(subsets.train_texts)
        from otter.test_files import GradingResults  # noqa: F401  (what grading imports)
        from otter.test_files.abstract_test import TestCaseResult  # noqa: F401

        self.grade(self.facts.FactsEnv())

    def ready(self) -> None:
        """Wait for what :meth:`_warm` loads (loading it here if it never started)."""
        if self.warming.ident is None:
            self._warm()
        self.warming.join()
        if self.warm_error is not None:  # the image lacks the data or the checkpoint: a fault of the grader's
            raise self.warm_error

    def grade(self, env, questions=RESULTS_QUESTIONS + ("*",)) -> dict[str, dict[str, Verdict]]:
        """Run the test cases of ``questions`` (all: "*") on ``env`` (a notebook's facts): question ->
        {test case: Verdict}; each test file keeps its results for Gradescope's."""
        from otter.test_files.abstract_test import TestCaseResult

        verdicts = {}
        for name, test_file in self.test_files.items():
            if "*" not in questions and name not in questions:
                continue
            found = {case.name: self.run_case(test_file, case, env) for case in test_file.test_cases}
            test_file.test_case_results = [
                TestCaseResult(test_case=case, message=found[case.name].message, passed=found[case.name].passed)
                for case in test_file.test_cases
            ]
            verdicts[name] = found
        return verdicts

    def run_case(self, test_file, case, env) -> Verdict:
        """One test case on ``env``: otter's message (the failing line of a public test, its exception);
        a hidden test's message never quotes its own code."""
        try:
            case.body.call_func(env)
            return Verdict(True, "✅ Test case passed")
        except self.facts.UndeclaredFact as e:
            return Verdict(False, f"❌ Test case failed\n{GRADER_FAULT}", str(e))
        except Exception as e:  # noqa: BLE001 (a failing test: its message is the verdict's)
            text = f"{type(e).__name__}: {str(e).strip(chr(39))}"
            line = None if case.hidden else failing_line(e, test_file)
            where = f"Error at line {line[0]} in test {test_file.name}:\n  {line[1]}\n" if line else ""
            return Verdict(False, f"❌ Test case failed\n{where}{text}")

    def results_facts(self, env) -> dict:
        """What the TA report shows of the graded results file: whether it was submitted, why it was
        rejected, the accuracies of its accepted runs on the true labels (and the notebook's acc_bow),
        the training seed it records, digests of each run's predictions and scores (which two
        students' runs never share: each has its own seed), and each run's predictions and scores
        themselves (``lab5_boundary.encode_run``: how much two students' runs agree tells a copy, tools/agreement.py)."""
        lab, ref = self.lab, self.ref
        facts = {
            "submitted": self.upload is not None,
            "rejected": [],
            "accuracies": {},
            "seed": None,
            "predictions": {},
            "scores": {},
        }
        bow = env.get("acc_bow")
        number = isinstance(bow, numbers.Real) and not isinstance(bow, bool) and math.isfinite(bow)
        facts["accuracies"]["acc_bow"] = float(bow) if number else None  # the notebook's, as question 2 graded it
        for run in lab.RUNS:
            facts["accuracies"][f"acc_{run}"] = None
            if self.upload is None:
                continue
            try:
                facts["accuracies"][f"acc_{run}"] = ref.accuracy(ref.results(run), run)
            except lab.ResultsError as e:
                facts["rejected"].append(e.reason)
        facts["rejected"] = list(dict.fromkeys(facts["rejected"]))
        record = lab.read_json(self.upload) if self.upload is not None else None
        if not isinstance(record, dict):
            return facts
        facts["seed"] = lab.recorded_seed(record)
        facts["runs"] = {}
        for run in lab.RUNS:
            for kind, key in (("predictions", f"{run}_preds"), ("scores", f"{run}_logits")):
                if isinstance(record.get(key), list) and record[key]:
                    facts[kind][run] = hashlib.sha256(json.dumps(record[key]).encode()).hexdigest()
            shaped = self.checks.predictions_shape(record, run, lab.get_profile().test_size) is None
            vectors = boundary.encode_run(record[f"{run}_preds"], record[f"{run}_logits"]) if shaped else None
            if vectors is not None:
                facts["runs"][run] = vectors
        return facts


def failing_line(error: Exception, test_file) -> tuple[int, str] | None:
    """The line of ``test_file`` where ``error`` was raised (or the call that raised it), and its text."""
    found = None
    for frame, number in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == test_file.path:
            found = number
    if found is None or not 0 < found <= len(test_file.source_lines):
        return None
    return found, test_file.source_lines[found - 1].strip()


def redacted(results: dict, secrets: set[str]) -> tuple[dict, list[str]]:
    """``results`` with every secret line taken out of what a student sees (the output, and every test's
    output that is not hidden); the lines found, for the TA."""
    found = []

    def clean(text):
        if not isinstance(text, str):
            return text
        for line in secrets:
            if line in text:
                found.append(line)
                text = text.replace(line, "[a line of the autograder's hidden code, removed]")
        return text

    results["output"] = clean(results.get("output"))
    for test in results.get("tests", []):
        if test.get("visibility") != "hidden":
            test["output"] = clean(test.get("output"))
    return results, sorted(set(found))


def notebook_facts(data: bytes | None, why_missing: str) -> facts.FactsEnv:
    """The tests' view of the notebook from its facts file; every graded name not gradable, with the
    reason, when the file is missing or does not read."""
    try:
        if data is None:
            raise facts.NotGradable(why_missing)
        env = facts.read(data)
    except facts.NotGradable as e:
        return facts.FactsEnv({name: facts.Unreadable(name, str(e)) for name in facts.GRADED})
    if env.end is None:  # cut off: a name not there may be one the notebook defines
        cut = "the notebook's facts were cut off before it (the processes that ran the notebook ended)"
        env.update({name: facts.Unreadable(name, cut) for name in facts.GRADED if name not in env})
    return env


@dataclass
class Outcome:
    """A submission's grade before it is written: what :meth:`results` makes Gradescope's results.json of,
    the one place that is made. ``graded``: the questions whose test files hold this submission's
    results (none: not graded, every case at zero with ``extra.reason``)."""

    extra: Extra
    graded: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @classmethod
    def not_graded(cls, reason: str, status: str = boundary.NOT_GRADABLE, notes: list[Note] = ()) -> Outcome:
        return cls(Extra(status=status, reason=reason), [], list(notes))

    def results(self, suite: Suite, secrets: set[str] = frozenset()) -> dict:
        """Gradescope's results.json: graded, as otter writes it (one entry per question, and its public
        tests' summary), else every question at zero, each saying why; the notes students are shown
        first in its output; ``secrets`` (Suite.secret_lines) out of all they see; ``extra_data`` for TAs."""
        from otter.test_files import GradingResults

        extra = Extra(**vars(self.extra))  # results() may be called again: this outcome stays as it is
        if self.graded:
            results = GradingResults([suite.files[name] for name in self.graded]).to_gradescope_dict(suite.config)
            extra.cases = {
                r.test_case.name: {
                    "passed": bool(r.passed),
                    "score": r.test_case.points if r.passed else 0,
                    "max_score": r.test_case.points,
                    "message": "" if r.passed else r.message,
                }
                for name in self.graded
                for r in suite.files[name].test_case_results
            }
        else:
            points = suite.points()
            results = {
                "score": 0,
                "output": extra.reason,
                "tests": [
                    {
                        "name": question,
                        "score": 0,
                        "max_score": sum(cases.values()),
                        "output": extra.reason,
                        "visibility": "visible",
                    }
                    for question, cases in points.items()
                ],
            }
            extra.cases = {
                name: {"passed": False, "score": 0, "max_score": case_points, "message": extra.reason}
                for cases in points.values()
                for name, case_points in cases.items()
            }
        notes = list(dict.fromkeys(self.notes))  # each note once, in the order it happened
        extra.notes = [note.message for note in notes if note.kind != NoteKind.RESULTS_REJECTED]
        if extra.notes:
            text = "Notes from grading:\n" + "\n".join(f"- {message}" for message in extra.notes)
            results["output"] = (text + "\n\n" + (results.get("output") or "")).strip()
        flags = [extra.reason] if extra.status in boundary.FLAGGED_STATUSES else []
        flags += [f"{FLAGGED[note.kind]}: {note.flag or note.message}" for note in notes if note.kind in FLAGGED]
        results, echoed = redacted(results, secrets)
        if echoed:
            flags.append(f"{FLAGGED[NoteKind.REDACTED]}: {len(echoed)} line(s), e.g. {echoed[0][:80]!r}")
        extra.flags = flags + extra.flags
        results["extra_data"] = extra.to_json()
        return results


def judge(grader: Grader, env, kernel: dict, questions=("*",)) -> tuple[list[str], dict, list[Note]]:
    """Run the test cases of ``questions`` on ``env`` (a notebook's facts): the questions graded, their
    verdicts, and the notes on where the kernel found otherwise on a public test and on test cases the
    grader could not run."""
    verdicts = grader.grade(env, questions)
    notes = []
    theirs = kernel.get("cases") if isinstance(kernel.get("cases"), dict) else {}
    differ = [
        (name, case, verdict)
        for name, found in verdicts.items()
        for case, verdict in found.items()
        if case in theirs and (theirs[case] is True) != verdict.passed
    ]
    if differ:
        listed = ", ".join(
            f"{case} ({'passed' if verdict.passed else 'failed'} here)" for _, case, verdict in differ[:4]
        )
        notes.append(
            Note(
                NoteKind.CHECKS_CHANGED,
                (
                    f"Every test is run by the autograder outside your notebook, on what your notebook's variables hold; "
                    f"inside your notebook {len(differ)} public test case(s) came out otherwise ({listed}): the notebook changed "
                    "the checks, or what they read, while it was graded. The autograder's verdicts count."
                ),
                f"{len(differ)} public test case(s) came out otherwise in the notebook's kernel: {listed}",
            )
        )
    faults = [verdict.fault for found in verdicts.values() for verdict in found.values() if verdict.fault]
    if faults:
        notes.append(Note(NoteKind.GRADER_FAULT, GRADER_FAULT, "; ".join(dict.fromkeys(faults))[:600]))
    return list(verdicts), verdicts, notes


def outcome(grader: Grader, upload: Upload, env, kernel: dict, notes: list[Note], questions=("*",)) -> Outcome:
    """The grade of a notebook's facts (``env``), with what its kernel reported of the public tests
    (``kernel``) and the upload, and the ``notes`` so far."""
    graded, _, found = judge(grader, env, kernel, questions)
    results_file = grader.results_facts(env)
    extra = Extra(results_file=results_file, removed={"code": upload.code, "other": upload.other})
    notes = notes + [Note(NoteKind.RESULTS_REJECTED, reason) for reason in results_file["rejected"]] + found
    return Outcome(extra, graded, notes)
