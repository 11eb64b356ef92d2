"""The verdict (lab5_verdict.py): results.json made in one place, graded or not; what a student sees
cleaned of hidden code; and, on the built autograder's own tests, what the results questions read and
what a failing test's message may quote."""

from __future__ import annotations

import json

import lab5_boundary as boundary
import lab5_facts as facts
import lab5_utils as lab
import lab5_verdict as verdict
import pytest
from lab5_boundary import Note, NoteKind
from lab5_intake import Upload

from tools import project

PROBE = """from otter.test_files import test_case
OK_FORMAT = False
name = '{name}'
points = None

@test_case(points=2, hidden=False)
def test_public(env):
    assert env.get('answer') == 42, 'answer is not 42'

@test_case(points=1, hidden=True)
def test_hidden(env):
    assert env.get('answer') == 42, 'the hidden check of the answer'
"""


@pytest.fixture
def suite(tmp_path) -> verdict.Suite:
    """A suite of two small questions, laid out as Gradescope's /autograder/source: no build needed."""
    source = tmp_path / "source"
    (source / "tests").mkdir(parents=True)
    (source / "otter_config.json").write_text(project.OTTER_CONFIG.read_text())
    for name in ("q1_probe", "q2_probe"):
        (source / "tests" / f"{name}.py").write_text(PROBE.format(name=name))
    return verdict.Suite.load(source)


def test_a_submission_not_graded_gets_every_case_at_zero_with_the_reason(suite):
    notes = [Note(NoteKind.MEMORY, "a cell ran out of memory"), Note(NoteKind.TRAIN, "training was skipped")]
    results = verdict.Outcome.not_graded("A cell never finished.", boundary.TIMED_OUT, notes).results(suite)
    assert results["score"] == 0 and [t["max_score"] for t in results["tests"]] == [3, 3]
    assert all(t["output"] == "A cell never finished." and t["visibility"] == "visible" for t in results["tests"])
    assert results["output"].startswith("Notes from grading:\n- a cell ran out of memory\n- training was skipped")
    extra = boundary.Extra.of(results)
    assert (extra.status, extra.reason) == (boundary.TIMED_OUT, "A cell never finished.")
    assert extra.flags == ["A cell never finished.", f"{verdict.FLAGGED[NoteKind.MEMORY]}: a cell ran out of memory"]
    assert set(extra.cases) == {"q1_probe - 1", "q1_probe - 2", "q2_probe - 1", "q2_probe - 2"}
    assert not any(case["passed"] or case["score"] for case in extra.cases.values())
    # a status that needs no look (the upload was not a notebook) is no flag
    assert boundary.Extra.of(verdict.Outcome.not_graded("no notebook").results(suite)).flags == []


def test_a_graded_submission_is_otters_results_with_the_graders_own_verdicts(suite, monkeypatch):
    grader = verdict.Grader.__new__(verdict.Grader)  # the suite alone: no answer key, no upload
    grader.test_files, grader.facts = suite.files, facts
    monkeypatch.setattr(verdict.Grader, "results_facts", lambda self, env: {"rejected": ["a reason"], "accuracies": {}})
    upload = Upload(code=["sitecustomize.py"])
    outcome = verdict.outcome(grader, upload, facts.FactsEnv({"answer": 41}), {"cases": {"q1_probe - 1": True}}, [])
    results = outcome.results(suite)
    scores = {t["name"]: t.get("score") for t in results["tests"]}
    assert scores["q1_probe"] == scores["q2_probe"] == 0
    extra = boundary.Extra.of(results)
    assert extra.cases["q1_probe - 1"] == {
        "passed": False,
        "score": 0,
        "max_score": 2,
        "message": extra.cases["q1_probe - 1"]["message"],
    }
    assert "answer is not 42" in extra.cases["q1_probe - 1"]["message"]
    assert extra.removed == {"code": ["sitecustomize.py"], "other": []}
    kinds = [note.kind for note in outcome.notes]
    assert kinds == [NoteKind.RESULTS_REJECTED, NoteKind.CHECKS_CHANGED]  # the kernel said q1_probe - 1 passed
    assert "a reason" not in results["output"] and any(
        f.startswith(verdict.FLAGGED[NoteKind.RESULTS_REJECTED]) for f in extra.flags
    )
    again = verdict.outcome(grader, upload, facts.FactsEnv({"answer": 42}), {}, []).results(suite)
    assert sum(t.get("score") or 0 for t in again["tests"]) == 6 and all(
        case["passed"] for case in boundary.Extra.of(again).cases.values()
    )


def test_what_a_student_sees_is_redacted_of_hidden_code(suite):
    secret = "assert answer == 'orange', 'quiz_q1 is not the expected answer'"
    results = {
        "output": f"Notes from grading:\n- {secret}",
        "tests": [
            {"name": "q8", "output": f"x {secret} y", "visibility": "visible"},
            {"name": "q8 hidden", "output": secret, "visibility": "hidden"},
        ],
    }
    cleaned, found = verdict.redacted(results, {secret})
    assert found == [secret] and secret not in cleaned["output"] and secret not in cleaned["tests"][0]["output"]
    assert cleaned["tests"][1]["output"] == secret  # never shown: left for the TA
    # through the one place results.json is made: the TA is flagged
    echoed = verdict.Outcome.not_graded(f"because {secret}").results(suite, {secret})
    assert secret not in json.dumps(echoed["tests"]) and secret not in echoed["output"]
    assert boundary.Extra.of(echoed).flags[-1].startswith(verdict.FLAGGED[NoteKind.REDACTED])


# --------------------------------------------------------------------------------------------
# On the built autograder's own tests
# --------------------------------------------------------------------------------------------


