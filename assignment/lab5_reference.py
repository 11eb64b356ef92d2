"""What only the autograder knows: the reference data subsets and the pretrained weights.

Shipped in the autograder zip only (``autograder_files`` of the master notebook), never to
students. The hidden tests import it, so that nothing they compare against comes from the
student's own notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import lab5_utils as lab


@dataclass(frozen=True)
class Subsets:
    train_texts: list
    train_labels: list
    test_texts: list
    test_labels: list


@lru_cache(maxsize=None)
def subsets() -> Subsets:
    """The train and test subsets of DESIGN.md: each split shuffled with seed 42, then its head."""
    profile = lab.get_profile()
    raw = lab.load_tweeteval(profile)
    train = raw["train"].shuffle(seed=lab.SEED).select(range(profile.train_size))
    test = raw["test"].shuffle(seed=lab.SEED).select(range(profile.test_size))
    return Subsets(list(train["text"]), list(train["label"]), list(test["text"]), list(test["label"]))


@lru_cache(maxsize=None)
def tokenizer():
    """The profile's checkpoint tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(lab.checkpoint_path())


@lru_cache(maxsize=None)
def pretrained_model():
    """The profile's checkpoint with a fresh 3-way head, as ``from_pretrained`` gives it."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(lab.checkpoint_path(), num_labels=3)


def embedding_similarity(model) -> float:
    """Cosine similarity of ``model``'s word embeddings with the pretrained checkpoint's.

    Fine-tuning at a small learning rate keeps it near 1; a randomly initialised model is near 0.
    """
    import torch

    mine = model.get_input_embeddings().weight.detach().float().cpu().flatten()
    ref = pretrained_model().get_input_embeddings().weight.detach().float().cpu().flatten()
    if mine.shape != ref.shape:
        return 0.0
    return float(torch.nn.functional.cosine_similarity(mine, ref, dim=0))


def results(run: str = "ft") -> dict:
    """The submitted results file, if it adds up as one real run of ``run`` on the test subset's true
    labels; otherwise the test fails with what does not add up (lab5_utils.checked_run)."""
    return lab.checked_run(lab.load_results(), run, subsets().test_labels)
