"""Grade submissions the way Gradescope does, on this machine, with a time limit each.

    python3 -m tools grade SUBMISSIONS [--autograder ZIP] [--out DIR] [--timeout S] [--jobs N] [--no-sandbox]

SUBMISSIONS is a folder of submission zips (as the notebook's last cell exports them) and/or
notebooks, or a Gradescope export (its zip, or the folder it unpacks to, with one folder per
submission and submission_metadata.yml). Writes DIR/scores.csv and DIR/report.html (tools/report.py);
the written question's points a TA entered in an earlier DIR/scores.csv are kept (a line says how many).

Each submission goes into a fresh copy of Gradescope's folder tree (/autograder/source from the
autograder zip, /autograder/submission with the upload as it is: a zip stays a zip, /autograder/results),
and the autograder zip's own entry point grades it: lab5_autograder.py, which takes the upload, runs
otter on the student's side within its time budget and runs every test itself on the notebook's facts. The limit here is a second guard (for an
autograder zip without one): a run that exceeds it is stopped, kernel and all, and becomes a "timed
out" result with zeros and the same reason.

Each notebook runs in a sandbox that the entry point makes with bubblewrap (lab5_sandbox.py): no
network, the system and the Python environment read-only, no access to the TA's home folder or to
the other submissions, its own processes ending with it, a memory limit (grade_all shares the
machine's memory out among the gradings it runs at once); as another user when the command runs as
root. Where no sandbox can be made (no bubblewrap, macOS), the command says so and grades only with
--no-sandbox, the notebooks then running with the TA's own rights; the report says which way.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.autograder import Autograder

ENTRY = Path("source") / "files" / "lab5_autograder.py"
GRADESCOPE_METADATA = "submission_metadata.yml"


@dataclass
class Graded:
    submission: str
    status: str  # lab5_boundary's: graded, not gradable, timed out, stopped or grader error
    message: str
    results: dict = field(default_factory=dict)
    seconds: float = 0.0
    log: str = ""
    upload: Path | None = None  # what was handed in (a zip, a notebook, a Gradescope submission folder)
    autograder: Autograder | None = None  # the zip that graded it (None: the project's own)

    @classmethod
    def of(cls, submission: str, results: dict, autograder: Autograder, **fields) -> Graded:
        """A submission as the entry point of ``autograder`` reported it in ``results`` (its status and reason)."""
        extra = autograder.module("lab5_boundary").Extra.of(results)
        return cls(submission, extra.status, extra.reason, results, autograder=autograder, **fields)

    @property
    def graded(self) -> bool:
        """Whether its entry point graded it (lab5_boundary.GRADED), rather than saying why not."""
        return self.status == self._boundary.GRADED

    @functools.cached_property
    def _boundary(self):
        from tools import project

        return (self.autograder or Autograder(project.AUTOGRADER_ZIP)).module("lab5_boundary")

    @functools.cached_property
    def extra(self):
        """What the autograder's entry point tells graders: Gradescope's extra_data, as its own
        lab5_boundary reads it (Extra)."""
        return self._boundary.Extra.of(self.results)

    @property
    def cases(self) -> dict[str, dict]:
        """Test case name ("q2_baseline - 3") -> {"passed", "score", "max_score", "message"}."""
        return self.extra.cases

    @property
    def tests(self) -> dict[str, dict]:
        """Gradescope's entries, one per question (and otter's "Public Tests" summary)."""
        return {t["name"]: t for t in self.results.get("tests", [])}

    def score(self, prefix: str = "") -> float:
        """Points of the questions whose name starts with ``prefix`` (one question, or all)."""
        return round(sum(t.get("score", 0) or 0 for n, t in self.tests.items() if n.startswith(prefix)), 6)

    def max_score(self, prefix: str = "") -> float:
        return round(sum(t.get("max_score", 0) or 0 for n, t in self.tests.items() if n.startswith(prefix)), 6)

    def failures(self, prefix: str = "") -> dict[str, str]:
        """Test case name -> its message, for the test cases that failed."""
        return {n: c["message"] for n, c in self.cases.items() if n.startswith(prefix) and not c["passed"]}


def otter_run(submission: Path, workdir: Path, autograder: Path | None = None) -> Graded:
    """Grade ``submission`` with plain ``otter run`` (a real kernel, no entry point, no sandbox) and read
    its results.json: the status is "graded" when otter exits 0, its output is the log, ``seconds`` how
    long it took."""
    from tools import project

    out = workdir / "otter-run"
    shutil.rmtree(out, ignore_errors=True)  # otter may leave an older results.json on failure
    out.mkdir(parents=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "otter",
            "run",
            "-a",
            str(autograder or project.AUTOGRADER_ZIP),
            "-o",
            str(out),
            str(submission),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    status = "graded" if proc.returncode == 0 else f"otter run exited {proc.returncode}"
    return Graded(submission.name, status, "", results, seconds=seconds, log=proc.stdout + proc.stderr)


# What grading reads of an upload is at most this large (the entry point's own limits: a notebook of
# 64 MB); a submission's files beyond it, or beyond SUBMISSION_LIMIT together, are laid out as empty
# files of their size (sparse: no disk), which the entry point lists as left out, never reads.
FILE_LIMIT = 64 * 2**20
SUBMISSION_LIMIT = 256 * 2**20


def prepare(submission: Path, autograder: Autograder, workdir: Path) -> Path:
    """Lay out Gradescope's tree in ``workdir`` with ``submission`` in it; return its /autograder folder.
    The upload is handed over as it is: a zip stays a zip (the entry point reads it in memory, never
    unpacking it to disk); a folder's files are linked or copied, none larger than FILE_LIMIT."""
    ag_dir = autograder.lay_out(workdir)
    if submission.is_dir():  # a Gradescope export keeps each submission's files in a folder
        copy_limited(submission, ag_dir / "submission")
    else:  # a zip, a notebook, or a file that only claims to be a zip: as Gradescope keeps them
        shutil.copyfile(submission, ag_dir / "submission" / submission.name)
    return ag_dir


