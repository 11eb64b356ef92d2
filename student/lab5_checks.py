"""What the tests call: a notebook's variables (``require``), and whether a results record adds up as
one real training run of this lab, from what it says of itself (the public check of a run,
``check_saved_run``, and the hidden ones, which add what needs the true labels: ``more``).

Students get this module with the public tests; the notebook never imports it. Why each check holds
for every real run, and what none of them can tell: docs/design.md, "The results record and its checks".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import lab5_facts as facts
import lab5_utils as lab
import numpy as np

# How far what one real run records may disagree with itself (docs/design.md, "Tolerances").
ACCURACY_TOLERANCE = 0.001  # 2 of 2,000 test tweets
LOSS_TOLERANCE = 0.001
RATE_TOLERANCE = 0.01  # samples/s x runtime vs samples: the log rounds both to 3-4 digits


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def real(value) -> float | None:
    """A notebook's number as a float, whatever its kind (int, float, a NumPy or torch scalar as the facts
    carry it); None when it is no finite real number (a bool, a list, NaN, text)."""
    import numbers

    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------------------------------------
# The record's shape: what save_results writes
# ---------------------------------------------------------------------------------------------


def predictions_shape(record: dict, run: str, test_size: int) -> str | None:
    """Why ``run``'s predictions and scores are not shaped as save_results writes them, or None."""
    preds, logits = record.get(f"{run}_preds"), record.get(f"{run}_logits")
    if not isinstance(preds, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in preds):
        example = (
            next((p for p in preds if not isinstance(p, int) or isinstance(p, bool)), preds)
            if isinstance(preds, list)
            else preds
        )
        return f"{run}_preds must be a list of class ids 0, 1, 2; it holds {shown(example)}"
    if any(not 0 <= p <= 2 for p in preds):
        return f"{run}_preds holds class ids outside 0, 1, 2"
    if len(preds) != test_size:
        return f"{run}_preds holds {len(preds)} predictions; the test subset has {test_size} tweets"
    if (
        not isinstance(logits, list)
        or len(logits) != test_size
        or not all(isinstance(row, list) and len(row) == 3 and all(finite(v) for v in row) for row in logits)
    ):
        return f"{run}_logits must hold 3 finite scores for each of the {test_size} test tweets"
    return None


def log_shape(record: dict, run: str) -> str | None:
    """Why ``run``'s log and metrics are not shaped as a Trainer writes them, or None."""
    log, metrics = record.get(f"{run}_log_history"), record.get(f"{run}_metrics")
    if not isinstance(log, list) or not log or not all(isinstance(e, dict) for e in log):
        return f"{run}_log_history must be the trainer's log (a list of entries); it is {str(log)[:60]!r}"
    if not all(finite(e.get("step")) and finite(e.get("epoch")) for e in log):
        return f"some entries of {run}_log_history have no step or epoch, which every Trainer log entry has"
    if not all(finite(e["eval_accuracy"]) for e in log if "eval_accuracy" in e):
        return f"some evaluations in {run}_log_history have an eval_accuracy that is not a number"
    if not isinstance(metrics, dict) or not all(finite(v) for v in metrics.values()):
        return f"{run}_metrics must be the metrics of trainer.predict (numbers)"
    return None


def shape_problem(record: dict, run: str, test_size: int) -> str | None:
    """Why ``run``'s part of the record is not shaped as save_results writes it, or None."""
    missing = [
        key
        for key in (f"{run}_preds", f"{run}_logits", f"{run}_log_history", f"{run}_metrics")
        if record.get(key) is None
    ]
    if missing:
        return f"it has no {', '.join(missing)} for {lab.RUNS[run].model}"
    return predictions_shape(record, run, test_size) or log_shape(record, run)


