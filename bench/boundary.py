"""The trust boundary's cost: grading time in each way the notebook can run (no sandbox, a
bubblewrap sandbox, as the grading user), when the notebook tries to train at grading, and how long a
notebook with a cell that never ends waits for its result.

    python3 -m tools bench boundary [--runs 3]

Grades, through the autograder zip's entry point (what Gradescope runs; tools/grade.py), the
reference submission of the last build (the student notebook filled in with the solution, with the
build's lab5_results.json) as it is in each way the notebook can run (lab5_sandbox.py: none,
bubblewrap, and as root the grading user, as on Gradescope), with every cell's tags stripped, and
with trainer.train() at the end of the question 4 cell, ``--runs`` times each, interleaved; then a
submission with an extra cell that never ends, and one whose endless cell swallows the per-cell stop,
with the default limits of lab5_autograder.py. Needs a build (python3 -m tools build) and bubblewrap;
about 15 minutes on 2 CPU cores.

    python3 -m tools bench boundary --against REV [--runs 5]

instead grades the reference submission with this build's autograder and with the one committed at the
git revision ``REV`` (e.g. HEAD before a change is committed), each with its own checkout's tools (a git
worktree of REV: one process works with one copy of the lab), interleaved, in a bubblewrap sandbox and
(as root) as the grading user: the change's cost in grading time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import machine
from tools import grade, project, student
from tools.submissions import Case, append_to, insert_after, make_submission, strip_tags

BUILD_RESULTS = project.CACHE / "build" / "assignment" / project.RESULTS_FILE
VARIANTS = [
    Case("normal", "the reference submission", []),
    Case("tags stripped", "every cell lost its tags: training, prediction and saving run at grading", [strip_tags]),
    Case(
        "trains in another cell",
        "trainer.train() at the end of the question 4 cell",
        [append_to("trainer = Trainer(", "trainer.train()")],
    ),
]
ENDLESS = [
    Case(
        "endless cell",
        "an extra cell that never ends",
        [insert_after("num_labels = len(label_names)", "while True:\n    pass")],
    ),
    Case(
        "endless cell that swallows the stop",
        "an endless loop that catches every exception",
        [
            insert_after(
                "num_labels = len(label_names)",
                "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass",
            )
        ],
    ),
]


# One grading by a checkout's own tools (run in that checkout): what ``against`` compares, as a line of JSON.
GRADE_ONE = """\
import json, sys, time
from pathlib import Path
from tools import grade, project
project.use_profile("offline")
start = time.perf_counter()
graded = grade.grade(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), timeout=300, sandbox=sys.argv[4])
print(json.dumps({"seconds": time.perf_counter() - start, "status": graded.status, "score": graded.score(),
                  "max_score": graded.max_score(), "student_side": getattr(graded.extra, "student_side", {})}))
"""


def grade_in(root: Path, upload: Path, work: Path, way: str) -> dict:
    """One grading of ``upload`` by the checkout at ``root`` with its own tools and committed autograder, in
    a process of its own; the facts' size and time printed where its autograder says them."""
    zip_path = root / project.AUTOGRADER_ZIP.relative_to(project.ROOT)
    found = subprocess.run(
        [sys.executable, "-c", GRADE_ONE, str(upload), str(zip_path), str(work), way],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    graded = json.loads(found.stdout.strip().splitlines()[-1])
    side = graded["student_side"]
    if side.get("facts_bytes"):
        print(
            f"  facts: {side['facts_bytes']:,} bytes, {side.get('facts_values', 0):,} values counted, "
            f"taken in {side.get('facts_seconds')} s",
            flush=True,
        )
    return graded


def against(revision: str, runs: int, base, record: dict, sandboxes: list[str]) -> int:
    """Grade the reference submission with this build's autograder and with ``revision``'s, interleaved."""
    seconds, outcome = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        before = scratch / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(before), revision], cwd=project.ROOT, check=True)
        (scratch / "shared").symlink_to(project.ROOT.parent / "shared")  # the data, where a checkout finds it
        try:
            checkouts = {"this build": project.ROOT, revision: before}
            seconds = {(label, way): [] for label in checkouts for way in sandboxes}
            upload = make_submission(VARIANTS[0], base, record, scratch / "normal.zip")
            for i in range(runs):
                for way in sandboxes:
                    for label, root in checkouts.items():
                        print(f"Grading with {label} ({way}) ...", flush=True)
                        work = scratch / "work" / f"{i}-{way}-{len(outcome)}"
                        graded = grade_in(root, upload, work, way)
                        seconds[label, way].append(graded["seconds"])
                        outcome[label, way] = f"{graded['status']}, {graded['score']:g} of {graded['max_score']:g}"
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=project.ROOT, check=False)
    print(f"\nMachine: {machine()}\n")
    print(
        "| the notebook runs | autograder | grading through the entry point | ratio | result |\n|---|---|---|---|---|"
    )
    worst = 0.0
    for way in sandboxes:
        then = statistics.median(seconds[revision, way])
        for label in ("this build", revision):
            median = statistics.median(seconds[label, way])
            worst = max(worst, median / then)
            runs_text = ", ".join(f"{s:.1f}" for s in seconds[label, way])
            print(
                f"| {way} | {label} | median {median:.1f} s ({runs_text}) | {median / then:.2f}x | {outcome[label, way]} |"
            )
    print(f"\nThis build grades in {worst:.2f}x the time of {revision}'s at most (target: at most 1.1x).")
    return 0 if worst <= 1.1 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools bench boundary", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="gradings of each variant (default: 3)")
    parser.add_argument("--against", help="a git revision whose autograder to compare this build's with")
    args = parser.parse_args(argv)
    if not BUILD_RESULTS.is_file():
        parser.exit(2, f"error: {BUILD_RESULTS} is missing: run python3 -m tools build first\n")
    project.use_profile("offline")
    base = student.filled_in()
    record = json.loads(BUILD_RESULTS.read_text())
    sandboxes = ["none", "bubblewrap"] + (["user"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])
    if args.against is not None:
        return against(args.against, args.runs, base, record, sandboxes[1:])
    return report_variants(*grade_variants(args.runs, base, record, sandboxes), sandboxes)


