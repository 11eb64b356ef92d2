"""Every kind of value a right notebook can hold crosses as data: each graded value of sections 1 and 2
and the quiz, written the ways a student reasonably writes it (a datasets Column, a pandas Series, NumPy
and torch arrays and scalars, tuples, deques, NumPy strings), gets the verdicts the plain list, float or
string gets, and a wrong value in that kind the same messages (docs/design.md, "Facts, not verdicts")."""

from __future__ import annotations

import collections
import functools

import lab5_facts as facts
import lab5_verdict as verdict
import numpy as np
import pytest

QUESTIONS = {  # the questions whose tests read each name
    "q1_data": "train_texts test_texts train_labels test_labels num_labels",
    "q2_baseline": "bow_preds acc_bow train_texts test_labels",
    "q8_quiz": "quiz_q1 quiz_q2 quiz_q3",
}


@functools.cache
def right_values() -> dict:
    """Sections 1 and 2 and the quiz of a right notebook, as the solution computes them."""
    import lab5_answer_key as ref
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    subsets = ref.subsets()
    tfidf = TfidfVectorizer(**ref.TFIDF)
    bow_clf = LogisticRegression(max_iter=1000).fit(tfidf.fit_transform(subsets.train_texts), subsets.train_labels)
    bow_preds = bow_clf.predict(tfidf.transform(subsets.test_texts))
    return {
        "label_names": ["negative", "neutral", "positive"],
        "num_labels": 3,
        "train_texts": list(subsets.train_texts),
        "train_labels": list(subsets.train_labels),
        "test_texts": list(subsets.test_texts),
        "test_labels": list(subsets.test_labels),
        "tfidf": tfidf,
        "bow_clf": bow_clf,
        "bow_preds": bow_preds,
        "acc_bow": accuracy_score(subsets.test_labels, bow_preds),
        "quiz_q1": "orange",
        "quiz_q2": "blue",
        "quiz_q3": "orange",
    }


def column(values):
    import datasets

    return datasets.Dataset.from_dict({"c": list(values)})["c"]


def series(values):
    import pandas as pd

    return pd.Series(list(values))


def tensor(values):
    import torch

    return torch.tensor(np.asarray(values))


SEQUENCES = {
    "tuple": tuple,
    "datasets Column": column,
    "pandas Series": series,
    "deque": collections.deque,
    "NumPy array": np.asarray,
    "NumPy object array": lambda v: np.asarray(list(v), dtype=object),
}
KINDS = {
    "train_texts": {**SEQUENCES, "NumPy strings": lambda v: [np.str_(t) for t in v]},
    "test_texts": SEQUENCES,
    "train_labels": {**SEQUENCES, "torch tensor": tensor, "NumPy integers": lambda v: [np.int64(y) for y in v]},
    "test_labels": {**SEQUENCES, "torch tensor": tensor},
    "bow_preds": {"list": list, **SEQUENCES, "torch tensor": tensor},
    "acc_bow": {
        "NumPy float64": np.float64,
        "NumPy float32": np.float32,
        "torch scalar": tensor,
        "0-d array": np.asarray,
    },
    "num_labels": {"NumPy int64": np.int64, "torch scalar": tensor},
    "quiz_q1": {"NumPy string": np.str_},
}
CASES = [(name, kind) for name, kinds in KINDS.items() for kind in kinds]
WRONG = {  # a wrong value of each name, as plain data: its kind must not change the verdict nor the message
    "train_texts": lambda v: v[:-1],
    "test_texts": lambda v: v[1:] + v[:1],
    "train_labels": lambda v: [(y + 1) % 3 for y in v],
    "test_labels": lambda v: v[:-1],
    "bow_preds": lambda v: [0 for _ in v],
    "acc_bow": lambda v: v + 0.1,
    "num_labels": lambda v: 2,
    "quiz_q1": lambda v: "green",
}


@functools.cache
def right_lines() -> dict[str, bytes]:
    """Each right value's line of a facts file, taken once (the estimators' take a while)."""
    values = right_values()
    return {name: facts.line(name, facts.take(name, value, facts._Names(values))) for name, value in values.items()}


def verdicts(grader, values: dict, name: str | None = None) -> dict:
    """Each test case's (passed, message) on ``values`` (the right ones, ``name`` in another kind or
    wrong): of the questions that read ``name`` (default: all)."""
    questions = [q for q, names in QUESTIONS.items() if name is None or name in names.split()]
    lines = dict(right_lines())
    if name is not None:
        lines[name] = facts.line(name, facts.take(name, values[name], facts._Names(values)))
    env = facts.read(facts.header() + b"".join(lines.values()) + facts.end_line(taken=list(lines)))
    return {case: (v.passed, v.message) for found in grader.grade(env, questions).values() for case, v in found.items()}


@pytest.fixture(scope="module")
def grader(tmp_path_factory):
    from conftest import built_suite

    with pytest.MonkeyPatch.context() as monkeypatch:
        yield verdict.Grader(built_suite(tmp_path_factory.mktemp("kinds"), monkeypatch), None)


def test_the_plain_right_notebook_passes(grader):
    found = verdicts(grader, right_values())
    assert all(passed for passed, _ in found.values()), {c: m for c, (p, m) in found.items() if not p}


@pytest.mark.parametrize("name, kind", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_every_kind_gets_the_plain_values_verdicts(grader, name, kind):
    right = right_values()
    make = KINDS[name][kind]
    plain_value = right[name] if not isinstance(right[name], np.ndarray) else right[name].tolist()
    assert all(passed for passed, _ in verdicts(grader, {**right, name: make(plain_value)}, name).values()), kind
    wrong = WRONG[name](plain_value)
    plain = verdicts(grader, {**right, name: wrong}, name)
    assert plain != verdicts(grader, right, name) and verdicts(grader, {**right, name: make(wrong)}, name) == plain


def test_a_value_that_cannot_cross_fails_with_what_it_is_not_a_type_error(grader):
    class Tweets:  # neither a sequence nor an array
        def __repr__(self):
            return "<my tweets>"

    found = verdicts(grader, {**right_values(), "train_texts": Tweets()}, "train_texts")
    failed = [message for passed, message in found.values() if not passed]
    assert failed and all("TypeError" not in m and "Opaque" not in m for m in failed), failed
    assert any("train_texts holds <my tweets>" in m and "cannot read as data" in m for m in failed), failed