# ---------------------------------------------------------------------------------------------
# One run of the lab's settings: each check, what it compares
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the lab's settings make a Trainer run do on the profile's subsets."""

    train_size: int
    test_size: int
    epochs: int = lab.TRAINING["num_train_epochs"]
    batch: int = lab.TRAINING["per_device_train_batch_size"]
    every: int = lab.TRAINING["logging_steps"]
    learning_rate: float = lab.TRAINING["learning_rate"]

    @property
    def per_epoch(self) -> int:
        return math.ceil(self.train_size / self.batch)

    @property
    def total(self) -> int:
        return self.epochs * self.per_epoch


@dataclass(frozen=True)
class RunParts:
    """A well-shaped run of a record, as the checks read it."""

    preds: np.ndarray
    logits: np.ndarray
    summary: list[dict]  # the end-of-training entries (one in a real run)
    evals: list[dict]
    losses: list[dict]
    metrics: dict

    @classmethod
    def of(cls, record: dict, run: str) -> RunParts:
        log = record[f"{run}_log_history"]
        return cls(
            np.asarray(record[f"{run}_preds"]),
            np.asarray(record[f"{run}_logits"], dtype=np.float64),
            [e for e in log if "train_runtime" in e],
            [e for e in log if "eval_accuracy" in e],
            [e for e in log if "loss" in e],
            record[f"{run}_metrics"],
        )


def predictions_vs_scores(r: RunParts, name: str, plan: Plan) -> list[str]:
    """A prediction is the class with the highest score, up to the rounding of the saved scores."""
    chosen = np.take_along_axis(r.logits, r.preds[:, None], axis=-1)[:, 0]
    differ = int((chosen < r.logits.max(axis=-1) - 10.0**-lab.SCORE_DECIMALS).sum())
    return [f"{differ} of its {name}_preds are not the class with the highest score in {name}_logits"] if differ else []


def step_schedule(r: RunParts, name: str, plan: Plan) -> list[str]:
    """The end of training: at the last step of the last epoch, having seen every training tweet each epoch."""
    what = f"{plan.epochs} epochs of {plan.train_size} tweets in batches of {plan.batch} are {plan.total} steps"
    if len(r.summary) != 1 or not all(
        finite(r.summary[0].get(k)) for k in ("train_loss", "train_samples_per_second", "total_flos")
    ):
        return ["its log has no end-of-training entry (train_runtime, train_loss, ...): training did not finish"]
    end = r.summary[0]
    if (end["step"], end["epoch"]) != (plan.total, plan.epochs):
        return [f"its log ends at step {end['step']:g}, epoch {end['epoch']:g}; {what}"]
    seen, want = end["train_samples_per_second"] * end["train_runtime"], plan.epochs * plan.train_size
    if abs(seen - want) > RATE_TOLERANCE * want:
        return [f"its log's training speed and time give {seen:.0f} samples, not {plan.epochs} x {plan.train_size}"]
    return []


def evaluations(r: RunParts, name: str, plan: Plan) -> list[str]:
    """One evaluation after each epoch, each of the whole test subset."""
    problems = []
    want = [(plan.per_epoch * k, k) for k in range(1, plan.epochs + 1)]
    got = [(e["step"], round(e["epoch"], 6)) for e in r.evals]
    if got != want:
        problems.append(
            f"its log evaluates at steps {[s for s, _ in got]}; the lab evaluates after each epoch, "
            f"at steps {[s for s, _ in want]}"
        )
    for entry in r.evals:
        if not all(finite(entry.get(k)) for k in ("eval_loss", "eval_runtime", "eval_samples_per_second")):
            problems.append(
                f"the evaluation at step {entry['step']:g} lacks eval_loss, eval_runtime or eval_samples_per_second"
            )
            break
        if (
            abs(entry["eval_samples_per_second"] * entry["eval_runtime"] - plan.test_size)
            > RATE_TOLERANCE * plan.test_size
        ):
            problems.append(
                f"the evaluation at step {entry['step']:g} did not evaluate the {plan.test_size} test tweets"
            )
            break
    return problems


def learning_rate_and_loss(r: RunParts, name: str, plan: Plan) -> list[str]:
    """The training loss logged every logging_steps, under a learning rate that decays linearly to 0,
    and the end's train_loss their mean."""
    want = list(range(plan.every, plan.total + 1, plan.every))
    if [e["step"] for e in r.losses] != want:
        return [
            f"its log records the training loss at steps {[e['step'] for e in r.losses]}; "
            f"logging every {plan.every} steps gives {want}"
        ]
    problems = []
    rates = [e.get("learning_rate") for e in r.losses]
    expected = [plan.learning_rate * (plan.total - s + 1) / plan.total for s in want]
    if not all(finite(rate) and abs(rate - x) <= 1e-3 * x for rate, x in zip(rates, expected)):
        problems.append(
            f"its logged learning rates do not decay linearly from {plan.learning_rate:g} over {plan.total} steps"
        )
    if (
        r.summary
        and plan.total % plan.every == 0
        and all(finite(e["loss"]) for e in r.losses)
        and finite(r.summary[0].get("train_loss"))
    ):
        mean = sum(e["loss"] for e in r.losses) / len(r.losses)
        if abs(mean - r.summary[0]["train_loss"]) > 1e-3:
            problems.append(
                f"its train_loss {r.summary[0]['train_loss']:.4f} is not the mean of its logged losses ({mean:.4f})"
            )
    return problems


