"""A profile's calibration: what many honest students' runs score and how much they agree, in one file.

``python3 -m tools calibrate`` writes it (assignment/lab5_calibration_<profile>.json); the build puts it
into the autograder, whose answer key takes the accepted accuracy ranges from it (q2, q5, q7), and the
TA report takes from it where honest pairs of runs end (tools/agreement.py) and says when a class's runs
sit outside or near either (docs/design.md, "Profiles and calibrated ranges").

The file holds what the ranges were made from (each run's accuracies, each two runs' agreement) beside
the ranges, so that a reader can check the rule below, and where, when and on what it was measured.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from tools import project

# How far a range reaches beyond the calibration's runs: what the training seed alone moves an accuracy
# (the answer key's SEED_NOISE) past the least and the most any run scored ...
MARGIN = 0.05
# ... and, for the two models that learn (their accuracy over seeds is about normal), at least the
# prediction interval of one more honest run with TAIL outside on each side: Student's t with the
# runs' mean and standard deviation (N seeds show neither exactly, and cannot show the tail of a
# class of 300; with 8 seeds the fine-tuned floor sits 5.1 standard deviations below the mean).
# A model from random weights mostly calls one class, so its accuracy is a class's share of the test
# subset: its range covers every class's share, with the margin.
TAIL = 0.001
LEARNS = ("acc_bow", "acc_ft")
# The report's check of a class against the ranges: its own mean, SPREAD of its standard deviations
# either side (a class of 20 runs or more shows its spread well enough to say so).
SPREAD = 3


def path(profile: str) -> Path:
    """The profile's calibration in the master's folder: what the build puts into the autograder, beside
    the answer key, which reads it (its CALIBRATION_FILE)."""
    from tools.autograder import checkout_module

    return project.ASSIGNMENT / checkout_module("lab5_answer_key").CALIBRATION_FILE.format(profile=profile)


def prediction_interval(values: list[float], tail: float = TAIL) -> tuple[float, float]:
    """Where one more run falls, ``tail`` outside on each side, if runs are normal with a mean and
    spread known only from ``values``: mean ± t(n-1) · sd · sqrt(1 + 1/n)."""
    from scipy import stats

    n, mean, sd = len(values), statistics.mean(values), statistics.stdev(values)
    reach = float(stats.t.ppf(1 - tail, n - 1)) * sd * math.sqrt(1 + 1 / n)
    return mean - reach, mean + reach


def ranges(accuracies: dict[str, list[float]], class_shares: list[float]) -> dict[str, list[float]]:
    """The accepted range of each accuracy, from the calibration runs' accuracies (the rule above),
    rounded outward to 0.01 and kept within [0, 1]."""
    out = {}
    for key in project.ACCURACIES:
        values = list(accuracies[key]) + ([] if key in LEARNS else list(class_shares))
        low, high = min(values) - MARGIN, max(values) + MARGIN
        if key in LEARNS and len(accuracies[key]) > 1:
            interval = prediction_interval(accuracies[key])
            low, high = min(low, interval[0]), max(high, interval[1])
        out[key] = [max(0.0, math.floor(low * 100 + 1e-9) / 100), min(1.0, math.ceil(high * 100 - 1e-9) / 100)]
    return out


def dumps(made: dict) -> str:
    """The file's text: a key a line, and a list of numbers on one line, so that a reader (and a diff)
    sees each run's or pair's figures together."""

    def value(v, indent: str) -> str:
        if isinstance(v, dict) and v:
            inner = ",\n".join(f"{indent}  {json.dumps(k)}: {value(x, indent + '  ')}" for k, x in v.items())
            return "{\n" + inner + "\n" + indent + "}"
        return json.dumps(v)

    return value(made, "") + "\n"


def pair_values(calibration: dict | None, column: str) -> list[float]:
    """The calibration runs' pairs' values of an agreement column (agreement.MEASURES), in its unit
    (a value that is no finite number, none)."""
    values = ((calibration or {}).get("pairs") or {}).get(column) or []
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def source(calibration: dict | None) -> str:
    """Where a calibration's figures come from, in the report's words."""
    if not calibration:
        return "no calibration in this autograder"
    if not calibration.get("seeds"):
        return f"the {calibration['profile']} profile's ranges are reasoned, not measured: {calibration.get('note', '')}".rstrip(
            ": "
        )
    said = (
        f"{len(calibration['seeds'])} honest runs of the {calibration['profile']} profile (training seeds "
        f"{min(calibration['seeds'])} to {max(calibration['seeds'])}), {calibration.get('made', 'undated')}, "
        f"{calibration.get('machine', 'machine unknown')}"
    )
    if calibration.get("standin"):
        said += f"; made on the hub's stand-in ({calibration['standin']}): not the lab's figures"
    return said
