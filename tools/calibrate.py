"""Calibrate a profile: run the lab as N honest students, and write the ranges and honest pairs it finds.

    python3 -m tools calibrate [--profile offline|full] [--seeds 8] [--first 42] [--runs DIR] [--keep DIR] [--out FILE]

Runs the student notebook, filled in with the reference solution, top to bottom once per training seed
``first`` .. ``first + seeds - 1`` (each run a student whose drawn seed that is), grades the submissions
with the built autograder as the TA command does, and writes the profile's calibration
(tools/calibration.py): each run's three test accuracies and the accepted ranges made from them, and how
much every two runs agree (the near-copy flag's honest pairs). ``--runs DIR`` takes the submissions of an
earlier run instead (an earlier ``--keep DIR``'s submissions/, or ``bench seeds --keep``'s).

Run it once per profile on the machine students' runs resemble: for ``full``, with the hub and a GPU
(about 4 minutes a seed on a T4; 25 on 2 CPU cores), then rebuild (python3 -m tools build), so that the
autograder carries it. On the hub's stand-in (tools/standin.py) it writes a stand-in calibration to
.cache/calibration/ instead (random weights: it tests the code path, it calibrates nothing), which
``python3 -m tools build --calibration FILE`` takes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from tools import calibration, project, standin

ENOUGH = 8  # runs: what the lab's own calibrations use


def run_students(seeds: range, inbox: Path, scratch: Path) -> None:
    """Each seed's submission, as a student with that drawn seed hands it in, into ``inbox``."""
    from tools import student

    for seed in seeds:
        print(f"Running the notebook as a student whose training seed is {seed} ...", flush=True)
        shutil.copy(student.runs_the_lab(scratch / str(seed), seed=seed).submission, inbox / f"seed-{seed}.zip")


def measure(inbox: Path, scratch: Path) -> tuple[dict[str, dict], list[str]]:
    """Each submission's graded facts (report.submission_facts), and what makes any of them no honest run."""
    from tools import agreement, grade, report

    submissions, skipped = grade.collect(inbox)
    graded = grade.grade_all(submissions, project.AUTOGRADER_ZIP, scratch / "grading", 600, 2)
    facts = {sid: report.submission_facts(g) for sid, g in graded.items()}
    problems = list(skipped)
    for sid, g in graded.items():
        f = facts[sid]
        if not g.graded or not f["has_results"] or set(f["runs"]) != set(project.RUNS) or f["seed"] is None:
            problems.append(f"{sid}: {g.status}, {g.message or 'its results file was not accepted'}")
        elif any(f[key] is None for key in project.ACCURACIES):
            problems.append(f"{sid}: an accuracy is missing")
    # a copy among them would pass for an honest pair, and move where the near-copy flag starts
    for sid, others in sorted(agreement.same_runs(facts).items()):
        problems.append(f"{sid}: the same training run as {', '.join(sorted(others))}")
    seeds = Counter(f["seed"] for f in facts.values() if f["seed"] is not None)
    problems += [
        f"{', '.join(sorted(sid for sid in facts if facts[sid]['seed'] == seed))}: the same training seed ({seed})"
        for seed, count in sorted(seeds.items())
        if count > 1
    ]
    return facts, problems