def predict_vs_evaluation(r: RunParts, name: str, plan: Plan) -> list[str]:
    """trainer.predict after training scores what the last epoch's evaluation of the same model did."""
    if not r.evals:
        return []
    last, problems = r.evals[-1], []
    if "test_accuracy" in r.metrics and abs(r.metrics["test_accuracy"] - last["eval_accuracy"]) > ACCURACY_TOLERANCE:
        problems.append(
            f"trainer.predict scored {r.metrics['test_accuracy']:.4f}, but the last epoch's evaluation of the "
            f"same model on the same tweets scored {last['eval_accuracy']:.4f}"
        )
    if "test_loss" in r.metrics and abs(r.metrics["test_loss"] - last.get("eval_loss", math.inf)) > LOSS_TOLERANCE:
        problems.append(
            f"trainer.predict's loss {r.metrics['test_loss']:.4f} differs from the last evaluation's "
            f"{last.get('eval_loss', math.nan):.4f}"
        )
    return problems


CHECKS = (predictions_vs_scores, step_schedule, evaluations, learning_rate_and_loss, predict_vs_evaluation)


def run_problems(record: dict, run: str = "ft", more=None) -> list[str]:
    """What does not add up in ``record`` as one real training run of this lab (empty: nothing).
    ``more(record, run)``, if given, adds the problems of further checks of a well-shaped run (the
    autograder's, against the test subset's true labels)."""
    profile = lab.get_profile()
    if record.get("profile") != profile.name:
        return [f"it was written in the '{record.get('profile')}' profile, but it is checked in the '{profile.name}'"]
    shape = shape_problem(record, run, profile.test_size)
    if shape:
        return [shape]
    plan, well_shaped = Plan(profile.train_size, profile.test_size), RunParts.of(record, run)
    problems = [problem for check in CHECKS for problem in check(well_shaped, run, plan)]
    return problems + (more(record, run) if more is not None else [])


def checked_run(record: dict, run: str = "ft", more=None) -> dict:
    """``record`` if it adds up as one real run of the lab (``more``: see run_problems); else a
    ResultsError saying what does not."""
    problems = run_problems(record, run, more)
    if problems:
        raise lab.ResultsError(
            f"{lab.RESULTS_FILE} does not add up as one training run of this lab ({lab.RUNS[run].model}): "
            + "; ".join(problems[:3])
            + f". Rerun the training and evaluation cells of {lab.RUNS[run].section} as they are (do not edit the "
            "file), then submit the new file.",
            reason=f"does not add up as one run ({lab.RUNS[run].model}): " + "; ".join(problems[:3]),
        )
    return record


# ---------------------------------------------------------------------------------------------
# Before training: what the run checks will hold a run to, checked on the notebook's objects
# ---------------------------------------------------------------------------------------------


def check_arguments(args, name: str = "args") -> None:
    """Fail with advice unless ``args`` (TrainingArguments' facts) hold every setting the run checks will
    later hold the run to (lab5_utils.TRAINING and SCHEDULE, reporting off, mixed precision where a GPU
    is, the student's training seed). Run before training, by the public checks of question 4 and by
    the training cells (lab5_utils.ready_to_train): a wrong setting found then costs nothing."""
    import torch

    values = args.to_dict()
    said = {**lab.TRAINING, **lab.QUESTION_4_SCHEDULE}  # the rest of SCHEDULE is TrainingArguments' defaults
    wrong = [
        f"{key}={shown(values.get(key))} (expected {want!r}{'' if key in said else ', its default: leave it out'})"
        for key, want in {**lab.TRAINING, **lab.SCHEDULE}.items()
        if values.get(key) != want
    ]
    assert not wrong, (
        f"{name} differ from the lab's settings: " + "; ".join(wrong) + ". Training with them takes the "
        "whole training time and then fails the checks of its results (questions 5 and 7): set them as question 4 says."
    )
    assert values.get("report_to") in ([], ["none"], "none"), (
        f"{name}.report_to is {shown(values.get('report_to'))}: set report_to='none', so training never waits for an experiment-tracker login."
    )
    gpu = torch.cuda.is_available()
    assert values.get("fp16") == gpu, (
        f"{name}.fp16 is {shown(values.get('fp16'))}, but this machine has {'a' if gpu else 'no'} GPU: "
        "pass fp16=torch.cuda.is_available() (mixed precision where a GPU is)."
    )
    seed = lab.training_seed()
    assert values.get("seed") == seed, (
        f"{name}.seed is {shown(values.get('seed'))}; your runs train with your training seed, {seed}: pass seed=TRAIN_SEED."
    )


