"""The three models' test accuracies over students' training seeds, and the TA report on those runs.

    python3 -m tools bench seeds [--seeds 8] [--first 42] [--keep DIR] [--again]

Runs the student notebook, filled in with the reference solution, top to bottom as a student would
(offline profile, on this machine), once per training seed ``first`` .. ``first + seeds - 1``: each
run is a student whose drawn seed that is (lab5_seed.txt). Reports each run's acc_bow, acc_ft and
acc_scratch from its lab5_results.json, their mean, spread and range, how often each transformer
predicts its most common class, and the training times. Then grades the runs' submissions with the
TA command (``python3 -m tools grade``), with copies of the first run's submission added as students
who handed in someone else's results (tools/copies.py): one as it is, three with 1%, 3% and 10% of
each run's predictions changed consistently, one with every score moved a little. Reports how much
every two honest runs agree, as the report compares them (tools/agreement.py), where the flag starts
with the autograder's calibration, how many copies made noisy on purpose (every honest run's, at
several noise levels: NOISE, SWAPPED) it catches, and which submissions the report flags as copies:
every copy, naming the original, and none of the honest runs, is what it must say; and every honest
run must get full points, whatever its seed. ``python3 -m tools calibrate --runs DIR/submissions``
makes a calibration of the same runs (copy the seed-*.zip files alone to a folder of their own). Exits 1 when either does not hold. About 3.5 minutes a seed on 2 CPU cores, and two minutes of
grading for the batch; ``--again`` grades the runs kept in ``--keep`` instead of running them again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

from bench import machine
from tools import agreement, calibration, copies, grade, project, report, student
from tools.autograder import Autograder

COPY = "copied"  # the submissions that are someone else's file: this one as it is, and NEAR_COPIES
NEAR_COPIES = {
    "flipped-1pct": lambda r, gold: copies.flipped(r, 0.01, gold),
    "flipped-3pct": lambda r, gold: copies.flipped(r, 0.03, gold),
    "flipped-10pct": lambda r, gold: copies.flipped(r, 0.10, gold),
    "rescored": lambda r, gold: copies.rescored(r, gold),
}


# Copies made noisy on purpose (tools/copies.py: noisy): a share of the fine-tuned rows' two highest scores
# swapped, then noise of each size added to every score of both runs: how many the flag catches.
NOISE = (0.01, 0.03, 0.1, 0.3)
SWAPPED = (0.0, 0.04, 0.10)


def noisy_copies(runs: dict[str, dict[str, agreement.Run]], found: dict) -> None:
    """Every honest run copied with noise of each size (NOISE, SWAPPED), compared with its original as the
    report compares them: the median measures and how many copies the flag catches, beside honest pairs."""
    print("\nCopies made noisy on purpose (each honest run's, compared with it; tools/copies.py noisy):\n")
    print(
        "| swapped | noise (sd) | fine-tuned predictions that agree | fine-tuned corr / gap | random-init corr / gap | flagged |"
    )
    print("|---|---|---|---|---|---|")
    for swapped in SWAPPED:
        for noise in NOISE:
            made = dict(runs)
            made.update(
                {f"{sid}~": copies.noisy(one, swapped, noise, seed=i) for i, (sid, one) in enumerate(runs.items())}
            )
            table = agreement.pairs(made)
            table = table[table["b"] == table["a"] + "~"]
            caught = agreement.beyond(table, found).any(axis=1)
            print(
                f"| {swapped:.0%} | {noise:g} | {table['ft_agree'].median():,.0f} of {int(table['n'].iloc[0]):,} | "
                f"{table['ft_corr'].median():.3f} / {table['ft_gap'].median():.3f} | "
                f"{table['scratch_corr'].median():.3f} / {table['scratch_gap'].median():.3f} | {int(caught.sum())} of {len(table)} |"
            )


def run(seed: int, folder: Path) -> dict:
    return summary(seed, student.runs_the_lab(folder, seed=seed).record)


def summary(seed: int, record: dict) -> dict:
    """A run's accuracies, how often each transformer predicts its most common class, its training times."""
    train = {
        run: next(e for e in record[f"{run}_log_history"] if "train_runtime" in e)["train_runtime"]
        for run in project.RUNS
    }
    top = {
        run: Counter(record[f"{run}_preds"]).most_common(1)[0][1] / len(record[f"{run}_preds"]) for run in project.RUNS
    }
    return {
        "seed": seed,
        "acc_bow": record["acc_bow"],
        "acc_ft": record["acc_ft"],
        "acc_scratch": record["acc_scratch"],
        "ft_train_s": train["ft"],
        "scratch_train_s": train["scratch"],
        "ft_top_class_share": top["ft"],
        "scratch_top_class_share": top["scratch"],
    }