def _placeholder(path: Path, size: int) -> None:
    """An empty file of ``size`` bytes that takes no disk (what was too large to copy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def copy_limited(src: Path, dest: Path) -> None:
    """``src``'s files in ``dest`` (no link followed): each hard-linked where it can be, else copied up
    to FILE_LIMIT each and SUBMISSION_LIMIT together, the rest as placeholders of their size."""
    total = 0
    for top, _dirs, files in os.walk(src, followlinks=False):
        for name in files:
            path = Path(top) / name
            target = dest / path.relative_to(src)
            if path.is_symlink():
                continue
            size = path.stat().st_size
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
                continue
            except OSError:
                pass
            if size > FILE_LIMIT or total + size > SUBMISSION_LIMIT:
                _placeholder(target, size)
            else:
                shutil.copyfile(path, target)
                total += size


def unpack_export(archive: Path, dest: Path) -> None:
    """A Gradescope export zip in ``dest``: each member up to FILE_LIMIT, and each top folder (a
    submission) up to SUBMISSION_LIMIT together, unpacked; the rest as placeholders of their size, so
    that an export holding a zip bomb cannot fill the disk. Paths that leave ``dest`` are skipped."""
    totals: dict[str, int] = {}
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if info.is_dir() or not str(target).startswith(str(dest.resolve()) + os.sep):
                continue
            top = info.filename.split("/", 1)[0]
            if info.file_size > FILE_LIMIT or totals.get(top, 0) + info.file_size > SUBMISSION_LIMIT:
                _placeholder(target, info.file_size)
                continue
            totals[top] = totals.get(top, 0) + info.file_size
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:  # a damaged member: left out, said
                target.unlink(missing_ok=True)
                print(f"note: {archive.name}: {info.filename} is damaged ({e}); left out", file=sys.stderr)


def grade(
    submission: Path,
    autograder_zip: Path,
    workdir: Path,
    timeout: float | None = None,
    env: dict | None = None,
    sandbox: str = "bubblewrap",
) -> Graded:
    """Grade ``submission`` with ``autograder_zip`` in ``workdir`` within ``timeout`` seconds (default: the
    autograder's own budget, lab5_boundary.BUDGET_S; ``env``: extra environment variables for the grading,
    e.g. its time limits; ``sandbox``: how the notebook runs, see lab5_sandbox.py)."""
    autograder = Autograder(autograder_zip)
    boundary = autograder.module("lab5_boundary")
    timeout = boundary.BUDGET_S if timeout is None else timeout
    with _grading_user(sandbox, env, boundary.GRADING_USER_ENV) as user:
        return _grade(submission, autograder, workdir, timeout, {**user, **(env or {})}, sandbox)


# As root, every grading that runs at once runs its notebook as a grading user of its own, taken from
# these and given back after (Gradescope's own user, lab5-student, is none of them): so that no process
# limit is shared and ending one grading's processes by user never reaches another's.
GRADING_USERS = "lab5-student{slot}"
_free_users: list[int] = []
_users_lock = threading.Lock()
_next_user = [1]


@contextlib.contextmanager
def _grading_user(sandbox: str, env: dict | None, user_env: str):
    if sandbox == "none" or not (hasattr(os, "geteuid") and os.geteuid() == 0) or user_env in (env or {}):
        yield {}
        return
    with _users_lock:
        slot = _free_users.pop(0) if _free_users else _next_user[0]
        _next_user[0] = max(_next_user[0], slot + 1)
    try:
        yield {user_env: GRADING_USERS.format(slot=slot)}
    finally:
        with _users_lock:
            _free_users.append(slot)
            _free_users.sort()


def _grade(submission: Path, autograder: Autograder, workdir: Path, timeout: float, env: dict, sandbox: str) -> Graded:
    started = time.perf_counter()
    ag_dir = prepare(submission, autograder, workdir)
    boundary = autograder.module("lab5_boundary")
    # The entry point's own budget is the TA's limit: it then ends the notebook and cleans up itself;
    # the kill below is for an entry point that does not.
    env = {boundary.BUDGET_ENV: f"{timeout:g}", **env}
    proc = subprocess.Popen(
        [sys.executable, str(ag_dir / ENTRY), str(ag_dir)],
        cwd=ag_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a timeout stops the kernel too
        env={**os.environ, boundary.SANDBOX_ENV: sandbox, **env},
    )
    try:
        log, _ = proc.communicate(timeout=timeout + 60)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        timed_out = True
    seconds = time.perf_counter() - started
    results_file = ag_dir / "results" / "results.json"
    if timed_out:
        reason = autograder.module("lab5_student_run").budget_reason(timeout)
        results = autograder.not_graded(ag_dir, reason, boundary.TIMED_OUT)
    elif results_file.is_file():
        results = json.loads(results_file.read_text())
    else:
        message = f"The autograder stopped without results (exit {proc.returncode}); see the log."
        results = autograder.not_graded(ag_dir, message, boundary.GRADER_ERROR)
    return Graded.of(submission.name, results, autograder, seconds=seconds, log=log, upload=submission)


# --------------------------------------------------------------------------------------------
# A folder of submissions
# --------------------------------------------------------------------------------------------


def collect(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Submission id -> path for what ``folder`` holds, and a line for each thing that is not one."""
    found, skipped = {}, []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == GRADESCOPE_METADATA:
            continue
        if path.is_dir() or path.suffix.lower() in (".zip", ".ipynb"):
            found[path.stem if path.is_file() else path.name] = path
        else:
            skipped.append(
                f"skipped {path.name}: not a submission (a .zip, a .ipynb, or a Gradescope submission folder)"
            )
    return found, skipped


