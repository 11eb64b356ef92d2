"""The three models' test accuracies over training seeds, and the two transformers' training time.

    python3 -m tools bench seeds [--seeds 3]

Runs the student notebook, filled in with the reference solution, top to bottom as a student would
(offline profile, on this machine), once per seed: seed SEED + k for k = 0 .. SEEDS - 1, in the
notebook's torch.manual_seed calls (the random weights of section 5 included) and in args' seed.
Reports each run's acc_bow, acc_ft and acc_scratch from its lab5_results.json, their mean and
spread, how often the random-init model predicts its most common class, and the training times.
About 4.5 minutes a seed on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from bench import machine, with_seed_offset
from tools import notebooks, project


def run(offset: int, folder: Path) -> dict:
    nb = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_NAME, project.SOLUTION_NOTEBOOK)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = with_seed_offset(cell.source, offset)
    notebooks.run_as_student(nb, project.STUDENT, folder)
    record = json.loads((folder / project.RESULTS_NAME).read_text())
    train = {run: next(e for e in record[f"{run}_log_history"] if "train_runtime" in e)["train_runtime"] for run in ("ft", "scratch")}
    top = Counter(record["scratch_preds"]).most_common(1)[0][1] / len(record["scratch_preds"])
    return {"acc_bow": record["acc_bow"], "acc_ft": record["acc_ft"], "acc_scratch": record["acc_scratch"],
            "ft_train_s": train["ft"], "scratch_train_s": train["scratch"], "scratch_top_class_share": top}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools bench seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="training seeds to run (default: 3)")
    args = parser.parse_args(argv)
    project.use_profile("offline")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for k in range(args.seeds):
            print(f"Running the notebook with seed SEED + {k} ...", flush=True)
            runs.append(run(k, Path(scratch) / str(k)))
            print(json.dumps(runs[-1]), flush=True)
    print(f"\nMachine: {machine()}\n")
    print("| seed | TF-IDF + LR | fine-tuned | random init | random init: share of its top class | training ft / random init |")
    print("|---|---|---|---|---|---|")
    for k, r in enumerate(runs):
        print(f"| SEED + {k} | {r['acc_bow']:.3f} | {r['acc_ft']:.3f} | {r['acc_scratch']:.3f} | "
              f"{r['scratch_top_class_share']:.0%} | {r['ft_train_s']:.0f} s / {r['scratch_train_s']:.0f} s |")
    for key in ("acc_bow", "acc_ft", "acc_scratch"):
        values = [r[key] for r in runs]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{key}: mean {statistics.mean(values):.3f}, sd {spread:.3f}, range {min(values):.3f}-{max(values):.3f}")
    return 0
