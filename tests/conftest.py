"""Shared fixtures and checks: a fresh build, grading through the real `otter run`, a corpus case's
verdict, and what gradings may not leave on the machine."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

import tools.grade as grading
from tools import build, project, standin, student
from tools.autograder import Autograder
from tools.grade import Graded, grade_all
from tools.student import StudentRun

# Every kernel and otter process the tests start runs the lab offline, on the local TweetEval copy.
project.use_profile("offline")


from submissions.corpus import (  # noqa: E402
    CASES,
    ENVIRONMENT_TARGETS,
    ESCAPE_MARKER,
    LOOPBACK_PORT,
    POINTS,
    PUBLIC_CASES,
    group_env,
    make_group_submission,
    make_submission,
    submissions,
)

SUBMISSIONS = submissions()  # what the corpus grades through the whole autograder (corpus.GROUPS)


def need(condition: bool, what: str) -> None:
    """Skip where ``what`` is missing on a developer's machine; fail in CI, where nothing may be skipped."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test, and it needs {what}")
    pytest.skip(f"needs {what}")


def check_verdict(case, graded: Graded, others=(), questions=POINTS) -> None:
    """``graded`` is what corpus ``case`` must get: its status, points per question, what the student is
    told and what the TA's flags say (a right submission: no flag). ``others``: the cases graded in the
    same submission (corpus.GROUPS), whose questions are theirs to check; ``questions``: those checked.
    Whatever the case, no line of a hidden test or of the answer key is in what the student is shown."""
    assert graded.status == case.status, f"{case.why}: {graded.message}\n{graded.log[-3000:]}"
    theirs = {q for other in others for q in other.scores}
    got = {q: graded.score(q) for q in questions if q not in theirs or q in case.scores}
    want = {q: case.scores.get(q, POINTS[q]) for q in got}
    assert {q: graded.max_score(q) for q in questions} == {q: POINTS[q] for q in questions}
    assert got == want, f"{case.why}: failures {json.dumps(graded.failures(), indent=1)}"
    if case.message:  # what the student is shown: the tests' messages and the notes from grading
        shown = "\n".join([graded.message, graded.results.get("output") or "", *graded.failures().values()])
        assert case.message in shown, f"{case.why}: no message says {case.message!r}:\n{shown}"
    if case.before_training:  # the training cells run the setup questions' public checks first (ready_to_train)
        setup = {q for run in project.RUNS.values() for q in run.setup}
        stopped = [name for name in graded.failures() if PUBLIC_CASES.get(name) in setup]
        assert stopped, (
            f"{case.why}: no public check of {sorted(setup)} fails, so training would start: {graded.failures()}"
        )
    flags = "\n".join(graded.extra.flags)
    if case.flag:
        assert case.flag in flags, f"{case.why}: no flag for the TA says {case.flag!r}:\n{flags}"
    elif case.right and not any(other.flag or not other.right for other in others):
        assert not flags, f"{case.why}: a right submission is flagged:\n{flags}"
    seen = "\n".join(student_visible(graded.results))
    leaked = [line for line in secret_lines() if line in seen]
    assert not leaked, f"{case.why}: the student is shown lines of the hidden tests or the answer key: {leaked[:3]}"


def student_visible(results: dict) -> list[str]:
    """What Gradescope shows a student of ``results``: the output, and every test's output that is not hidden."""
    return [results.get("output") or ""] + [
        t.get("output") or "" for t in results.get("tests", []) if t.get("visibility") != "hidden"
    ]


@functools.cache
def secret_lines() -> frozenset[str]:
    """The lines of the built autograder's hidden tests and answer key that students never see."""
    import tempfile

    autograder = Autograder(project.AUTOGRADER_ZIP)
    with tempfile.TemporaryDirectory() as folder:
        source = autograder.lay_out(Path(folder)) / "source"
        return frozenset(autograder.module("lab5_verdict").Suite.load(source).secret_lines())


def grading_user_processes() -> list[str]:
    """The processes of the grading users (lab5-student, lab5-student1, ...) still running: none may
    outlive its grading (ask when no grading runs)."""
    import pwd

    import lab5_sandbox

    users = {u.pw_uid: u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(lab5_sandbox.GRADING_USER)}
    return [f"{name}: {pid}" for uid, name in users.items() for pid in lab5_sandbox.user_processes(uid)]


def escaped_files(work: Path) -> list[str]:
    """The files a corpus notebook wrote outside its folder that are still there: in the home folder, the
    machine's temporary folders, and every folder above ``work`` (where the gradings ran)."""
    places = {Path.home(), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), *work.parents, work}
    return sorted(str(p / f"{ESCAPE_MARKER}.txt") for p in places if (p / f"{ESCAPE_MARKER}.txt").exists())


