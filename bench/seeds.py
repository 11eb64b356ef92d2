"""The three models' test accuracies over students' training seeds, and the TA report on those runs.

    python3 -m tools bench seeds [--seeds 8] [--first 42] [--keep DIR]

Runs the student notebook, filled in with the reference solution, top to bottom as a student would
(offline profile, on this machine), once per training seed ``first`` .. ``first + seeds - 1``: each
run is a student whose drawn seed that is (lab5_seed.txt). Reports each run's acc_bow, acc_ft and
acc_scratch from its lab5_results.json, their mean, spread and range, how often each transformer
predicts its most common class, and the training times. Then grades the runs' submissions with the
TA command (``python3 -m tools grade``), with a copy of the first run's submission added as a
student who handed in someone else's results, and reports which submissions the report flags as
copies: the copy and its original, and none of the honest runs, is what it must say; and every
honest run must get full points, whatever its seed. Exits 1 when either does not hold.
About 3.5 minutes a seed on 2 CPU cores, and a minute of grading for the batch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from bench import machine
from tools import grade, notebooks, project, report

COPY = "copied"  # the submission that is someone else's file


def run(seed: int, folder: Path) -> dict:
    nb = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_NAME, project.SOLUTION_NOTEBOOK)
    notebooks.run_as_student(nb, project.STUDENT, folder, seed=seed)
    record = json.loads((folder / project.RESULTS_NAME).read_text())
    train = {run: next(e for e in record[f"{run}_log_history"] if "train_runtime" in e)["train_runtime"] for run in ("ft", "scratch")}
    top = {run: Counter(record[f"{run}_preds"]).most_common(1)[0][1] / len(record[f"{run}_preds"]) for run in ("ft", "scratch")}
    return {"seed": seed, "acc_bow": record["acc_bow"], "acc_ft": record["acc_ft"], "acc_scratch": record["acc_scratch"],
            "ft_train_s": train["ft"], "scratch_train_s": train["scratch"],
            "ft_top_class_share": top["ft"], "scratch_top_class_share": top["scratch"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools bench seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="students' training seeds to run (default: 8)")
    parser.add_argument("--first", type=int, default=42, help="the first training seed (default: 42)")
    parser.add_argument("--keep", type=Path, help="keep the submissions and the TA report here")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.exit(2, "error: --seeds must be at least 2 (a spread needs two runs)\n")
    project.use_profile("offline")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        inbox = args.keep / "submissions" if args.keep else Path(scratch) / "submissions"
        shutil.rmtree(inbox, ignore_errors=True)
        inbox.mkdir(parents=True)
        for seed in range(args.first, args.first + args.seeds):
            print(f"Running the notebook as a student whose training seed is {seed} ...", flush=True)
            folder = Path(scratch) / str(seed)
            runs.append(run(seed, folder))
            shutil.copy(next(folder.glob("lab5_*.zip")), inbox / f"seed-{seed}.zip")
            print(json.dumps(runs[-1]), flush=True)
        shutil.copy(inbox / f"seed-{args.first}.zip", inbox / f"{COPY}.zip")
        print("Grading the batch with the TA command ...", flush=True)
        out = args.keep / "report" if args.keep else Path(scratch) / "report"
        graded = grade.grade_all(grade.collect(inbox)[0], project.AUTOGRADER_ZIP, Path(scratch) / "grading", 600, 2)
        table = report.write(graded, {}, project.AUTOGRADER_ZIP, out)

    print(f"\nMachine: {machine()}\n")
    print("| training seed | TF-IDF + LR | fine-tuned | random init | most common class: fine-tuned / random init | training: fine-tuned / random init |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['seed']} | {r['acc_bow']:.3f} | {r['acc_ft']:.3f} | {r['acc_scratch']:.3f} | "
              f"{r['ft_top_class_share']:.0%} / {r['scratch_top_class_share']:.0%} | {r['ft_train_s']:.0f} s / {r['scratch_train_s']:.0f} s |")
    print("\n| | mean | sd | min | max |\n|---|---|---|---|---|")
    gaps = [r["acc_ft"] - r["acc_scratch"] for r in runs]
    for name, values in [(key, [r[key] for r in runs]) for key in ("acc_bow", "acc_ft", "acc_scratch")] + [("acc_ft - acc_scratch", gaps)]:
        print(f"| {name} | {statistics.mean(values):.3f} | {statistics.stdev(values):.3f} | {min(values):.3f} | {max(values):.3f} |")
    copies = {row.submission: row.flags for row in table.itertuples() if report.COPY_FLAG in row.flags}
    print(f"\nFlagged as copies by the TA report: {sorted(copies) or 'none'}")
    expected = {COPY, f"seed-{args.first}"}
    right = set(copies) == expected
    print("The copy and its original are flagged, and no honest run is." if right else
          f"WRONG: expected exactly {sorted(expected)} to be flagged as copies.")
    # every honest run gets full points and no other flag, whatever its seed
    lost = [f"{row.submission}: {row.total}/{row.possible} {row.flags}" for row in table.itertuples()
            if row.submission != COPY and (row.total != row.possible or any(
                flag and not flag.startswith(report.COPY_FLAG) for flag in row.flags.split("; ")))]
    print("Every honest run got full points and no other flag." if not lost else
          "WRONG: honest runs lost points or were flagged:\n  " + "\n  ".join(lost))
    return 0 if right and not lost else 1
