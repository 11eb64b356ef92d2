"""How fast the reference solution fine-tunes, against the original notebook's padding.

    python3 -m tools bench training

Runs the student notebook, filled in with the reference solution, top to bottom twice in the
offline profile, on the same data and checkpoint: as it is (each batch padded to its longest tweet
by DataCollatorWithPadding), and with the original notebook's padding of every tweet to 128 tokens.
Reports, from each run's lab5_results.json, the training throughput over its 2 epochs and the
fine-tuned test accuracy. Takes about 8 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench import PAD_TO_MAX_LENGTH, machine
from tools import project, student

VARIANTS = {
    "reference (dynamic padding)": (),
    "original (pad to 128)": PAD_TO_MAX_LENGTH,
}


def run(edits, folder: Path) -> dict:
    # one seed for both variants
    results = student.runs_the_lab(folder, seed=project.BUILD_SEED, nb=student.filled_in(edits)).record
    train = next(e for e in results["ft_log_history"] if "train_runtime" in e)
    return {
        "train_seconds": train["train_runtime"],
        "samples_per_second": train["train_samples_per_second"],
        "accuracy": results["acc_ft"],
    }


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python3 -m tools bench training", description=__doc__.split("\n\n")[0]).parse_args(
        argv
    )
    project.use_profile("offline")
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        for i, (name, edits) in enumerate(VARIANTS.items()):
            print(f"Running the notebook: {name} ...", flush=True)
            figures[name] = run(edits, Path(scratch) / str(i))
    ref, orig = figures["reference (dynamic padding)"], figures["original (pad to 128)"]
    print(f"\nMachine: {machine()}\n")
    print("| tokenization / batching | training (2 epochs) | samples/s | test accuracy |")
    print("|---|---|---|---|")
    for name, f in figures.items():
        print(f"| {name} | {f['train_seconds']:.0f} s | {f['samples_per_second']:.1f} | {f['accuracy']:.3f} |")
    speedup = ref["samples_per_second"] / orig["samples_per_second"]
    gap = abs(ref["accuracy"] - orig["accuracy"]) * 100
    print(f"\nSpeed-up {speedup:.2f}x (target >= 2.5x); accuracy difference {gap:.1f} points (target <= 1).")
    print(json.dumps(figures))
    return 0 if speedup >= 2.5 and gap <= 1 else 1
