"""Someone else's results file, edited to hide where it came from: what the TA report's near-copy flag
(tools/agreement.py) must catch, and every check of a run accepts. The corpus and ``bench seeds`` make
their copies here."""

from __future__ import annotations

import copy
import math
import random

from tools import project


def record_consistently(r: dict, run: str, preds: list[int], logits: list[list[float]], gold: list[int]) -> None:
    """``run``'s predictions and scores, recorded as a real run would record them: predict's metrics,
    the last evaluation and acc_* give the accuracy and loss that they score on the true labels ``gold``."""
    loss = sum(math.log(sum(math.exp(v) for v in row)) - row[y] for row, y in zip(logits, gold)) / len(gold)
    accuracy = sum(p == y for p, y in zip(preds, gold)) / len(gold)
    r[f"{run}_preds"], r[f"{run}_logits"], r[f"acc_{run}"] = preds, logits, accuracy
    [e for e in r[f"{run}_log_history"] if "eval_accuracy" in e][-1].update(eval_accuracy=accuracy, eval_loss=loss)
    r[f"{run}_metrics"].update(test_accuracy=accuracy, test_loss=loss)


def flipped(record: dict, share: float, gold: list[int], seed: int = 0) -> dict:
    """A copy of ``record`` with ``share`` of each run's test predictions changed consistently: in those
    rows the two highest scores swap places (the prediction becomes the runner-up), and the accuracy
    and loss of the log, the metrics and acc_* are edited to match."""
    r, pick = copy.deepcopy(record), random.Random(seed)
    for run in project.RUNS:
        logits = [list(row) for row in r[f"{run}_logits"]]
        for i in pick.sample(range(len(logits)), round(share * len(logits))):
            top, second = sorted(range(3), key=lambda k: logits[i][k], reverse=True)[:2]
            logits[i][top], logits[i][second] = logits[i][second], logits[i][top]
        record_consistently(r, run, [max(range(3), key=row.__getitem__) for row in logits], logits, gold)
    return r


def rescored(record: dict, gold: list[int], size: float = 0.01, seed: int = 0) -> dict:
    """A copy of ``record`` whose every score moved a little (at most ``size``, and never enough to change
    a prediction), the loss edited to match: no prediction changes; only the rows whose two highest
    scores tie within the file's rounding keep their scores."""
    r, noise = copy.deepcopy(record), random.Random(seed)
    for run in project.RUNS:
        logits = []
        for row in r[f"{run}_logits"]:
            top, second = sorted(row, reverse=True)[:2]
            if top - second < 1e-4:  # within the file's rounding of a tie: moved, it could change its class
                logits.append(list(row))
                continue
            step = min(size, (top - second) / 3)
            logits.append([round(v + noise.uniform(-step, step), 5) for v in row])
        record_consistently(r, run, r[f"{run}_preds"], logits, gold)
    return r


def noisy(runs: dict, swapped: float, noise: float, seed: int = 0) -> dict:
    """A copy of a submission's runs (agreement.Run, as the report compares them) made noisy on purpose:
    ``swapped`` of the fine-tuned rows' two highest scores swapped, then normal noise of sd ``noise`` added
    to every score of every run, the predictions following the scores."""
    import numpy as np

    from tools import agreement

    rng = np.random.default_rng(seed)
    out = {}
    for run, one in runs.items():
        scores = one.scores.astype(np.float64).copy()
        if run == "ft" and swapped:
            rows = rng.choice(len(scores), round(swapped * len(scores)), replace=False)
            order = np.argsort(-scores[rows], axis=1)
            top, second = order[:, 0], order[:, 1]
            values = scores[rows, top].copy()
            scores[rows, top] = scores[rows, second]
            scores[rows, second] = values
        scores += rng.normal(0, noise, scores.shape)
        out[run] = agreement.Run(scores.argmax(axis=1).astype(np.int8), scores.astype(np.float32))
    return out