def student_names(folder: Path) -> dict[str, str]:
    """Submission id -> "Name <email>" from a Gradescope export's submission_metadata.yml, if any."""
    path = folder / GRADESCOPE_METADATA
    if not path.is_file():
        return {}
    import yaml

    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        print(f"note: {path} is not readable YAML ({e}); grading without student names", file=sys.stderr)
        return {}
    names = {}
    for submission, info in metadata.items():
        people = (info or {}).get(":submitters") or []
        names[str(submission)] = "; ".join(
            f"{p.get(':name', '')} <{p.get(':email', '')}>".strip() for p in people if isinstance(p, dict)
        )
    return names


def memory_share(autograder: Autograder, jobs: int) -> dict[str, str]:
    """The grading environment that limits each of ``jobs`` gradings at once to the machine's memory
    shared out, at most the autograder's own limit (lab5_boundary.MEMORY_LIMIT): none can starve another."""
    boundary = autograder.module("lab5_boundary")
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = boundary.MEMORY_LIMIT * jobs
    return {boundary.MEMORY_LIMIT_ENV: str(min(boundary.MEMORY_LIMIT, total // max(jobs, 1)))}


def full_profile_data(folder: Path, autograder: Autograder) -> dict[str, str]:
    """The full profile's data set and checkpoint as plain folders, as Gradescope's image holds them
    (the zip's lab5_image_setup.prefetch: from the hub, or from its cache with the hub off), made once in ``folder``:
    the environment that points grading at them. A notebook's sandbox reads them; it could not fill or
    lock the hub's cache (read-only there), nor reach the hub (no network)."""
    from tools import project

    wanted = {
        key: os.environ.get(key, "")
        for key in ("HF_HOME", "HF_HUB_OFFLINE", project.DATA_DIR_ENV, project.CHECKPOINT_ENV)
    }
    stamp = folder / "made-from.json"
    if stamp.is_file():
        try:
            made = json.loads(stamp.read_text())
            if made["from"] == wanted:
                return made["environment"]
        except (ValueError, KeyError, TypeError):
            pass
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"Copying the full profile's data set and checkpoint to {folder} (once) ...", file=sys.stderr, flush=True)
    environment = autograder.module("lab5_image_setup").prefetch(folder)
    stamp.write_text(json.dumps({"from": wanted, "environment": environment}))
    return environment


def use_full_profile_data(autograder_zip: Path) -> None:
    """Point this process (and what it starts) at the full profile's data set and checkpoint as plain
    folders (full_profile_data), unless TWEETEVAL_DIR and LAB5_CHECKPOINT already name them."""
    from tools import project

    if not (os.environ.get(project.DATA_DIR_ENV) and os.environ.get(project.CHECKPOINT_ENV)):
        os.environ.update(full_profile_data(project.CACHE / "full-profile-data", Autograder(autograder_zip)))


def grade_all(
    submissions: dict[str, Path],
    autograder_zip: Path,
    workdir: Path,
    timeout: float | None,
    jobs: int,
    sandbox: str = "bubblewrap",
    env: dict[str, dict] | None = None,
    progress: bool = True,
) -> dict[str, Graded]:
    """Grade every submission, ``jobs`` at a time, with a progress bar; results in the order given.
    ``env``: extra environment variables of some submissions' gradings."""
    from tqdm.auto import tqdm

    share = memory_share(Autograder(autograder_zip), jobs)

    def one(item):
        name, path = item
        return name, grade(
            path, autograder_zip, workdir / name, timeout, env={**share, **(env or {}).get(name, {})}, sandbox=sandbox
        )

    graded = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(one, submissions.items())
        for name, result in tqdm(
            results, total=len(submissions), desc="Grading", unit="submission", disable=not progress
        ):
            graded[name] = result
    return graded


def main(argv: list[str] | None = None) -> int:
    from tools import project

    parser = argparse.ArgumentParser(prog="python3 -m tools grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder (or Gradescope export zip) of submissions")
    parser.add_argument(
        "--autograder", type=Path, default=project.AUTOGRADER_ZIP, help="the autograder zip (default: %(default)s)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("grading-report"),
        help="where to write scores.csv and report.html (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds one submission may take (default: the autograder's own budget, as on Gradescope)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at once (default: the number of cores)",
    )
    parser.add_argument(
        "--profile",
        choices=["full", "offline"],
        default=os.environ.get("LAB5_PROFILE") or "full",
        help="the lab profile to grade in (default: $LAB5_PROFILE, else full)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade where no sandbox can be made: the notebooks run with your own rights",
    )
    args = parser.parse_args(argv)

    if not args.autograder.is_file():
        parser.exit(
            2, f"error: no autograder zip at {args.autograder}: run python3 -m tools build, or pass --autograder PATH\n"
        )
    if not args.submissions.exists():
        parser.exit(
            2,
            f"error: {args.submissions} does not exist: pass the folder of submissions (or a Gradescope export zip)\n",
        )
    if args.jobs < 1 or (args.timeout is not None and args.timeout <= 0):
        parser.exit(2, "error: --jobs and --timeout must be positive\n")
    project.use_profile(args.profile)
    if args.profile == "full":
        try:
            use_full_profile_data(args.autograder)
        except Exception as e:  # noqa: BLE001 (the hub, its cache, a local folder: each says what is wrong)
            parser.exit(
                1,
                f"error: the full profile's data set and checkpoint could not be read ({type(e).__name__}: "
                f"{str(e)[:300]}): grade where the hub can be reached once, or set {project.DATA_DIR_ENV} and {project.CHECKPOINT_ENV}\n",
            )
    try:  # what grading and the report take from the zip: a zip of another lab, or of an older build, says so now
        autograder = Autograder(args.autograder)
        module = autograder.module("lab5_sandbox")
        autograder.written_question()
    except (ImportError, zipfile.BadZipFile, TypeError, ValueError) as e:
        parser.exit(
            2,
            f"error: {args.autograder} is not an autograder of this lab ({e}): rebuild it with python3 -m tools build\n",
        )
    if args.no_sandbox:
        sandbox = "none"
        print(
            "warning: --no-sandbox: the notebooks run with your own rights (your files, the network, each other's).",
            file=sys.stderr,
        )
    else:
        sandbox = "bubblewrap"
        try:
            module.choose(sandbox)
        except module.SandboxError as e:
            parser.exit(
                2,
                f"error: cannot grade in a sandbox: {e}. Install it, or pass --no-sandbox to grade "
                "with the notebooks running with your own rights.\n",
            )

    with tempfile.TemporaryDirectory(prefix="lab5-grading-") as scratch:
        folder = args.submissions
        if folder.is_file():
            if not zipfile.is_zipfile(folder):
                parser.exit(2, f"error: {folder} is neither a folder nor a zip file\n")
            unpack_export(folder, Path(scratch) / "export")
            folder = Path(scratch) / "export"
            inner = [p for p in folder.iterdir() if p.is_dir()]
            if len(inner) == 1 and not (folder / GRADESCOPE_METADATA).exists():
                folder = inner[0]  # Gradescope wraps its export in one top folder
        submissions, skipped = collect(folder)
        for line in skipped:
            print(line, file=sys.stderr)
        if not submissions:
            parser.exit(
                1,
                f"error: no submissions in {args.submissions} (expected .zip or .ipynb files, or a Gradescope export)\n",
            )
        graded = grade_all(submissions, args.autograder, Path(scratch) / "work", args.timeout, args.jobs, sandbox)
        from tools import report  # pandas, matplotlib, seaborn: not for a bad argument's one line

        table = report.write(graded, student_names(folder), args.autograder, args.out)
    flagged = int((table["flags"] != "").sum())
    print(
        f"Graded {len(table)} submissions ({flagged} need a human look): {args.out / 'scores.csv'}, {args.out / 'report.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
