"""What only the autograder knows, the answer key: the data subsets, the pretrained weights, and the
checks that compare a submission with them, the true labels of the test subset included.

Shipped in the autograder zip only (``autograder_files`` of the master notebook), never to
students, and never on the student's side at grading: every test runs in the grader's own process
(lab5_autograder.py), against the notebook's facts (lab5_facts.py) and the upload, so that nothing they
compare against comes from the student's notebook.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import lab5_checks as checks
import lab5_facts as facts
import lab5_utils as lab

# How far the training seed alone moves a run's accuracy (docs/design.md, "Profiles and calibrated
# ranges"): a student's random-init run counts as better than their fine-tuned one (q7), and their
# fine-tuned run as worse than the baseline (q5), only beyond that.
SEED_NOISE = 0.05
# A fine-tuned model that calls (nearly) every test tweet one class has not learned to tell the classes
# apart, whatever their shares in the test subset; the random-init model may end up so (section 5 shows it).
ONE_CLASS_SHARE = 0.9


# The profile's calibration (written by ``python3 -m tools calibrate``, put beside this file by the
# build): the accepted test accuracies, from many students' training seeds, with what they came from.
CALIBRATION_FILE = "lab5_calibration_{profile}.json"


@cache
def calibration(profile: str) -> dict:
    """The calibration of ``profile`` that this autograder carries (docs/design.md, "Profiles and
    calibrated ranges")."""
    return json.loads((Path(__file__).parent / CALIBRATION_FILE.format(profile=profile)).read_text())


def expected_range(key: str) -> tuple[float, float]:
    """The accepted test accuracy ``key`` (acc_bow, acc_ft, acc_scratch) of the active profile: low, high."""
    low, high = calibration(lab.get_profile().name)["ranges"][key]
    return float(low), float(high)


@dataclass(frozen=True)
class Subsets:
    train_texts: list
    train_labels: list
    test_texts: list
    test_labels: list


def _columns(profile) -> dict[str, dict[str, list]]:
    """The train and test splits' text and label columns, as plain lists."""
    folder = lab.local_data_dir(profile)
    if folder is not None:
        return lab.read_local(folder, profile.local_train_split)[1]
    raw = lab.load_tweeteval(profile)
    return {
        split: {"text": list(raw[split]["text"]), "label": list(raw[split]["label"])} for split in ("train", "test")
    }


@cache
def subsets() -> Subsets:
    """The train and test subsets (docs/design.md, "What the lab teaches"): each split shuffled with seed 42, then its head.

    The rows are those of ``Dataset.shuffle(seed=SEED).select(range(size))``, which draws
    ``numpy.random.default_rng(SEED).permutation(len(split))``: the same permutation, taken here on
    plain lists, so that grading needs no ``datasets`` for the local TweetEval files.
    """
    import numpy as np

    profile = lab.get_profile()
    columns = _columns(profile)
    picked = {}
    for split, size in (("train", profile.train_size), ("test", profile.test_size)):
        rows = np.random.default_rng(lab.SEED).permutation(len(columns[split]["label"]))[:size]
        picked[split] = ([columns[split]["text"][i] for i in rows], [int(columns[split]["label"][i]) for i in rows])
    return Subsets(*picked["train"], *picked["test"])


# What the tests compare a notebook's facts with (lab5_facts): read from the checkpoint's own files, so
# that the grader's process needs neither torch nor transformers (its memory and time are the grading's).


def checkpoint_file(name: str) -> str:
    """A file of the profile's checkpoint: in its folder, or in the hub's cache (read offline)."""
    source = lab.checkpoint_path()
    if Path(source).is_dir():
        return str(Path(source) / name)
    from huggingface_hub import hf_hub_download

    return hf_hub_download(source, name)


@cache
def _tokenizer():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(checkpoint_file("tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(lab.MAX_LENGTH)
    return tokenizer


def token_ids(texts: list[str]) -> list[list[int]]:
    """The checkpoint tokenizer's ids of ``texts``, truncated at MAX_LENGTH tokens (what
    ``tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]`` gives)."""
    return [encoding.ids for encoding in _tokenizer().encode_batch([str(t) for t in texts])]


@cache
def checkpoint_config() -> dict:
    """The checkpoint's configuration, as its config.json says."""
    return json.loads(Path(checkpoint_file("config.json")).read_text(encoding="utf-8"))


@cache
def pretrained_rows():
    """Rows lab5_facts.EMBEDDING_ROWS of the checkpoint's word embeddings (a model's fingerprint)."""
    import numpy as np
    from safetensors import safe_open

    with safe_open(checkpoint_file("model.safetensors"), framework="numpy") as f:
        name = next(k for k in f.keys() if k.endswith("word_embeddings.weight"))
        matrix = f.get_slice(name)
        return np.stack([np.asarray(matrix[row : row + 1], dtype=np.float32)[0] for row in facts.EMBEDDING_ROWS])


def embedding_similarity(model) -> float:
    """Cosine similarity of ``model``'s word embeddings (its fingerprint's rows) with the pretrained
    checkpoint's. Fine-tuning at a small learning rate keeps it near 1; a randomly initialised model is
    near 0."""
    import numpy as np

    mine, ref = model.embedding_rows, pretrained_rows()
    if mine is None or mine.shape != ref.shape:
        return 0.0
    a, b = mine.ravel().astype(np.float64), ref.ravel().astype(np.float64)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / norms) if norms > 0 and math.isfinite(norms) else 0.0


def is_pretrained(model) -> bool:
    """Whether ``model``'s fingerprint is exactly the checkpoint's: where nothing has trained it (at
    grading, nothing trains), a model loaded with from_pretrained holds the checkpoint's own weights, so
    a model that is only near them (weights blended or perturbed) is not it."""
    import numpy as np

    mine, ref = model.embedding_rows, pretrained_rows()
    return mine is not None and mine.shape == ref.shape and bool(np.array_equal(mine, ref))


# Configuration keys that are no part of the architecture: the head, bookkeeping, runtime switches.
NOT_ARCHITECTURE = {
    "num_labels",
    "id2label",
    "label2id",
    "_name_or_path",
    "name_or_path",
    "architectures",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "problem_type",
    "_attn_implementation_autoset",
    "_attn_implementation",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "use_cache",
    "gradient_checkpointing",
}  # the Trainer sets use_cache from its arguments


def architecture_problem(model, name: str) -> str:
    """Why ``model`` is not a sequence-classification model of the checkpoint's architecture ("" if it is)."""
    want = checkpoint_config().get("model_type")
    got = model.config.to_dict().get("model_type")
    kind = model.type_name.rsplit(".", 1)[-1][: facts.SHOWN]
    if got != want or not model.is_a("SequenceClassifier"):
        return (
            f"{name} is a {kind} (model_type {checks.shown(got)}); expected the checkpoint's architecture (model_type {want!r}) "
            "with a sequence-classification head"
        )
    return ""


def architecture_differences(model) -> str:
    """How ``model``'s configuration differs from the checkpoint's in its architecture (sizes, layers,
    vocabulary), or "" when it is the checkpoint's; the classification head and bookkeeping may differ."""
    mine = model.config.to_dict()
    wrong = [
        f"{key}={checks.shown(mine.get(key))} (the checkpoint: {value!r})"
        for key, value in checkpoint_config().items()
        if key not in NOT_ARCHITECTURE and mine.get(key) != value
    ]
    return "; ".join(wrong[:4])


def vocabulary(texts: list) -> set[str]:
    """The terms a TfidfVectorizer with the lab's settings learns from ``texts``."""
    return set(_vocabulary(tuple(str(t) for t in texts)))


def terms(texts: list) -> set[str]:
    """Every term (word or word pair) the lab's analyzer finds in ``texts``."""
    return set(_terms(tuple(str(t) for t in texts)))


# The grader computes both for the true training texts while the notebook runs: a student's are those.
@lru_cache(maxsize=2)
def _vocabulary(texts: tuple[str, ...]) -> frozenset[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return frozenset(TfidfVectorizer(**TFIDF).fit(texts).vocabulary_)


@lru_cache(maxsize=2)
def _terms(texts: tuple[str, ...]) -> frozenset[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyze, found = TfidfVectorizer(**TFIDF).build_analyzer(), set()
    for text in texts:
        found.update(analyze(text))
    return frozenset(found)


TFIDF = {"max_features": 20000, "ngram_range": (1, 2), "stop_words": "english"}  # question 2's vectorizer


# ---------------------------------------------------------------------------------------------
# The results file against the true labels (the results questions, q5 and q7)
# ---------------------------------------------------------------------------------------------


def gold_problems(record: dict, run: str) -> list[str]:
    """What does not add up between a well-formed run of ``record`` and the true labels of the test
    subset: its predictions and scores must score what its log's last evaluation says."""
    import math

    import numpy as np

    evals = [e for e in record[f"{run}_log_history"] if "eval_accuracy" in e]
    if not evals:
        return []  # checks.run_problems says so
    last = evals[-1]
    gold = np.asarray(subsets().test_labels)
    preds = np.asarray(record[f"{run}_preds"])
    logits = np.asarray(record[f"{run}_logits"], dtype=np.float64)
    problems = []
    accuracy = float(np.mean(preds == gold))
    if abs(accuracy - last["eval_accuracy"]) > checks.ACCURACY_TOLERANCE:
        problems.append(
            f"its predictions score {accuracy:.4f} on the test subset, but its log says the model scored "
            f"{last['eval_accuracy']:.4f} after the last epoch"
        )
    shifted = logits - logits.max(axis=-1, keepdims=True)
    loss = float(np.mean(np.log(np.exp(shifted).sum(axis=-1)) - shifted[np.arange(len(gold)), gold]))
    reported = last.get("eval_loss")
    if isinstance(reported, (int, float)) and math.isfinite(reported) and abs(loss - reported) > checks.LOSS_TOLERANCE:
        problems.append(
            f"the loss of its {run}_logits on the test subset is {loss:.4f}, but its log says "
            f"{reported:.4f} after the last epoch"
        )
    return problems


def results(run: str = "ft") -> dict:
    """The submitted results file, if it adds up as one real run of ``run`` on the test subset's true
    labels; otherwise the test fails with what does not add up."""
    return checks.checked_run(lab.load_results(run), run, more=gold_problems)


def accepted(run: str) -> dict | None:
    """The submitted results file if its ``run`` is accepted by :func:`results`, else None."""
    try:
        return results(run)
    except lab.ResultsError:
        return None


def accuracy(record: dict, run: str) -> float:
    """The accuracy of ``run``'s saved predictions on the true labels of the test subset."""
    import numpy as np

    return float(np.mean(np.asarray(record[f"{run}_preds"]) == np.asarray(subsets().test_labels)))


def check_accuracy(env: dict, record: dict, run: str) -> None:
    """acc_<run> in the notebook and in the record must be the accuracy of the saved predictions."""
    actual = accuracy(record, run)
    name = f"acc_{run}"
    trainer = lab.RUNS[run].trainer
    for label, value in ((name, checks.require(env, name)), (f"{name} in {lab.RESULTS_FILE}", record.get(name))):
        number = checks.real(value)
        assert number is not None, (
            f"{label} = {checks.shown(value)} is not a number: let {trainer}.predict(tok_test) compute {name} (its metrics['test_accuracy']), and rerun its section."
        )
        assert abs(number - actual) < 1e-6, (
            f"{label} = {checks.shown(value)}, but the saved predictions match {actual:.4f} of the test labels (in test-subset order): let {trainer}.predict(tok_test) compute {name}, and rerun its section after any change."
        )


def check_learned(record: dict, run: str) -> None:
    """The run's model tells the classes apart: it does not call (nearly) every test tweet one class."""
    from collections import Counter

    preds = record[f"{run}_preds"]
    label, count = Counter(preds).most_common(1)[0]
    name = ("negative", "neutral", "positive")[label]
    assert count < ONE_CLASS_SHARE * len(preds), (
        f"{lab.RUNS[run].model.capitalize()} calls {count} of the {len(preds)} test tweets {name} ({count / len(preds):.1%}): it has not learned to tell the classes apart. Check the model, the training arguments and the tokenization, then rerun {lab.RUNS[run].section}."
    )


def check_settings(record: dict, run: str) -> None:
    """The run in the record was trained with the lab's settings, and with the training seed that the
    record's fine-tuning run was (both runs of a student train with one seed)."""
    settings = record.get(f"{run}_settings")
    assert isinstance(settings, dict), (
        f"{lab.RESULTS_FILE} does not say how {lab.RUNS[run].model} was trained: rerun its section and submit the file it writes."
    )
    wrong = [
        f"{key}={checks.shown(settings.get(key))} (the lab: {want!r})"
        for key, want in lab.TRAINING.items()
        if settings.get(key) != want
    ]
    assert not wrong, (
        f"{lab.RUNS[run].model.capitalize()} in {lab.RESULTS_FILE} was trained with other settings than the lab's: {'; '.join(wrong)}. Set them in args (question 4) and rerun its section."
    )
    seed = settings.get("seed")
    assert lab.recorded_seed({f"{run}_settings": settings}) is not None, (
        f"{lab.RESULTS_FILE} does not record the training seed of {lab.RUNS[run].model} (seed={checks.shown(seed)}): rerun its section and submit the file it writes."
    )
    first = lab.recorded_seed(record)  # the fine-tuning run's, when it records one
    assert seed == first, (
        f"{lab.RUNS[run].model.capitalize()} was trained with seed {checks.shown(seed)}, the fine-tuned model with seed {first}: both runs train with your training seed (args' seed=TRAIN_SEED, and torch.manual_seed(TRAIN_SEED) before the random weights); rerun section 5."
    )
