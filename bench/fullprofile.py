"""The full profile's cost, measured on the hub's stand-in: DistilBERT's training speed, and grading one
submission in Gradescope's container as emulated here, at several memory and CPU settings.

    python3 -m tools bench fullprofile [--steps 20] [--limits 768:0.5,2048:1] [--upload ZIP] [--no-training]

1. Training: the lab's training settings (lab5_utils.TRAINING) on the full profile's train subset
   with DistilBERT's shape (tools/standin.py: random weights, which cost what the real ones cost),
   ``--steps`` optimizer steps timed by the Trainer, then ``trainer.predict`` on the 2,000 test tweets:
   seconds per step, per epoch (4,000 tweets / 16 = 250 steps) and per evaluation, on this machine.
2. Grading: Gradescope's image laid out in a folder (tools/gradescope_image.py) with the stand-in as the
   hub's cache its setup filled, then the autograder zip's run_autograder on one submission inside the
   emulated container (tools/container.py) at each of ``--limits`` (MB:CPUs), and once without limits
   (this machine's memory and cores): the points, the time, the peak memory of the whole grading
   (entry point, otter and kernel together: the container's memory cgroup) and where it went.
   The submission is ``--upload`` (a full-profile student's export), else the reference solution's
   notebook without a results file (every cell but the training runs at grading as with one; the runs'
   two questions lose their points for the missing file).

Takes about 15 minutes on 2 CPU cores (most of it grading at half a CPU). Figures: docs/performance.md,
"The full profile".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import machine
from tools import container, gradescope_image, project, standin, student

DEFAULT_LIMITS = "768:0.5,1536:0.5,2048:0.5,2048:1"
UNLIMITED = (16 * 2**30, 2.0)

TRAINING = r"""
import json, time
import lab5_utils as lab, lab5_answer_key as key
from datasets import Dataset
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                          TrainingArguments)
steps = int(__import__("sys").argv[1])
subsets = key.subsets()
tokenizer = AutoTokenizer.from_pretrained(lab.checkpoint_path())
tok = lambda batch: tokenizer(batch["text"], truncation=True, max_length=lab.MAX_LENGTH)
train = Dataset.from_dict({"text": subsets.train_texts, "label": subsets.train_labels}).map(tok, batched=True)
test = Dataset.from_dict({"text": subsets.test_texts, "label": subsets.test_labels}).map(tok, batched=True)
model = AutoModelForSequenceClassification.from_pretrained(lab.checkpoint_path(), num_labels=3)
settings = {k: v for k, v in lab.TRAINING.items() if k != "num_train_epochs"}
args = TrainingArguments("/tmp/lab5-bench-fullprofile", max_steps=steps, save_strategy="no", report_to="none", seed=43,
                         **settings)
trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tokenizer))
trainer.train()  # a warm-up run of a few steps would be folded in: the Trainer's own runtime is the figure
runtime = next(e["train_runtime"] for e in trainer.state.log_history if "train_runtime" in e)
started = time.perf_counter()
trainer.predict(test)
predict = time.perf_counter() - started
print(json.dumps({"steps": steps, "train_seconds": runtime, "predict_seconds": predict, "train_size": len(train),
                  "batch": lab.TRAINING["per_device_train_batch_size"], "epochs": lab.TRAINING["num_train_epochs"]}))