def calibrate(facts: dict[str, dict], class_shares: list[float], profile: str, command: str) -> dict:
    """The calibration file's content (tools/calibration.py) from honest runs' graded facts."""
    from bench import machine
    from tools import agreement

    sids = sorted(facts, key=lambda sid: facts[sid]["seed"])
    accuracies = {key: [round(facts[sid][key], 4) for sid in sids] for key in project.ACCURACIES}
    pairs = agreement.pairs({sid: facts[sid]["runs"] for sid in sids})
    home = os.environ.get("HF_HOME")
    return {
        "about": f"Lab 5's calibration of the {profile} profile (tools/calibration.py): the accepted test accuracies and "
        "how much honest runs agree, from the runs below; written by python3 -m tools calibrate.",
        "profile": profile,
        "made": datetime.date.today().isoformat(),
        "command": command,
        "machine": machine().split(": ", 1)[1],
        "standin": "random-weight DistilBERT, test tweets as the train split" if standin.is_standin(home) else None,
        "seeds": [facts[sid]["seed"] for sid in sids],
        "accuracies": accuracies,
        "class_shares": [round(share, 4) for share in class_shares],
        "ranges": calibration.ranges(accuracies, class_shares),
        "pairs": {
            m.column: [round(float(v), 4) for v in m.share(pairs[m.column], pairs["n"])]
            for m in agreement.MEASURES.values()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile", choices=["offline", "full"], default="offline", help="the profile to calibrate (default: offline)"
    )
    parser.add_argument("--seeds", type=int, default=8, help="students' training seeds to run (default: 8)")
    parser.add_argument("--first", type=int, default=42, help="the first training seed (default: 42)")
    parser.add_argument(
        "--runs", type=Path, help="calibrate from the submissions in this folder instead of running the lab"
    )
    parser.add_argument("--keep", type=Path, help="keep the runs' submissions in DIR/submissions")
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write the calibration (default: the profile's file in assignment/; "
        "on the hub's stand-in, .cache/calibration/)",
    )
    args = parser.parse_args(argv)
    if args.seeds < 2 and not args.runs:
        parser.exit(
            2, "error: --seeds must be at least 2 (a spread needs two runs); the lab's own calibrations use 8\n"
        )
    if args.runs and not args.runs.is_dir():
        parser.exit(2, f"error: --runs {args.runs}: no such folder (give the folder that holds the submissions)\n")
    if not project.AUTOGRADER_ZIP.is_file():
        parser.exit(2, f"error: no autograder at {project.AUTOGRADER_ZIP}: run python3 -m tools build first\n")
    on_standin = standin.is_standin(os.environ.get("HF_HOME"))
    out = args.out or (
        project.CACHE / "calibration" / f"{args.profile}-standin.json" if on_standin else calibration.path(args.profile)
    )
    if on_standin and out.resolve().parent == project.ASSIGNMENT.resolve():
        parser.exit(
            2,
            "error: on the hub's stand-in the figures are not the lab's: write them elsewhere (--out), "
            "and build with --calibration FILE\n",
        )
    project.use_profile(args.profile)
    if args.profile == "full":
        from tools import grade

        grade.use_full_profile_data(project.AUTOGRADER_ZIP)
    command = "python3 -m tools calibrate " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="lab5-calibrate-") as scratch:
        if args.runs:
            inbox = args.runs
        else:
            inbox = args.keep / "submissions" if args.keep else Path(scratch) / "submissions"
            shutil.rmtree(inbox, ignore_errors=True)
            inbox.mkdir(parents=True)
            run_students(range(args.first, args.first + args.seeds), inbox, Path(scratch))
        print("Grading the runs with the autograder ...", flush=True)
        facts, problems = measure(inbox, Path(scratch))
    if problems:
        print(
            "error: calibration takes honest runs of the lab only; these are not:\n  " + "\n  ".join(problems),
            file=sys.stderr,
        )
        return 1
    if len(facts) < 2:
        print(
            f"error: {len(facts)} runs in {inbox}: calibration needs 2 or more (a spread), and 8 make a sound one",
            file=sys.stderr,
        )
        return 1
    if len(facts) < ENOUGH:
        print(
            f"warning: a calibration from {len(facts)} runs: its ranges and honest pairs rest on few; "
            f"{ENOUGH} or more make a sound one",
            file=sys.stderr,
        )
    from tools.autograder import Autograder

    labels = Autograder(project.AUTOGRADER_ZIP).module("lab5_answer_key").subsets().test_labels
    shares = [labels.count(k) / len(labels) for k in range(3)]
    made = calibrate(facts, shares, args.profile, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(calibration.dumps(made))
    print(f"\n{len(facts)} runs (training seeds {', '.join(map(str, made['seeds']))}) on {made['machine']}:")
    for key in project.ACCURACIES:
        values = made["accuracies"][key]
        print(f"  {key}: {min(values):.3f} to {max(values):.3f}: accepted {made['ranges'][key]}")
    print(
        f"Wrote {out}"
        + (
            ": rebuild (python3 -m tools build) to put it into the autograder"
            if not on_standin
            else f": build with python3 -m tools build --profile {args.profile} --calibration {out}"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