def add_copies(inbox: Path, original: Path) -> None:
    """The copies of ``original`` (a submission zip) that the report must flag, beside it in ``inbox``."""
    gold = list(Autograder(project.AUTOGRADER_ZIP).module("lab5_answer_key").subsets().test_labels)
    shutil.copy(original, inbox / f"{COPY}.zip")
    with zipfile.ZipFile(original) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    record = json.loads(files[project.RESULTS_FILE])
    for name, edit in NEAR_COPIES.items():
        with zipfile.ZipFile(inbox / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for entry, data in files.items():
                zf.writestr(entry, json.dumps(edit(record, gold)) if entry == project.RESULTS_FILE else data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools bench seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="students' training seeds to run (default: 8)")
    parser.add_argument("--first", type=int, default=42, help="the first training seed (default: 42)")
    parser.add_argument("--keep", type=Path, help="keep the submissions and the TA report here")
    parser.add_argument(
        "--again", action="store_true", help="grade the submissions kept in --keep, without running them"
    )
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.exit(2, "error: --seeds must be at least 2 (a spread needs two runs)\n")
    if args.again and not (args.keep and (args.keep / "submissions").is_dir()):
        parser.exit(2, "error: --again grades the runs of an earlier --keep DIR: give that folder with --keep\n")
    project.use_profile("offline")
    seeds = range(args.first, args.first + args.seeds)
    honest = [f"seed-{seed}" for seed in seeds]
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        inbox = args.keep / "submissions" if args.keep else Path(scratch) / "submissions"
        if not args.again:
            shutil.rmtree(inbox, ignore_errors=True)
            inbox.mkdir(parents=True)
        for seed in seeds:
            if args.again:
                with zipfile.ZipFile(inbox / f"seed-{seed}.zip") as zf:
                    runs.append(summary(seed, json.loads(zf.read(project.RESULTS_FILE))))
                continue
            print(f"Running the notebook as a student whose training seed is {seed} ...", flush=True)
            folder = Path(scratch) / str(seed)
            runs.append(run(seed, folder))
            shutil.copy(next(folder.glob("lab5_*.zip")), inbox / f"seed-{seed}.zip")
            print(json.dumps(runs[-1]), flush=True)
        add_copies(inbox, inbox / f"seed-{args.first}.zip")
        print("Grading the batch with the TA command ...", flush=True)
        out = args.keep / "report" if args.keep else Path(scratch) / "report"
        graded = grade.grade_all(grade.collect(inbox)[0], project.AUTOGRADER_ZIP, Path(scratch) / "grading", 600, 2)
        table = report.write(graded, {}, project.AUTOGRADER_ZIP, out)
        facts = {sid: report.submission_facts(g) for sid, g in graded.items()}  # what the report compares
    # every two honest runs' agreement, from what the autograder graded, and where the autograder's
    # calibration (tools/calibration.py) says honest pairs end
    pairs = agreement.pairs({sid: facts[sid]["runs"] for sid in honest})
    calibrated = Autograder(project.AUTOGRADER_ZIP).calibration("offline")
    found = agreement.bounds(pairs, calibrated)

    print(f"\nMachine: {machine()}\n")
    print(
        "| training seed | TF-IDF + LR | fine-tuned | random init | most common class: fine-tuned / random init | training: fine-tuned / random init |"
    )
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['seed']} | {r['acc_bow']:.3f} | {r['acc_ft']:.3f} | {r['acc_scratch']:.3f} | "
            f"{r['ft_top_class_share']:.0%} / {r['scratch_top_class_share']:.0%} | {r['ft_train_s']:.0f} s / {r['scratch_train_s']:.0f} s |"
        )
    print("\n| | mean | sd | min | max |\n|---|---|---|---|---|")
    gaps = [r["acc_ft"] - r["acc_scratch"] for r in runs]
    for name, values in [(key, [r[key] for r in runs]) for key in project.ACCURACIES] + [
        ("acc_ft - acc_scratch", gaps)
    ]:
        print(
            f"| {name} | {statistics.mean(values):.3f} | {statistics.stdev(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
        )

    print(
        f"\nHow much the {len(pairs)} pairs of honest runs agree (agreement.MEASURES: agree, a share of the "
        "test tweets; corr, a correlation; gap, a median in standard deviations), and where the report's flag starts "
        f"with the autograder's calibration ({calibration.source(calibrated)}):\n"
    )
    print("| measure | min | mean | max | flagged |\n|---|---|---|---|---|")
    for m in agreement.MEASURES.values():
        shares = m.share(pairs[m.column], pairs["n"])
        at = found[m.column].flag_at
        flag = "never (shown)" if at is None else f"{'below' if m.closer_is_less else 'above'} {at:.4f}"
        print(f"| {m.column} | {shares.min():.4f} | {shares.mean():.4f} | {shares.max():.4f} | {flag} |")
    false = agreement.beyond(pairs, found).any(axis=1).sum()
    print(f"\nHonest pairs flagged: {false} of {len(pairs)}")
    noisy_copies({sid: facts[sid]["runs"] for sid in honest}, found)

    batch = 300  # a class: each honest run's facts handed in by 37 or 38 students (the worst case for the comparison)
    started = time.perf_counter()
    agreement.flag_copies({f"student-{i}": facts[honest[i % len(honest)]] for i in range(batch)}, calibrated)
    print(
        f"\nComparing every two of {batch} submissions ({batch * (batch - 1) // 2:,} pairs; each of the {len(honest)} "
        f"runs handed in {batch // len(honest)} times or more): {time.perf_counter() - started:.1f} s"
    )

    flagged = {
        row.submission: row.flags
        for row in table.itertuples()
        if agreement.COPY_FLAG in row.flags or agreement.NEAR_COPY_FLAG in row.flags
    }
    print("\nFlagged as copies by the TA report:")
    for sid, flags in sorted(flagged.items()):
        print(f"  {sid}: {flags}")
    original = f"seed-{args.first}"
    expected = {COPY, *NEAR_COPIES, original}
    right = set(flagged) == expected and all(original in flagged[name] for name in [COPY, *NEAR_COPIES])
    print(
        "Every copy is flagged, naming its original, and no honest run but the original is."
        if right
        else f"WRONG: expected exactly {sorted(expected)} to be flagged as copies, each copy naming {original}."
    )
    # every honest run gets full points and no flag but, for the original, those that name its copies
    flagged_copies = agreement.flag_copies(facts, calibrated)

    def other_flags(sid: str, flags: str) -> str:
        for flag in (flagged_copies.same, flagged_copies.near):
            flags = flags.replace(flag.get(sid, ""), "")
        return flags.strip("; ")

    lost = [
        f"{row.submission}: {row.total}/{row.possible} {row.flags}"
        for row in table.itertuples()
        if row.submission in honest and (row.total != row.possible or other_flags(row.submission, row.flags))
    ]
    print(
        "Every honest run got full points and no other flag."
        if not lost
        else "WRONG: honest runs lost points or were flagged:\n  " + "\n  ".join(lost)
    )
    return 0 if right and not lost else 1