def settings_differences(args, other) -> str:
    """The TrainingArguments settings in which ``other`` differs from ``args``, but for the output folder."""
    ignore = {"output_dir", "logging_dir", "run_name"}
    mine, theirs = args.to_dict(), other.to_dict()
    wrong = [
        f"{key}={shown(theirs.get(key))} (args: {shown(value)})"
        for key, value in mine.items()
        if key not in ignore and theirs.get(key) != value
    ]
    return "; ".join(wrong[:4])


def check_trainer(trainer, name: str, model, model_name: str, tok_train, tok_test) -> None:
    """Fail with advice unless ``trainer`` trains ``model`` on tok_train, evaluates on tok_test, with the
    tokenizer, compute_metrics and a collator that pads each batch (facts: lab5_facts.TrainerFacts)."""

    def labels(ds):
        column = "labels" if "labels" in ds.column_names else "label"
        return [int(y) for y in ds[column]] if column in ds.column_names else None

    assert trainer.model is model, f"{name} does not train {model_name}: pass model={model_name}."
    for role, given, expected in (
        ("train_dataset", trainer.train_dataset, tok_train),
        ("eval_dataset", trainer.eval_dataset, tok_test),
    ):
        wanted = "tok_train" if role == "train_dataset" else "tok_test"
        same = given is expected or (
            isinstance(given, facts.RowsFacts) and len(given) == len(expected) and labels(given) == labels(expected)
        )
        assert given is not None and same, f"{name}'s {role} must be {wanted}."
    assert trainer.processing_class is not None, f"pass processing_class=tokenizer to {name}'s Trainer."
    assert trainer.compute_metrics is not None, f"pass compute_metrics=compute_metrics to {name}'s Trainer."
    batch = trainer.collated
    assert "raised" not in batch, (
        f"{name} cannot batch tweets of different lengths ({shown(batch['raised'])}): pass data_collator=DataCollatorWithPadding(tokenizer)."
    )
    shape = batch.get("shape") or [0, 0]
    assert str(batch.get("type", "")).endswith("Tensor") and batch.get("ndim") == 2 and shape[1] <= 128, (
        f"{name}'s batches must be padded tensors of at most 128 tokens."
    )


# ---------------------------------------------------------------------------------------------
# What the tests call
# ---------------------------------------------------------------------------------------------


def check_saved_run(env: dict, run: str) -> None:
    """The public check of a training run: the results file holds it, it adds up in itself (what can
    be checked without the true labels), and acc_<run> in the notebook is an accuracy."""
    checked_run(lab.load_results(run), run)
    name = f"acc_{run}"
    value = require(env, name)
    number = real(value)
    assert number is not None and 0 <= number <= 1, (
        f"{name} = {shown(value)} is not an accuracy between 0 and 1: take it from the metrics of trainer.predict."
    )


def require(env: dict, *names: str):
    """What the tests hold of ``names`` of a notebook (lab5_facts: their facts, never the live objects),
    failing with a message a student can act on when one is missing. At grading ``env`` holds the
    facts already; in the notebook's own kernel they are taken from its variables the same way."""
    if not isinstance(env, facts.FactsEnv):
        env = facts.of(env, names)
    for name in names:
        value = env.get(name)
        assert value is not None, f"{name} is not defined: run the cell that creates it (and the cells above it) first."
        assert value is not Ellipsis, f"{name} is still `...`: fill in its blank."
        assert not isinstance(value, (facts.Unreadable, facts.WrongKind)), value.message
    values = tuple(env[name] for name in names)
    return values[0] if len(values) == 1 else values


def look_up(env: dict, name: str):
    """What the tests hold of ``name`` (as :func:`require`), or None when the notebook does not define it
    or its facts do not read: for a test that only compares with it when it is there."""
    if not isinstance(env, facts.FactsEnv):
        env = facts.of(env, [name])
    value = env.get(name)
    return None if isinstance(value, (facts.Unreadable, facts.WrongKind)) or value is Ellipsis else value


def shown(value) -> str:
    """A student's value as a message may echo it: its repr (a NumPy value's as the plain value it holds,
    so that a message reads the same whatever its kind), at most lab5_facts.SHOWN characters."""
    if type(value).__module__ == "numpy" and callable(getattr(value, "tolist", None)):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= facts.SHOWN else text[: facts.SHOWN - 1] + "…"