def python_environment() -> dict[str, str]:
    """A digest of each module a corpus notebook tries to append to, and of sitecustomize.py if any."""
    import importlib.util
    import site

    paths = [Path(importlib.util.find_spec(name).origin) for name in ENVIRONMENT_TARGETS]
    paths += [Path(folder) / "sitecustomize.py" for folder in site.getsitepackages()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "" for p in paths}


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory) -> Path:
    """student/, autograder/, solutions/ as a build from the master makes them now: the one that
    `python3 -m tools build` made from the same inputs, or one made here (trains the reference model)."""
    reused = build.cached("offline")
    if reused is not None:
        return reused
    work = tmp_path_factory.mktemp("fresh-build") / "work"
    build.build("offline", work=work, out=work / "published")
    return work / "published"


@pytest.fixture(scope="session")
def build_run(fresh_build) -> dict:
    """The results file of the build's own run: a real run of another student (training seed
    project.BUILD_SEED) than the reference student's."""
    return json.loads((fresh_build.parent / "assignment" / project.RESULTS_FILE).read_text())


@pytest.fixture(scope="session")
def grade():
    return grading.otter_run


# The reference student's drawn training seed (the build's run is another student's, with BUILD_SEED).
REFERENCE_SEED = 42


@pytest.fixture(scope="session")
def standin_home():
    """The hub's stand-in (tools/standin.py): the full profile's model and data set in a hub cache."""
    return standin.lay_out()


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> StudentRun:
    """The student notebook filled in with the solution, saved, run top to bottom in a kernel (public
    checks, training, evaluation), then exported by its last cell: what a student hands in."""
    return student.runs_the_lab(tmp_path_factory.mktemp("reference") / "lab5", seed=REFERENCE_SEED)


# --------------------------------------------------------------------------------------------
# Gradings in the background: the corpus (test_corpus.py, test_review.py) and Gradescope's image
# (test_gradescope.py) take many minutes of gradings. They start once the reference student has trained,
# alone: torch's threads wait on each other when anything runs beside them (a training beside gradings
# took twice as long; on one thread beside them, almost three times). The tests that wait for them run last
# (pytest_collection_modifyitems), the others meanwhile.
# --------------------------------------------------------------------------------------------

WAIT_FOR_BACKGROUND = {"corpus_grades", "image_grades"}
# The gradings run at a lower priority than the session's own tests, and on a busy machine: their
# cells get more time than Gradescope's 60 s (the endless cases set their own).
GRADING_NICENESS = 5
BUSY_MACHINE_ENV = {"LAB5_CELL_LIMIT_S": "150"}


def pytest_collection_modifyitems(items):
    """The tests that wait for the background gradings last, in their order; the others first."""
    items.sort(key=lambda item: bool(WAIT_FOR_BACKGROUND & set(getattr(item, "fixturenames", ()))))


