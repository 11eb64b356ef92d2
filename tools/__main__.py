"""Entry point: ``python3 -m tools <command>``; needs nothing but Python 3.11 on a fresh machine.

It makes the project's virtual environment (.venv, from requirements-dev.txt) when it is missing or
its requirements changed, then runs the command inside it:

    build     execute the master notebook, run otter assign, write student/ autograder/ solutions/
    test      run the test suite (pytest; extra arguments go to pytest)
    grade     grade a folder of submissions into scores.csv and report.html (TAs)
    calibrate run the lab as N students and write the profile's ranges and honest pairs (the autograder's calibration)
    bench     run a benchmark: training, seeds, grading or boundary (minutes; figures in docs/performance.md)
    standin   lay out a stand-in for the hub (random-weight DistilBERT, TweetEval) to run the full profile here
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
COMMANDS = {
    "build": "tools.build",
    "test": "pytest",
    "grade": "tools.grade",
    "bench": "bench",
    "standin": "tools.standin",
    "calibrate": "tools.calibrate",
}


def venv_python() -> Path:
    return VENV / "bin" / "python"


def requirements_digest() -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in REQUIREMENTS)).hexdigest()


def ensure_venv() -> Path:
    """Create or update .venv so that it holds exactly what the requirement files pin."""
    stamp = VENV / ".requirements.sha256"
    digest = requirements_digest()
    if stamp.is_file() and stamp.read_text().strip() == digest and venv_python().exists():
        return venv_python()
    if not venv_python().exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing requirements-dev.txt into .venv (a few minutes the first time) ...", flush=True)
    pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(ROOT / "requirements-dev.txt")], check=True)
    stamp.write_text(digest + "\n")
    return venv_python()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python3 -m tools {{{','.join(COMMANDS)}}} [arguments]", file=sys.stderr)
        return 2
    if sys.version_info < (3, 10):  # noqa: UP036 (this runs on whatever python3 a fresh machine has)
        print("This project needs Python 3.10 or newer (3.11 is what it is tested on).", file=sys.stderr)
        return 2
    python = ensure_venv()
    command, rest = argv[0], argv[1:]
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env["PYTHONPATH"]) if p)
    return subprocess.call([str(python), "-m", COMMANDS[command], *rest], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