"""


def training_speed(steps: int, home: Path) -> dict:
    env = {**standin.process_environment(home), "PYTHONPATH": str(project.ASSIGNMENT)}
    proc = subprocess.run(
        [sys.executable, "-c", TRAINING, str(steps)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"the training measurement failed:\n{proc.stderr[-3000:]}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    per_step = found["train_seconds"] / found["steps"]
    steps_per_epoch = -(-found["train_size"] // found["batch"])
    found.update(
        seconds_per_step=per_step,
        steps_per_epoch=steps_per_epoch,
        epoch_seconds=per_step * steps_per_epoch,
        lab_minutes=2
        * (found["epochs"] * (per_step * steps_per_epoch + found["predict_seconds"]) + found["predict_seconds"])
        / 60,
    )
    return found


def parse_limits(text: str) -> list[tuple[int, float]]:
    limits = []
    for item in filter(None, text.split(",")):
        megabytes, _, cpus = item.partition(":")
        limits.append((int(megabytes) * 2**20, float(cpus or 1)))
    return limits


def grading(limits: list[tuple[int, float]], home: Path, upload: Path | None, folder: Path) -> list[dict]:
    shim, image, printed = gradescope_image.set_up(folder / "image", profile="full", hub=home)
    if upload is None:  # what the export cell zips, less the results file
        import zipfile

        import nbformat

        upload = folder / "uploads" / "reference-without-results.zip"
        upload.parent.mkdir(parents=True)
        with zipfile.ZipFile(upload, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(project.NOTEBOOK_FILE, nbformat.writes(student.filled_in()))
    rows = []
    for number, (memory, cpus) in enumerate([UNLIMITED, *limits]):
        graded, outcome = gradescope_image.run_autograder(
            upload, folder / f"runs{number}", shim, image, {}, profile="full", limits=(memory, cpus)
        )
        rows.append(
            {
                "memory_mb": memory // 2**20,
                "cpus": cpus,
                "status": graded.status,
                "score": graded.score(),
                "max_score": graded.max_score(),
                "seconds": round(outcome.seconds),
                "peak_mb": round((outcome.memory_peak or 0) / 2**20),
                "out_of_memory": outcome.out_of_memory,
                "where": outcome.where(),
                "message": graded.message[:200],
                "sandbox": (graded.results.get("extra_data") or {}).get("sandbox", ""),
            }
        )
        row = rows[-1]
        print(
            f"  {row['memory_mb']:>6} MB {row['cpus']:>4} CPU: {row['status']}, {row['score']:g}/{row['max_score']:g} in "
            f"{row['seconds']} s, peak {row['peak_mb']} MB{' (out of memory)' if row['out_of_memory'] else ''}; {row['where']}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools bench fullprofile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps to time (default: %(default)s)")
    parser.add_argument(
        "--limits", default=DEFAULT_LIMITS, help="container settings MB:CPUs, comma-separated (default: %(default)s)"
    )
    parser.add_argument(
        "--upload", type=Path, help="a full-profile submission zip to grade (default: the reference without results)"
    )
    parser.add_argument("--no-training", action="store_true", help="grading only")
    args = parser.parse_args(argv)
    why_not = container.available()
    if why_not:
        parser.exit(2, f"error: Gradescope's container cannot be emulated here: {why_not}\n")
    try:
        limits = parse_limits(args.limits)
    except ValueError:
        parser.exit(2, "error: --limits takes MB:CPUs pairs, e.g. 768:0.5,2048:1\n")
    print(machine())
    home = standin.lay_out()
    report = {"machine": machine(), "standin": str(home)}
    if not args.no_training:
        print(f"Training speed of DistilBERT's shape ({args.steps} steps) ...", flush=True)
        report["training"] = t = training_speed(args.steps, home)
        print(
            f"  {t['seconds_per_step']:.2f} s per step of {t['batch']} tweets: {t['epoch_seconds'] / 60:.1f} min per epoch "
            f"({t['steps_per_epoch']} steps), {t['predict_seconds']:.0f} s to predict the test subset; both runs of the lab "
            f"about {t['lab_minutes']:.0f} min",
            flush=True,
        )
    print("Grading one submission in Gradescope's container, emulated ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="lab5-bench-fullprofile-") as scratch:
        started = time.monotonic()
        report["grading"] = grading(limits, home, args.upload, Path(scratch))
        report["grading_minutes"] = (time.monotonic() - started) / 60
    out = project.CACHE / "bench" / "fullprofile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"Figures in {out}")
    return 0