class Listener:
    """A server on the machine's loopback (corpus.LOOPBACK_PORT) that records what reaches it: the
    corpus's notebooks try to send to it at grading (right_cell_reaches_for_the_network)."""

    def __init__(self, port: int):
        import socket

        self.received: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.server.settimeout(0.5)
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, name="loopback listener", daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append(connection.recv(4096) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")


class Background:
    """Named jobs, each in a thread of its own at a lower priority (Linux: a thread's niceness is its
    own, and what it starts inherits it); ``result`` waits for one and gives back its value."""

    def __init__(self):
        self.threads, self.values = {}, {}
        self.listener: Listener | None = None

    def start(self, name: str, job) -> None:
        def run():
            os.nice(GRADING_NICENESS)
            try:
                self.values[name] = (True, job())
            except BaseException as e:  # noqa: BLE001 (raised again in the test that waits for it)
                self.values[name] = (False, e)

        self.threads[name] = threading.Thread(target=run, name=name, daemon=True)
        self.threads[name].start()

    def result(self, name: str):
        if name not in self.threads:
            raise RuntimeError(f"{name} was not started: no selected test needed it at the session's start")
        self.threads[name].join()
        ok, value = self.values[name]
        if not ok:
            raise value
        return value


@pytest.fixture(scope="session")
def sandbox_mode() -> str:
    """bubblewrap where it works; elsewhere (a developer's machine without it) no sandbox, and the cases
    that hold only in one are skipped."""
    import lab5_sandbox

    return "bubblewrap" if lab5_sandbox.bubblewrap_problem() is None else "none"


@pytest.fixture(scope="session", autouse=True)
def background(request, tmp_path_factory) -> Background:
    """Starts the corpus's gradings, and (as root) the image's, when a selected test needs them."""
    import gradescope_image as image

    jobs = Background()
    needed = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    if not needed & WAIT_FOR_BACKGROUND:
        return jobs
    build_run = request.getfixturevalue("build_run")
    environment = python_environment()  # before any notebook ran
    jobs.listener = Listener(LOOPBACK_PORT)
    request.getfixturevalue("reference_run")
    base = student.filled_in()
    if "corpus_grades" in needed:
        mode = request.getfixturevalue("sandbox_mode")
        corpus_folder = tmp_path_factory.mktemp("corpus")
        chosen = {
            name: group
            for name, group in SUBMISSIONS.items()
            if mode != "none" or not any(case.sandboxed for case in group)
        }
        # those with limits of their own first: the endless ones mostly wait, each in a slot of its own
        chosen = dict(sorted(chosen.items(), key=lambda item: not any(case.env for case in item[1])))

        def corpus():
            uploads = {
                name: make_group_submission(group, base, build_run, corpus_folder / "uploads" / f"{name}.zip")
                for name, group in chosen.items()
            }
            env = {name: {**BUSY_MACHINE_ENV, **group_env(group)} for name, group in chosen.items()}
            graded = grade_all(
                uploads,
                project.AUTOGRADER_ZIP,
                corpus_folder / "work",
                timeout=600,
                jobs=4,
                sandbox=mode,
                env=env,
                progress=False,
            )
            return graded, environment, corpus_folder

        jobs.start("corpus", corpus)
    if "image_grades" in needed and image.is_root():
        image_folder = tmp_path_factory.mktemp("gradescope")  # a name of its own: the jobs read theirs later
        jobs.start("image", lambda: image.grade_cases(image_folder, base, build_run, BUSY_MACHINE_ENV) + (environment,))
    return jobs


@pytest.fixture(scope="session")
def corpus_grades(background):
    """Each corpus submission (corpus.GROUPS, and every other case that is not results-only) as the TA
    command grades it, its notebook in a sandbox; the Python environment's digests from before; the folder."""
    return background.result("corpus")


@pytest.fixture(scope="session")
def image_grades(background):
    """Each of corpus.SUBMISSIONS_ON_THE_IMAGE as Gradescope's image grades it (gradescope_image.py), the
    folder, what the image's setup printed, the Python environment's digests from before."""
    import gradescope_image

    need(gradescope_image.is_root(), "root (Gradescope's image is set up and graded as root)")
    return background.result("image")


def notebook_answers(record, acc_bow: float):
    """What the reference notebook's facts hold at grading for an uploaded ``record``, of what the results
    questions read: its own baseline's acc_bow, and the accuracies its read-back cells take from the file
    (none where it holds no such run)."""
    import lab5_facts

    answers = {"acc_bow": acc_bow}
    if isinstance(record, dict) and record.get("lab") == "lab5":
        answers.update({key: record[key] for key in project.ACCURACIES[1:] if key in record})
    return lab5_facts.read(lab5_facts.extract(answers))


@pytest.fixture(scope="session")
def results_grades(reference_run, build_run, tmp_path_factory):
    """Each results-only corpus case graded in this process by the built autograder's own intake and
    verdict, on the reference notebook's facts (notebook_answers): no notebook runs."""
    autograder = Autograder(project.AUTOGRADER_ZIP)
    intake, verdict, lab = (autograder.module(name) for name in ("lab5_intake", "lab5_verdict", "lab5_utils"))
    folder = tmp_path_factory.mktemp("results-cases")
    suite = verdict.Suite.load(autograder.lay_out(folder) / "source")
    base = student.filled_in()
    record = json.loads((reference_run.folder / project.RESULTS_FILE).read_text())
    kept = lab.load_results, lab.training_seed  # the grader points the helper at each upload
    graded = {}
    try:
        for case in [case for case in CASES if case.results_only]:
            submission = folder / case.name / "submission"
            make_submission(case, base, record, submission / "upload.zip", build_run)
            upload = intake.take_upload(submission)
            grader = verdict.Grader(suite, upload.results)
            env = notebook_answers(lab.read_json(upload.results) if upload.results else None, record["acc_bow"])
            outcome = verdict.outcome(
                grader, upload, env, {}, intake.upload_notes(upload), questions=verdict.RESULTS_QUESTIONS
            )
            graded[case.name] = Graded(case.name, "graded", "", outcome.results(suite))
            shutil.rmtree(submission)
    finally:
        lab.load_results, lab.training_seed = kept
    return graded


@pytest.fixture(scope="session")
def reference_graded(reference_run, tmp_path_factory) -> Graded:
    """The reference student's exported zip graded through the autograder's entry point, in a sandbox."""
    import lab5_sandbox

    mode = "bubblewrap" if lab5_sandbox.bubblewrap_problem() is None else "none"
    return grading.grade(
        reference_run.submission, project.AUTOGRADER_ZIP, tmp_path_factory.mktemp("reference-graded"), sandbox=mode
    )


def built_suite(folder: Path, monkeypatch):
    """The built autograder's suite (its test files) laid out in ``folder``, and a grader's setup undone
    afterwards through ``monkeypatch`` (the grader makes the helper read the upload: lab.load_results,
    lab.training_seed)."""
    import lab5_utils as lab

    monkeypatch.setattr(lab, "load_results", lab.load_results)
    monkeypatch.setattr(lab, "training_seed", lab.training_seed)
    autograder = Autograder(project.AUTOGRADER_ZIP)
    return autograder.module("lab5_verdict").Suite.load(autograder.lay_out(folder) / "source")


@pytest.fixture
def built(tmp_path, monkeypatch):
    return built_suite(tmp_path, monkeypatch)
