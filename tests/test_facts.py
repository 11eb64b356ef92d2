"""lab5_facts: what crosses from the student's side to the grader is data, validated against each graded
name's declaration; a test sees the same facts in the student's kernel as at grading, and a test that
reads what no declaration carries fails the build with what to declare."""

from __future__ import annotations

import json
import re

import lab5_checks as checks
import lab5_facts as facts
import numpy as np
import pytest

from tools import project


def roundtrip(value):
    return facts.decode(json.loads(json.dumps(facts.encode(value))))


@pytest.mark.parametrize(
    "value",
    [
        0.5,
        1,
        True,
        None,
        "0.57",
        [1, 2],
        (1, 2),
        {"a": [1.5]},
        ...,
        float("inf"),
        np.float64(0.5),
        np.float32(0.25),
        np.int64(3),
        np.bool_(True),
    ],
)
def test_plain_values_cross_as_themselves(value):
    got = roundtrip(value)
    assert type(got) is type(value) and (got == value or got is value)


def test_arrays_cross_as_arrays_and_other_objects_as_their_type():
    got = roundtrip(np.array([[1, 2], [3, 4]], dtype=np.int32))
    assert isinstance(got, np.ndarray) and got.dtype == np.int32 and got.tolist() == [[1, 2], [3, 4]]

    class Tricky(str):  # a string that claims to equal anything: crosses as the plain string it holds
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    assert type(roundtrip(Tricky("blue"))) is str and roundtrip(Tricky("blue")) != "orange"
    other = roundtrip(object())
    assert isinstance(other, facts.Opaque) and other != other and "object" in repr(other)
    long = roundtrip("x" * (facts.TEXT_LIMIT + 1))
    assert isinstance(long, facts.Opaque) and "a text of 100,001 characters" in repr(long)


@pytest.mark.parametrize(
    "node, says",
    [
        ({"t": "np", "dtype": "object", "v": 1}, "a dtype"),
        ({"t": "np", "dtype": "uint8", "v": -1}, "does not fit"),
        ({"t": "array", "dtype": "int64", "v": [[1], [2, 3]]}, "does not read"),
        ({"t": "code", "v": "import os"}, "a value tagged 'code'"),
        ({"t": "dict", "v": [1]}, "a value tagged 'dict'"),
    ],
)
def test_malformed_values_are_not_gradable(node, says):
    with pytest.raises(facts.NotGradable, match=says):
        facts.decode(node)


@pytest.mark.parametrize(
    "data, says",
    [
        (b"not json", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"format": 99, "names": {}}', "not of this lab's format"),
        (b"0" * (facts.FILE_LIMIT + 1), "bytes (at most"),
    ],
)
def test_a_facts_file_that_does_not_read_says_why(data, says):
    with pytest.raises(facts.NotGradable, match=re.escape(says)):
        facts.read(data)


def test_each_name_is_read_against_its_declaration():
    names = {
        "quiz_q1": {"kind": "verdict", "passed": True},  # a verdict instead of a fact
        "args": {
            "kind": "value",
            "value": {"t": "dict", "v": {"learning_rate": 2e-5}},
        },  # settings without their object
        "model_ft": {"kind": "arguments", "values": {}},  # facts of another kind
        "tok_train": "rows",
        "quiz_q2": {"kind": "value", "value": "orange"},
        "not_graded": {"kind": "value", "value": 1},
    }
    env = facts.read(json.dumps({"format": facts.FORMAT, "names": names}).encode())
    assert env["quiz_q2"] == "orange" and "not_graded" not in env
    assert isinstance(env["args"], dict)  # a value where an object was declared: the tests find no settings on it
    for name in ("quiz_q1", "model_ft", "tok_train"):
        assert isinstance(env[name], facts.Unreadable), name
        with pytest.raises(AssertionError, match=f"{name} could not be graded"):
            checks.require(env, name)


def test_a_value_of_the_wrong_kind_says_what_it_is():
    env = facts.of({"tfidf": "a vectorizer", "tok_fn": 3}, ["tfidf", "tok_fn"])
    with pytest.raises(AssertionError, match="tfidf is 'a vectorizer' \\(str\\), not a scikit-learn estimator"):
        checks.require(env, "tfidf")
    with pytest.raises(AssertionError, match="tok_fn is 3 \\(int\\), not a function"):
        checks.require(env, "tok_fn")


def test_the_kernel_and_the_grader_see_the_same_facts():
    from sklearn.feature_extraction.text import TfidfVectorizer

    def tok_fn(batch):
        return {"input_ids": [[101, len(text), 102] for text in batch["text"]]}

    tfidf = TfidfVectorizer().fit(["good day", "bad day"])
    namespace = {"tfidf": tfidf, "tok_fn": tok_fn, "train_texts": ["good day", "bad day"], "quiz_q1": " Orange "}
    live = facts.of(namespace, ["tfidf", "tok_fn", "train_texts", "quiz_q1"])
    graded = facts.read(json.dumps(facts.extract(namespace)).encode())
    for env in (live, graded):
        assert env["tfidf"].get_params()["ngram_range"] == (1, 1) and set(env["tfidf"].vocabulary_) == {
            "good",
            "bad",
            "day",
        }
        assert env["tok_fn"]({"text": ["I love this lab!", "meh"]}) == {"input_ids": [[101, 16, 102], [101, 3, 102]]}
        assert env["train_texts"] == ["good day", "bad day"] and env["quiz_q1"] == " Orange "


def test_what_a_test_reads_beyond_the_declarations_says_what_to_declare():
    from sklearn.feature_extraction.text import TfidfVectorizer

    env = facts.of({"tfidf": TfidfVectorizer().fit(["good day"]), "tok_fn": lambda batch: {}}, ["tfidf", "tok_fn"])
    with pytest.raises(facts.UndeclaredFact, match=r"declare it in lab5_facts.GRADED\['tfidf'\]"):
        _ = env["tfidf"].idf_
    with pytest.raises(
        facts.UndeclaredFact, match=r"add call\(...\) with those inputs to lab5_facts.GRADED\['tok_fn'\]"
    ):
        env["tok_fn"]({"text": ["another input"]})
    with pytest.raises(facts.UndeclaredFact, match="which is not a graded name"):
        checks.require({"secret": 1}, "secret")
    assert not isinstance(facts.UndeclaredFact("x"), AssertionError)  # fails the build, not a student's test


def test_a_function_that_raises_or_never_returns_is_a_fact(monkeypatch):
    monkeypatch.setattr(facts, "CALL_LIMIT_S", 0.5)

    def slow(batch):
        import time

        time.sleep(60)

    env = facts.of({"tok_fn": lambda batch: 1 / 0, "compute_metrics": slow}, ["tok_fn", "compute_metrics"])
    with pytest.raises(facts.StudentCodeError, match="ZeroDivisionError: division by zero"):
        env["tok_fn"]({"text": ["I love this lab!", "meh"]})
    with pytest.raises(facts.StudentCodeError, match="TimeoutError: it did not return within"):
        env["compute_metrics"](predictions=[[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]], label_ids=[0, 1])


def test_the_graded_names_are_the_student_facing_names_of_the_design():
    design = (project.ROOT / "docs" / "design.md").read_text()
    section = design[design.index("### Student-facing names") : design.index("## What runs where")]
    named = set(re.findall(r"`(\w+)`", section.split("these may not be renamed:")[1]))
    assert named == set(facts.GRADED)


def test_messages_echo_a_students_value_shortened():
    assert checks.shown("x" * 500) == repr("x" * 500)[: facts.SHOWN - 1] + "…"
    assert checks.shown(0.5) == "0.5"
