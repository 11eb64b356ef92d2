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

from bench import facts as bench_facts
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


def facts_file(names: dict, end: bool = True) -> bytes:
    """A facts file holding ``names`` (name -> its facts record, or the raw bytes of its line)."""
    lines = [facts.line(name, node) if not isinstance(node, bytes) else node + b"\n" for name, node in names.items()]
    return facts.header() + b"".join(lines) + (facts.end_line(taken=list(names)) if end else b"")


@pytest.mark.parametrize(
    "data, says",
    [
        (b"not json", "not of this lab's format"),
        (b"[" * 100_000 + b"]" * 100_000, "not of this lab's format"),
        (b'{"format": 1, "names": {}}', "not of this lab's format"),
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
    env = facts.read(facts_file(names))
    assert env["quiz_q2"] == "orange" and "not_graded" not in env
    assert isinstance(env["args"], dict)  # a value where an object was declared: the tests find no settings on it
    for name in ("quiz_q1", "model_ft", "tok_train"):
        assert isinstance(env[name], facts.Unreadable), name
        with pytest.raises(AssertionError, match=f"{name} could not be graded"):
            checks.require(env, name)


def line_of(name: str, value_json: bytes) -> bytes:
    return bench_facts.line_of(facts, name, value_json)


# Lines a damaged (or hostile) student's side could write under FILE_LIMIT: each costs its own name alone.
DAMAGED = {
    "train_texts": (line_of("train_texts", b"1" * 10_000), "not JSON"),  # a 10,000-digit integer
    "train_labels": (line_of("train_labels", b"[" * 200_000 + b"]" * 200_000), "nested too deep"),
    "test_texts": (line_of("test_texts", b"[" * 5_000 + b"]" * 5_000), "nested too deep"),
    "test_labels": (line_of("test_labels", b"[" + b"[]," * 1_200_000 + b"[]]"), "more values than"),
    "bow_preds": (line_of("bow_preds", b'"' + b"x" * facts.NAME_LIMIT + b'"'), "bytes (at most"),
    "tfidf": (line_of("tfidf", b"{'not': 'json'}"), "not JSON"),
    "tok_fn": (b'{"name": "tok_fn", "facts": {"kind": "function", "calls": 3}}', "not records of calls"),
}


def test_one_damaged_name_costs_that_name_alone():
    names = {"quiz_q1": {"kind": "value", "value": "orange"}, "acc_bow": {"kind": "value", "value": float("nan")}}
    names.update({name: raw for name, (raw, _) in DAMAGED.items()})
    names["quiz_q2"] = {"kind": "value", "value": "blue"}
    data = facts_file(names) + line_of("quiz_q2", b'"orange"') + b"\n"  # a second line for a name
    assert len(data) < facts.FILE_LIMIT
    env = facts.read(data)
    assert env["quiz_q1"] == "orange" and env["acc_bow"] != env["acc_bow"] and env.end is not None
    for name, (_, says) in DAMAGED.items():
        assert isinstance(env[name], facts.Unreadable) and says in env[name].reason, (name, env[name].reason)
    assert isinstance(env["quiz_q2"], facts.Unreadable) and "written twice" in env["quiz_q2"].reason
    assert checks.real(env["acc_bow"]) is None  # NaN is no accuracy: q5 compares with the baseline only when it is one


@pytest.mark.parametrize("item", [b"[]", b"{}", b'""', b"0.5", b"[{}]"])
def test_the_grader_reads_the_worst_file_within_a_small_memory(item):
    """Counted before it is parsed: the largest file of the smallest values parses no more than the
    syntax limits allow, whatever the file holds (the peak in the emulated container: bench boundary)."""
    import tracemalloc

    data = bench_facts.worst_file(facts, item)
    tracemalloc.start()
    env = facts.read(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < facts.READ_MEMORY, f"{peak / 2**20:.0f} MB"
    refused = [name for name, value in env.items() if "more values than" in getattr(value, "reason", "")]
    assert refused  # the names past the total


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
    graded = facts.read(facts.extract(namespace))
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


# --------------------------------------------------------------------------------------------
# At grading: each name taken in a process of its own (lab5_grading_mode.write_facts)
# --------------------------------------------------------------------------------------------


def ignores_the_timer(batch):
    import signal

    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        pass


def swallows_everything(*args, **kwargs):
    import time

    while True:
        try:
            time.sleep(0.05)
        except BaseException:  # noqa: BLE001, S110 (what a careless notebook does)
            pass


def exits(*args, **kwargs):
    raise SystemExit(0)


def interrupts(*args, **kwargs):
    raise KeyboardInterrupt


def ends_its_process(*args, **kwargs):
    import os

    os._exit(0)


def enormous(*args, **kwargs):
    return {"input_ids": [[0] * 1000] * 100_000}


@pytest.mark.parametrize(
    "tok_fn, says",
    [
        (ignores_the_timer, "did not finish within"),
        (swallows_everything, "did not finish within"),
        (ends_its_process, "ended the process that took them"),
        (exits, None),
        (interrupts, None),
        (enormous, None),
    ],
)
def test_a_function_that_fights_the_grader_costs_its_own_name(tmp_path, monkeypatch, tok_fn, says):
    import lab5_grading_mode as mode
    from transformers import EvalPrediction  # noqa: F401  (imported by the notebook before its facts are taken)

    monkeypatch.setattr(mode, "NAME_LIMIT_S", 2)
    monkeypatch.setattr(facts, "TAKEN", None)  # write_facts sets it, as at grading
    monkeypatch.setattr(facts, "CALL_LIMIT_S", 1)
    namespace = {"tok_fn": tok_fn, "compute_metrics": exits, "quiz_q1": "orange", "acc_bow": 0.47}
    path = tmp_path / "facts.json"
    mode.write_facts(namespace, str(path))
    env = facts.read(path.read_bytes())
    assert env.end is not None and env["quiz_q1"] == "orange" and env["acc_bow"] == 0.47
    with pytest.raises(facts.StudentCodeError, match="SystemExit"):
        env["compute_metrics"](predictions=[[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]], label_ids=[0, 1])
    if says:
        with pytest.raises(AssertionError, match=f"tok_fn could not be graded: .*{says}"):
            checks.require(env, "tok_fn")
    else:  # raised, or too large: a fact of its own, which fails the test that calls it
        with pytest.raises((facts.StudentCodeError, AssertionError)):
            checks.require(env, "tok_fn")({"text": ["I love this lab!", "meh"]})
