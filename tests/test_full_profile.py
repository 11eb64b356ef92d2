"""The full profile (DistilBERT, 4,000 tweets, the hub's names), run here on the hub's stand-in
(tools/standin.py: the real architecture, vocabulary and TweetEval text, random weights): its loading,
tokenization and grading code paths, through the helper, the answer key and the TA command. Not its
training (hours on 2 CPU cores; bench/fullprofile.py measures it) and not its accuracy (random weights)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
from conftest import POINTS
from submissions.corpus import BY_NAME

from tools import project, standin, student
from tools.submissions import make_submission


def in_full_profile(code: str, home) -> dict:
    """Run ``code`` (which prints one JSON line last) in a fresh Python with the stand-in's environment."""
    env = {
        **standin.process_environment(home),
        "PYTHONPATH": os.pathsep.join([str(project.ASSIGNMENT), str(project.ROOT)]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env, cwd=project.ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


LOADS = """
import json
import lab5_utils as lab, lab5_answer_key as key
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, DistilBertConfig
profile = lab.get_profile()
data = lab.load_tweeteval()
tok = AutoTokenizer.from_pretrained(lab.checkpoint_path())
loaded = AutoModelForSequenceClassification.from_pretrained(lab.checkpoint_path(), num_labels=3, output_loading_info=True)
model, info = loaded
subsets = key.subsets()
ids = tok(subsets.test_texts[:50], truncation=True, max_length=lab.MAX_LENGTH)["input_ids"]
print(json.dumps({
    "profile": profile.name, "checkpoint": lab.checkpoint_path(),
    "splits": {k: len(v) for k, v in data.items()}, "labels": data["train"].features["label"].names,
    "vocab": len(tok), "cls": tok.cls_token_id, "class": type(model).__name__,
    "architecture": {k: v for k, v in AutoConfig.from_pretrained(lab.checkpoint_path()).to_dict().items()
                     if DistilBertConfig().to_dict().get(k) != v},
    "missing": sorted(info["missing_keys"]),
    "sizes": [len(subsets.train_texts), len(subsets.test_texts)],
    "overlap": len(set(subsets.train_texts) & set(subsets.test_texts)),
    "test_head": subsets.test_texts[:3], "key_ids": key.token_ids(subsets.test_texts[:50]) == ids,
    "config_file": key.checkpoint_file("config.json"), "rows": list(key.pretrained_rows().shape),
}))
"""


def test_the_full_profile_loads_by_the_hubs_names_from_the_standin(standin_home, tmp_path):
    found = in_full_profile(LOADS, standin_home)
    assert found["profile"] == "full" and found["checkpoint"] == "distilbert-base-uncased"
    assert found["splits"]["test"] == 12284 and found["splits"]["train"] == 12284 - 2000
    assert found["labels"] == ["negative", "neutral", "positive"]
    assert found["vocab"] == 30522 and found["cls"] == 101
    # DistilBertConfig()'s defaults are distilbert-base-uncased's architecture: nothing else differs
    assert found["architecture"] == {
        "architectures": ["DistilBertForMaskedLM"],
        "dtype": "float32",
        "_name_or_path": "distilbert-base-uncased",
    }
    assert found["class"] == "DistilBertForSequenceClassification"
    # what question 4 tells students the loading reports: the new head, and DistilBERT's pre-classifier
    assert found["missing"] == ["classifier.bias", "classifier.weight", "pre_classifier.bias", "pre_classifier.weight"]
    assert found["sizes"] == [4000, 2000] and found["overlap"] == 0
    assert found["key_ids"], "the answer key's tokenizer (tokenizers, no transformers) differs from the notebook's"
    assert found["config_file"].startswith(str(standin_home / "hub" / f"models--{standin.MODEL_REPO}" / "snapshots"))
    assert found["rows"][1] == 768
    # the same graded test subset as the offline profile: the real test split, shuffled with seed 42
    offline = subprocess.run(
        [sys.executable, "-c", "import json, lab5_answer_key as k; print(json.dumps(k.subsets().test_texts[:3]))"],
        capture_output=True,
        text=True,
        env={**os.environ, **project.lab_environment("offline"), "PYTHONPATH": str(project.ASSIGNMENT)},
        check=True,
    )
    assert json.loads(offline.stdout) == found["test_head"]


def test_the_standin_says_what_it_is(standin_home):
    assert standin.is_standin(standin_home)
    said = (standin_home / standin.MARKER).read_text()
    assert "random weights" in said and "never for accuracy" in said
    card = next((standin_home / "hub" / f"models--{standin.MODEL_REPO}" / "snapshots").glob("*/README.md")).read_text()
    assert "Stand-in" in card
    ignored = subprocess.run(["git", "check-ignore", "-q", str(standin_home)], cwd=project.ROOT)
    assert ignored.returncode == 0, "the stand-in is derived from the shared data: git must ignore it"


def test_a_full_profile_submission_is_graded_by_the_ta_command(standin_home, build_run, tmp_path):
    """The reference solution's notebook in the full profile, without a results file (no full-profile run
    can be trained in the suite): the TA command copies the data set and the checkpoint out of the hub's
    cache (as Gradescope's image setup does), the kernel loads DistilBERT twice and tokenizes the full
    subsets at grading in its sandbox, the grader judges every question on its facts; the runs' questions
    lose their points for the missing file, every other question is in full."""
    case = BY_NAME["wrong_results_missing"]
    inbox = tmp_path / "inbox"
    make_submission(case, student.filled_in(), build_run, inbox / "alice.zip")
    env = standin.process_environment(standin_home)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.grade",
            str(inbox),
            "--out",
            str(tmp_path / "out"),
            "--profile",
            "full",
            "--jobs",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=project.ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    row = pd.read_csv(tmp_path / "out" / "scores.csv", keep_default_na=False).set_index("submission").loc["alice"]
    assert row["status"] == "graded", row.to_dict()
    expected = {q: (case.scores or {}).get(q, points) for q, points in POINTS.items()}
    # accuracy, which the stand-in does not stand for: its train split is test tweets, closer to the test
    # subset than the hub's train split, and the baseline scores above the full profile's range
    expected["q2_baseline"] -= 1
    assert float(row["q2_baseline - 2"]) == 0 and 0.56 < float(row["acc_bow"]) < 0.7, row.to_dict()
    assert {q: float(row[q]) for q in POINTS} == {q: float(v) for q, v in expected.items()}, row.to_dict()
    assert f"no {project.RESULTS_FILE}" in row["flags"]
    assert "full profile on the hub's stand-in: random weights" in (tmp_path / "out" / "report.html").read_text()
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