class Recording(facts.FactsEnv):
    """A notebook's facts that remember which names the tests looked up."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen = set()

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


def test_results_questions_read_nothing_of_the_notebook_but_its_accuracies(reference_run, built):
    """They can be graded from an upload and a notebook's accuracies alone (the corpus's results-only
    cases are), so their tests may look up no other variable of the notebook."""
    upload = (reference_run.folder / project.RESULTS_FILE).read_bytes()
    grader = verdict.Grader(built, upload)
    record = json.loads(upload)
    env = Recording({name: record[name] for name in lab.ACCURACIES})
    verdicts = grader.grade(env, verdict.RESULTS_QUESTIONS)
    assert all(v.passed for found in verdicts.values() for v in found.values()), verdicts
    assert env.seen and env.seen <= set(lab.ACCURACIES), env.seen
    # without the notebook's accuracies, the questions fail on them, not on the upload
    verdicts = grader.grade(facts.FactsEnv(), verdict.RESULTS_QUESTIONS)
    assert not all(v.passed for found in verdicts.values() for v in found.values())
    found = grader.results_facts(dict(env))
    assert found["rejected"] == [] and found["accuracies"]["acc_ft"] == pytest.approx(record["acc_ft"])


def test_a_test_reading_an_undeclared_fact_is_the_graders_fault_not_the_students(reference_run, built, tmp_path):
    """The build runs every test on the solution, so a test that reads what the facts do not carry never
    ships; should a student's notebook take a test down another path that does, the student loses the
    case with a message that says it is not their fault, and the TA is told what to declare."""
    from otter.test_files import ExceptionTestFile

    grader = verdict.Grader(built, (reference_run.folder / project.RESULTS_FILE).read_bytes())
    path = tmp_path / "q0_probe.py"
    path.write_text(
        "from otter.test_files import test_case\nOK_FORMAT = False\nname = 'q0_probe'\npoints = None\n\n"
        "@test_case(points=1, hidden=True)\ndef test_probe(env):\n    import lab5_checks as checks\n"
        "    tfidf = checks.require(env, 'tfidf')\n    assert tfidf.idf_ is not None\n"
    )
    built.files = grader.test_files = {"q0_probe": ExceptionTestFile.from_file(str(path))}
    env = facts.of(
        {
            "tfidf": __import__("sklearn.feature_extraction.text", fromlist=["x"])
            .TfidfVectorizer()
            .fit(["good day", "bad day"])
        },
        ["tfidf"],
    )
    graded, _, notes = verdict.judge(grader, env, {}, ("*",))
    case = boundary.Extra.of(verdict.Outcome(boundary.Extra(), graded, notes).results(built)).cases["q0_probe - 1"]
    assert not case["passed"] and verdict.GRADER_FAULT in case["message"] and "idf_" not in case["message"]
    assert [n.kind for n in notes] == ["grader fault"] and "declare it in lab5_facts.GRADED['tfidf']" in notes[0].flag


def test_hidden_test_messages_quote_no_code_public_ones_do(reference_run, built):
    grader = verdict.Grader(built, (reference_run.folder / project.RESULTS_FILE).read_bytes())
    env = facts.of({"quiz_q1": "blue", "quiz_q2": "blue", "quiz_q3": 3}, ["quiz_q1", "quiz_q2", "quiz_q3"])
    found = grader.grade(env, ("q8_quiz",))["q8_quiz"]
    public = next(v for name, v in found.items() if not v.passed and "Error at line" in v.message)
    assert (
        "quiz_q3 = 3: answer with one of the strings" in public.message
        and "checks.require(env, name)" not in public.message
    )
    hidden = [v.message for v in found.values() if not v.passed and "quiz_q1 is not the expected answer" in v.message]
    assert hidden and all("Error at line" not in m and "orange" not in m for m in hidden)


class Ended:
    """A student's side as the grader finds it once it has ended: its exit status and report folder."""

    def __init__(self, returncode: int, files: dict[str, bytes]):
        self.proc = type("Process", (), {"returncode": returncode})()
        self.files = files

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)


def test_the_ta_is_told_how_the_student_side_ended():
    import lab5_student_run as student_run

    taken = facts.header() + facts.line("quiz_q1", facts.take("quiz_q1", "orange", facts._Names({})))
    said = json.dumps({"passes": [{"error": "Kernel died"}, {"error": None}], "skipped": {"while True: ...": "ended"}})
    normal = Ended(0, {boundary.SIDE_FILE: said.encode()})
    env = facts.read(taken + facts.line("tok_fn", facts.not_taken("it hung")) + facts.end_line(taken=[]))
    found, notes = student_run.ending(normal, {"cases": {}}, env, 123)
    assert found["passes"] == 2 and found["skipped"] == {"while True: ...": "ended"} and found["facts"] == "complete"
    assert found["not_taken"] == {"tok_fn": "it hung"} and found["facts_bytes"] == 123
    assert [n.kind for n in notes] == [NoteKind.FACTS_NOT_TAKEN] and "tok_fn" in notes[0].message
    # otter killed after the notebook wrote a facts file of its own: graded from it, and flagged
    killed = Ended(-9, {})
    found, notes = student_run.ending(killed, {}, facts.read(taken + facts.end_line(taken=[])), 50)
    assert found["otter_exit"] == -9 and [n.kind for n in notes] == [NoteKind.SIDE_ENDED]
    assert "otter killed by signal 9" in notes[0].flag and "no verdicts from its kernel" in notes[0].flag
    # facts cut off before their end line: every graded name they lack is not gradable, with the reason
    env = verdict.notebook_facts(taken, "")
    assert env["quiz_q1"] == "orange" and "cut off" in env["acc_ft"].reason
    assert "the notebook's facts stop before their end" in student_run.ending(normal, {}, env, 9)[1][-1].flag
