"""Where things are, and the environment the lab runs in for a profile."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignment"
MASTER = ASSIGNMENT / "lab5.ipynb"
STUDENT = ROOT / "student"
AUTOGRADER = ROOT / "autograder"
AUTOGRADER_ZIP = AUTOGRADER / "lab5-autograder.zip"
SOLUTIONS = ROOT / "solutions"
SOLUTION_NOTEBOOK = SOLUTIONS / "lab5-solution.ipynb"
SOLUTION_HTML = SOLUTIONS / "lab5-solution.html"
OTTER_CONFIG = ROOT / "otter_config.json"
REQUIREMENTS = ROOT / "requirements.txt"
CACHE = ROOT / ".cache"
# The real TweetEval files that sit beside a checkout (never copied into it).
SHARED_TWEETEVAL = ROOT.parent / "shared" / "data" / "tweeteval"
NOTEBOOK_NAME = "lab5.ipynb"
RESULTS_NAME = "lab5_results.json"
SEED_NAME = "lab5_seed.txt"  # a student's training seed, beside the notebook (lab5_utils.training_seed)
# The build's reference run is that of a student whose drawn training seed is 43; the autograder zip
# carries its accuracies (REFERENCE_RUN), which the TA report marks in the class's seed study.
BUILD_SEED = 43
REFERENCE_RUN = "lab5_reference_run.json"


def lab_environment(profile: str = "offline") -> dict[str, str]:
    """Environment variables that run the lab in ``profile`` (on top of the current ones)."""
    env = {
        "LAB5_PROFILE": profile,
        "TOKENIZERS_PARALLELISM": "false",
        "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    if profile == "offline":
        # Nothing may reach for the hub: fail at once instead of waiting on timeouts.
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
        if not os.environ.get("TWEETEVAL_DIR") and SHARED_TWEETEVAL.is_dir():
            env["TWEETEVAL_DIR"] = str(SHARED_TWEETEVAL)
    return env


def use_profile(profile: str = "offline") -> None:
    """Run everything this process starts (kernels, otter) in ``profile``."""
    os.environ.update(lab_environment(profile))