def grade_variants(runs: int, base, record: dict, sandboxes: list[str]) -> tuple[dict, dict]:
    """Grade the reference submission in each way the notebook can run and each variant, interleaved:
    the seconds of each grading and the result of each, by name."""
    seconds: dict[str, list[float]] = {case.name: [] for case in VARIANTS + ENDLESS}
    seconds.update({f"normal, {way}": [] for way in sandboxes})
    outcome = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        uploads = {
            case.name: make_submission(case, base, record, scratch / f"{case.name}.zip") for case in VARIANTS + ENDLESS
        }
        others = [way for way in sandboxes if way != "bubblewrap"]  # the normal submission again in each
        schedule = [
            item
            for _ in range(runs)
            for item in [*((VARIANTS[0], way) for way in others), *((case, "bubblewrap") for case in VARIANTS)]
        ]
        schedule += [(case, "bubblewrap") for case in ENDLESS]
        for i, (case, way) in enumerate(schedule):
            name = f"normal, {way}" if case is VARIANTS[0] and way != "bubblewrap" else case.name
            print(f"Grading: {case.name} ({way}) ...", flush=True)
            start = time.perf_counter()
            graded = grade.grade(
                uploads[case.name], project.AUTOGRADER_ZIP, scratch / "work" / str(i), timeout=300, sandbox=way
            )
            seconds[name].append(time.perf_counter() - start)
            if case is VARIANTS[0] and way == "bubblewrap":
                seconds["normal, bubblewrap"].append(seconds[name][-1])
            outcome[name] = f"{graded.status}, {graded.score():g} of {graded.max_score():g}"
    return seconds, outcome


def report_variants(seconds: dict, outcome: dict, sandboxes: list[str]) -> int:
    """Print the gradings' figures against their targets; 0 when both hold."""
    normal = statistics.median(seconds["normal"])
    print(f"\nMachine: {machine()}\n")
    plain = statistics.median(seconds["normal, none"])
    print("| the notebook runs | grading through the entry point | ratio to no sandbox | result |\n|---|---|---|---|")
    for way in sandboxes:
        runs = seconds[f"normal, {way}"]
        median = statistics.median(runs)
        print(
            f"| {way} | median {median:.1f} s ({', '.join(f'{s:.1f}' for s in runs)}) | {median / plain:.2f}x | "
            f"{outcome['normal'] if way == 'bubblewrap' else outcome[f'normal, {way}']} |"
        )
    print()
    print("| submission | grading through the entry point | ratio to normal | result |\n|---|---|---|---|")
    for case in VARIANTS:
        median = statistics.median(seconds[case.name])
        runs = ", ".join(f"{s:.1f}" for s in seconds[case.name])
        print(f"| {case.name} | median {median:.1f} s ({runs}) | {median / normal:.2f}x | {outcome[case.name]} |")
    for case in ENDLESS:
        print(f"| {case.name} | {seconds[case.name][0]:.1f} s to its result | | {outcome[case.name]} |")
    worst = max(statistics.median(seconds[c.name]) for c in VARIANTS[1:]) / normal
    sandboxed = max(statistics.median(seconds[f"normal, {way}"]) for way in sandboxes[1:]) / plain
    print(
        f"\nSlowest variant: {worst:.2f}x the normal grading (target: at most 1.5x); the slowest sandbox "
        f"{sandboxed:.2f}x no sandbox (target: at most 1.1x)."
    )
    return 0 if worst <= 1.5 and sandboxed <= 1.1 else 1
