"""The check before each training (docs/design.md, "Before training"): every setting that the run checks
will later hold a results record to is checked on the notebook's own TrainingArguments before the
training cell trains, by the public checks of question 4 (lab5_checks.check_arguments) that the
training cells run first (lab5_utils.ready_to_train). Real TrainingArguments, taken as facts the way
the tests take them; no training, no kernel (the browser journey shows it in JupyterLab)."""

from __future__ import annotations

import types

import lab5_checks as checks
import lab5_facts as facts
import lab5_utils as lab
import pytest
from transformers import TrainingArguments

SEED = 1234
# Question 4's args, as the solution writes them.
LAB_ARGS = dict(
    output_dir="lab5-finetune",
    eval_strategy="epoch",
    save_strategy="no",
    report_to="none",
    fp16=False,
    seed=SEED,
    **lab.TRAINING,
)
# One wrong setting each: what a typo or a habit from another tutorial does, and what the message names.
ONE_WRONG = {
    "learning rate 5e-5": ({"learning_rate": 5e-5}, "learning_rate=5e-05 (expected 2e-05)"),
    "learning rate 2e-4 (a typo)": ({"learning_rate": 2e-4}, "learning_rate=0.0002"),
    "3 epochs": ({"num_train_epochs": 3}, "num_train_epochs=3"),
    "train batch size 32": ({"per_device_train_batch_size": 32}, "per_device_train_batch_size=32"),
    "eval batch size 16": ({"per_device_eval_batch_size": 16}, "per_device_eval_batch_size=16"),
    "no weight decay": ({"weight_decay": 0.0}, "weight_decay=0.0"),
    "a log line every 10 steps": ({"logging_steps": 10}, "logging_steps=10"),
    "no evaluation": ({"eval_strategy": "no"}, "eval_strategy='no'"),
    "evaluation every 50 steps": ({"eval_strategy": "steps", "eval_steps": 50}, "eval_strategy='steps'"),
    "checkpoints every epoch": ({"save_strategy": "epoch"}, "save_strategy='epoch'"),
    "warmup": ({"warmup_steps": 50}, "warmup_steps=50"),
    "a cosine schedule": ({"lr_scheduler_type": "cosine"}, "lr_scheduler_type='cosine'"),
    "gradient accumulation": ({"gradient_accumulation_steps": 2}, "gradient_accumulation_steps=2"),
    "a step limit": ({"max_steps": 100}, "max_steps=100"),
    "the loss logged at step 1": ({"logging_first_step": True}, "logging_first_step=True"),
    "an evaluation before training": ({"eval_on_start": True}, "eval_on_start=True"),
    "the first evaluation delayed": ({"eval_delay": 2}, "eval_delay=2"),
    "the last short batch dropped": ({"dataloader_drop_last": True}, "dataloader_drop_last=True"),
    "epochs logged instead of steps": ({"logging_strategy": "epoch"}, "logging_strategy='epoch'"),
    "the default seed": ({"seed": 42}, "pass seed=TRAIN_SEED"),
}
# Settings that change nothing the run checks or the grading read: no message.
HARMLESS = {
    "another output folder": {"output_dir": "my-run"},
    "no progress bars": {"disable_tqdm": True},
    "data loader workers": {"dataloader_num_workers": 2},
    "num_train_epochs as a float": {"num_train_epochs": 2.0},
}


@pytest.fixture(autouse=True)
def seed_file(tmp_path, monkeypatch):
    """A student's folder whose lab5_seed.txt holds SEED."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / lab.SEED_FILE).write_text(f"{SEED}\n")


def arguments_problem(**changes) -> str | None:
    """What the public check of question 4's args says of the lab's args with ``changes`` (None: passes)."""
    args = TrainingArguments(**{**LAB_ARGS, **changes})
    env = facts.of({"args": args}, ["args"])  # what the tests hold, as in the notebook and at grading
    try:
        checks.check_arguments(checks.require(env, "args"), "args")
    except AssertionError as failed:
        return str(failed)
    return None


def test_the_lab_settings_pass():
    assert arguments_problem() is None


@pytest.mark.parametrize("what", sorted(HARMLESS))
def test_a_setting_the_runs_do_not_depend_on_passes(what):
    assert arguments_problem(**HARMLESS[what]) is None


@pytest.mark.parametrize("what", sorted(ONE_WRONG))
def test_one_wrong_setting_fails_before_training_naming_it(what):
    changes, says = ONE_WRONG[what]
    problem = arguments_problem(**changes)
    assert problem is not None, f"{what}: the check before training lets it through"
    assert says in problem, problem


def test_every_setting_the_run_checks_hold_is_checked():
    """Each of the lab's settings, and each default the run checks' schedule depends on, has a wrong value
    above: a new entry in lab5_utils.TRAINING or SCHEDULE needs its case here."""
    tried = {key for changes, _ in ONE_WRONG.values() for key in changes}
    assert set(lab.TRAINING) | set(lab.SCHEDULE) | {"seed"} <= tried


def test_mixed_precision_follows_the_machine():
    # no GPU here: fp16=True is what a notebook that hard-codes it gives on a CPU-only machine
    assert "pass fp16=torch.cuda.is_available()" in arguments_problem(fp16=True)


class Grader:
    """otter.Notebook's check, as ready_to_train calls it: each question's result."""

    def __init__(self, passed: dict[str, bool | None]):
        self.passed, self.asked = passed, []

    def check(self, question, env):
        self.asked.append(question)
        if question not in self.passed:
            raise FileNotFoundError(f"Test {question} does not exist")
        ok = self.passed[question]
        return None if ok is None else types.SimpleNamespace(passed_all=ok)


def test_training_starts_when_every_check_passes():
    grader = Grader({"q1_data": True, "q3_tokenize": True, "q4_setup": True, "q6_scratch_setup": True})
    lab.ready_to_train(grader, {}, "scratch")
    assert grader.asked == ["q1_data", "q3_tokenize", "q4_setup", "q6_scratch_setup"]


def test_training_stops_before_it_starts_when_a_check_fails(capsys):
    with pytest.raises(lab.LabSetupError, match="Not training yet: the checks of q6_scratch_setup fail"):
        lab.ready_to_train(
            Grader({"q1_data": True, "q3_tokenize": True, "q4_setup": True, "q6_scratch_setup": False}), {}, "scratch"
        )


def test_at_grading_the_training_cells_check_nothing():
    # otter's grading mode: grader.check returns None (and nothing is trained)
    lab.ready_to_train(Grader({"q1_data": None}), {}, "ft")


def test_without_the_tests_folder_it_says_so_and_trains(capsys):
    lab.ready_to_train(Grader({}), {}, "ft")
    assert "No checks of q1_data, q3_tokenize, q4_setup here" in capsys.readouterr().out
