"""How much two students' training runs agree, and the TA report's near-copy flag.

Every student trains with a training seed of their own, so two honest runs of the lab agree on some
share of the test tweets and their scores correlate to some degree; a copy of someone else's results
file agrees on almost all of them, even with a few rows edited to hide it. Where honest pairs end comes
from the class's own pairs once it is large enough, else from the calibration's honest runs
(tools/calibration.py); a pair beyond that, at a stated false-flag rate, is flagged, naming both and the
measure (docs/design.md, "Copies: the same run, and near copies").

What is compared comes from what the autograder graded: its entry point reads the uploaded results
file and hands each run's test predictions and scores to the TA command (lab5_boundary's encode_run,
read back by its Extra.runs), never a file the notebook left behind. The report's flags of copies
(the same run) and near copies are made here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from tools import calibration as calibrated
from tools import project


@dataclass(frozen=True)
class Measure:
    run: str  # "ft" or "scratch"
    kind: str  # "agree" (predictions), "corr" (scores' correlation) or "gap" (scores' median difference)
    flagged: bool  # False: shown, never flagged (see MEASURES)

    @property
    def column(self) -> str:
        return f"{self.run}_{self.kind}"

    @property
    def closer_is_less(self) -> bool:
        """A gap is closer the smaller it is; agreement and correlation, the larger."""
        return self.kind == "gap"

    def share(self, value, n):
        """``value`` (a column's) in the measure's unit: agreement as a share of the test tweets."""
        return value / n if self.kind == "agree" else value

    def closeness(self, values) -> np.ndarray:
        """``values`` (in the measure's unit) on the scale where honest pairs spread about normally, the
        closer the larger: a correlation's Fisher z, a gap's negative logarithm."""
        values = np.asarray(values, dtype=np.float64)
        if self.kind == "corr":
            return np.arctanh(np.clip(values, -0.999999, 0.999999))
        if self.kind == "gap":
            return -np.log(np.maximum(values, 1e-6))
        return values

    def unit(self, closeness: float) -> float:
        """A closeness back in the measure's unit."""
        return (
            math.tanh(closeness) if self.kind == "corr" else math.exp(-closeness) if self.kind == "gap" else closeness
        )

    def says(self, value: float, n: int) -> str:
        """What ``value`` (a column's) means, in the report's words."""
        run = project.RUNS[self.run].label
        if self.kind == "corr":
            return f"the {run} scores correlate {value:.4f}"
        if self.kind == "gap":
            return f"the {run} scores' median gap is {value:.4f} standard deviations"
        return f"the {run} predictions agree on {value:,.0f} of {n:,} test tweets"


# Predictions are shown, not flagged: two honest fine-tuned runs that both lean to the majority class
# agree on up to 95% of the tweets (bench seeds), and random-init runs often call every tweet one class,
# and then agree on all. The scores tell more: a copy's are as close as the original's wherever they
# were not edited.
MEASURES = {
    m.column: m
    for m in (
        Measure("ft", "agree", False),
        Measure("ft", "corr", True),
        Measure("ft", "gap", True),
        Measure("scratch", "agree", False),
        Measure("scratch", "corr", True),
        Measure("scratch", "gap", True),
    )
}
CONTEXT = MEASURES["ft_agree"]  # said first in every near-copy flag: what a TA grasps at once
NEAR_COPY_FLAG = "a near copy of"
# The stated false-flag rate, nominal: of the pairs of honest submissions, this share is flagged under a
# normal model of how close honest pairs are whose middle and spread are known (each flagged measure on
# its closeness scale, the rate shared out among them): about 1 class of 300 students (44,850 pairs) in
# 20 sees one honest pair flagged. A spread estimated from few runs makes the true rate higher
# (docs/design.md, "Copies": with a calibration of 8 runs, up to about 3 in 1,000 pairs).
FALSE_FLAG_RATE = 1e-6
Z = NormalDist().inv_cdf(1 - FALSE_FLAG_RATE / sum(m.flagged for m in MEASURES.values()))
# From this many runs on, a class's own pairs set where honest pairs end (their median and spread,
# robust to the few copies among them); with fewer, the calibration's pairs do, if it has this many runs.
MIN_CLASS_RUNS = 20
MIN_CALIBRATION_RUNS = 5


@dataclass(frozen=True)
class Bound:
    """Where honest pairs end for one measure, and where the flag starts (in the measure's unit)."""

    measure: Measure
    honest: tuple[float, float, float] | None  # the calibration's honest pairs: min, mean, max (None: no calibration)
    flag_at: float | None  # None: never flagged (a shown measure, or nothing to model honest pairs on)
    basis: str  # what set flag_at, in the report's words

    def beyond(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)  # NaN (a run missing) is never beyond
        if self.flag_at is None:
            return np.zeros(values.shape, dtype=bool)
        return values < self.flag_at if self.measure.closer_is_less else values > self.flag_at

    def says(self, n: int) -> str:
        """Where the flag starts and what honest pairs reach, in the report's words."""
        scale = n if self.measure.kind == "agree" else 1
        honest = (
            f"calibration's honest pairs {self.honest[0] * scale:,.{0 if scale > 1 else 4}f} to "
            f"{self.honest[2] * scale:,.{0 if scale > 1 else 4}f}"
            if self.honest
            else "no calibration"
        )
        if self.flag_at is None:
            return honest
        return f"flagged {'below' if self.measure.closer_is_less else 'above'} {self.flag_at:.4f}; {honest}"


def bounds(table: pd.DataFrame, calibration: dict | None) -> dict[str, Bound]:
    """Each measure's Bound for the class of ``table`` (pairs): from the class's own pairs when it has
    MIN_CLASS_RUNS runs or more, else from the calibration's; the flag starts Z spreads beyond the
    honest pairs' middle (FALSE_FLAG_RATE), and never inside what the calibration's honest pairs reached."""
    out = {}
    for m in MEASURES.values():
        known = calibrated.pair_values(calibration, m.column)
        known_close = m.closeness(known)
        honest = (min(known), float(np.mean(known)), max(known)) if known else None
        flag_at, basis = (
            None,
            "never flagged alone" if not m.flagged else "no calibration and too few runs to model honest pairs",
        )
        values = m.share(table[m.column], table["n"]).dropna() if m.column in table else pd.Series(dtype=float)
        runs = (1 + math.isqrt(1 + 8 * len(values))) // 2  # k runs give k(k-1)/2 pairs
        model = None  # (middle, spread, what they come from) of the honest pairs' closeness
        if m.flagged and runs >= MIN_CLASS_RUNS:
            close = m.closeness(values)
            spread = 1.4826 * float(np.median(np.abs(close - np.median(close))))
            model = (float(np.median(close)), spread, f"beyond this class's {runs} runs' pairs") if spread > 0 else None
        if m.flagged and model is None and len(known) >= MIN_CALIBRATION_RUNS * (MIN_CALIBRATION_RUNS - 1) // 2:
            spread = float(np.std(known_close, ddof=1))
            model = (
                (float(np.mean(known_close)), spread, f"beyond the calibration's {len(known)} honest pairs")
                if spread > 0
                else None
            )
        if model is not None:
            middle, spread, basis = model
            start = middle + Z * spread
            if known:
                start = max(start, float(known_close.max()))
            flag_at = m.unit(start)
            basis += f" (nominally 1 false flag in {1 / FALSE_FLAG_RATE:,.0f} honest pairs)"
        out[m.column] = Bound(m, honest, flag_at, basis)
    return out


@dataclass(frozen=True)
class Run:
    predictions: np.ndarray  # (n,) class ids
    scores: np.ndarray  # (n, 3) float32


def _standard(scores: np.ndarray) -> np.ndarray:
    """A run's test scores, each class's centred and all scaled to one standard deviation: adding a
    constant to a class's scores or scaling them all changes no prediction, and no measure here."""
    centred = scores.astype(np.float64) - scores.mean(axis=0)
    spread = centred.std()
    return (centred / spread if spread > 0 else centred).ravel()


def _gaps(standard: np.ndarray) -> np.ndarray:
    """(k, k): for each two runs, the median over the test tweets' scores of how far apart they are.
    A median: a copy with a tenth of its rows edited is still as close as the original on the rest."""
    k = len(standard)
    gaps = np.zeros((k, k))
    for i in range(k - 1):
        gaps[i, i + 1 :] = np.median(np.abs(standard[i + 1 :] - standard[i]), axis=1)
    return gaps + gaps.T


def pairs(runs: dict[str, dict[str, Run]]) -> pd.DataFrame:
    """Every two submissions that both hold a run of one kind: how much their runs agree (MEASURES'
    columns; blank where either lacks that run), and ``n``, the number of test tweets."""
    ids = sorted(runs)
    index = {sid: i for i, sid in enumerate(ids)}
    a, b = np.triu_indices(len(ids), k=1)
    table = pd.DataFrame({"a": [ids[i] for i in a], "b": [ids[j] for j in b], "n": np.nan})
    for run in project.RUNS:
        have = [sid for sid in ids if run in runs[sid]]
        sizes = {len(runs[sid][run].predictions) for sid in have}
        if len(have) < 2 or len(sizes) != 1:
            for measure in ("agree", "corr", "gap"):
                table[f"{run}_{measure}"] = np.nan
            continue
        n = sizes.pop()
        onehot = np.zeros((len(have), n * 3), dtype=np.float32)
        for i, sid in enumerate(have):
            onehot[i, np.arange(n) * 3 + runs[sid][run].predictions] = 1
        standard = np.stack([_standard(runs[sid][run].scores) for sid in have])
        values = {"agree": onehot @ onehot.T, "corr": standard @ standard.T / standard.shape[1], "gap": _gaps(standard)}
        at = np.array([index[sid] for sid in have])
        full = {name: np.full((len(ids), len(ids)), np.nan) for name in values}
        for name, matrix in values.items():
            full[name][np.ix_(at, at)] = matrix
            table[f"{run}_{name}"] = full[name][a, b]
        table["n"] = n
    return table


def beyond(table: pd.DataFrame, found: dict[str, Bound]) -> pd.DataFrame:
    """For each pair and flagged measure, whether the pair agrees beyond where honest pairs end (``found``: bounds)."""
    flagged = [b for b in found.values() if b.flag_at is not None]
    return pd.DataFrame(
        {b.measure.column: b.beyond(b.measure.share(table[b.measure.column], table["n"])) for b in flagged},
        index=table.index,
        dtype=bool,
    )


def near_copies(
    table: pd.DataFrame, found: dict[str, Bound], exact: set[frozenset[str]] = frozenset()
) -> dict[str, dict[str, tuple]]:
    """Submission -> each other submission whose runs agree with its runs beyond where honest pairs end
    (``found``: bounds) -> (how close: the flagged measures' count, then the predictions that agree;
    what says so). ``exact``: pairs already flagged as the same run, left to that flag."""
    found_: dict[str, dict[str, tuple]] = {}
    over = beyond(table, found)
    for i in over.index[over.any(axis=1)]:
        row = table.loc[i]
        if frozenset((row["a"], row["b"])) in exact:
            continue
        n = int(row["n"])
        shown = [CONTEXT] if pd.notna(row[CONTEXT.column]) else []
        shown += [MEASURES[c] for c in over.columns if over.at[i, c]]
        said = ", ".join(f"{m.says(row[m.column], n)} ({found[m.column].says(n)})" for m in shown)
        said += f"; flagged {' and '.join(sorted({found[c].basis for c in over.columns if over.at[i, c]}))}"
        closeness = (int(over.loc[i].sum()), row[CONTEXT.column] if pd.notna(row[CONTEXT.column]) else 0)
        for one, other in ((row["a"], row["b"]), (row["b"], row["a"])):
            found_.setdefault(one, {})[other] = (closeness, said)
    return found_


# --------------------------------------------------------------------------------------------
# The TA report's copy flags
# --------------------------------------------------------------------------------------------

# What two students' runs never share when each trains with a seed of their own: the scores of the
# test tweets, and the fine-tuned model's predictions (a random-init model that calls every tweet one
# class may well predict what another's does).
FINGERPRINTS = {
    "fine-tuned scores": ("scores", "ft"),
    "fine-tuned predictions": ("predictions", "ft"),
    "random-init scores": ("scores", "scratch"),
}
COPY_FLAG = "the same training run as"


def same_runs(facts: dict[str, dict]) -> dict[str, dict[str, list[str]]]:
    """Submission -> each other submission that shares a run with it -> what they share (FINGERPRINTS)."""
    holders: dict[tuple[str, str], list[str]] = {}
    for sid, f in facts.items():
        for name, digest in f["fingerprints"].items():
            holders.setdefault((name, digest), []).append(sid)
    shared: dict[str, dict[str, list[str]]] = {}
    for (name, _), sids in holders.items():
        for sid in sids if len(sids) > 1 else ():
            for other in sids:
                if other != sid:
                    shared.setdefault(sid, {}).setdefault(other, []).append(name)
    return shared


def _same_seed(facts: dict[str, dict], sid: str, others) -> str:
    """What the flag adds when the runs record the same training seed: they may have shared a seed file."""
    seed = facts[sid]["seed"]
    same = sorted(o for o in others if seed is not None and facts[o]["seed"] == seed)
    return (
        (
            f"; {', '.join(same)} record{'s' if len(same) == 1 else ''} the same training seed ({seed}): "
            f"a shared {project.SEED_FILE} gives the same run, so ask whose it is"
        )
        if same
        else ""
    )


def listed(names: list[str], most: int = 4) -> str:
    """``names`` for a flag or a line of the report: the first ``most``, and how many more."""
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def copy_flags(facts: dict[str, dict], shared: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    """Submission -> why it shares a training run with others (``shared``: same_runs): whom, and what they share."""
    flags = {}
    for sid, others in shared.items():
        what = sorted({name for names in others.values() for name in names})
        names = sorted(others)
        flags[sid] = (
            f"{COPY_FLAG} {listed(names)} (identical {', '.join(what)}): a shared {project.RESULTS_FILE}? Runs "
            f"with their own training seeds never share these{_same_seed(facts, sid, names)}"
        )
    return flags


def near_copy_flags(
    pairs: pd.DataFrame, found: dict, facts: dict[str, dict], shared: dict[str, dict[str, list[str]]]
) -> dict[str, str]:
    """Submission -> the near-copy flag: runs that agree beyond where honest pairs end (``pairs``:
    :func:`pairs`; ``found``: :func:`bounds`), though not the same run (``shared``: same_runs, which
    copy_flags says). The flag names the closest first, with what gives it away, then the others."""
    exact = {frozenset((sid, other)) for sid, others in shared.items() for other in others}
    flags = {}
    for sid, others in near_copies(pairs, found, exact).items():
        names = sorted(others, key=lambda other: (tuple(-v for v in others[other][0]), other))
        more = listed(names[1:])
        flags[sid] = (
            f"{NEAR_COPY_FLAG} {names[0]}{f' (and of {more})' if more else ''}: with {names[0]}, "
            f"{others[names[0]][1]}{_same_seed(facts, sid, names)}"
        )
    return flags


@dataclass
class Copies:
    pairs: pd.DataFrame  # every two submissions' agreement (agreement.pairs)
    bounds: dict  # where honest pairs end, measure by measure (agreement.bounds)
    same: dict[str, str]  # submission -> its flag as the same run as others (copy_flags)
    near: dict[str, str]  # submission -> its near-copy flag (near_copy_flags)


def flag_copies(facts: dict[str, dict], calibrated: dict | None) -> Copies:
    """How every two submissions' runs agree, where honest pairs end (from the class, or ``calibrated``:
    tools/calibration.py), and the flags of copies and near copies."""
    shared = same_runs(facts)
    table = pairs({sid: f["runs"] for sid, f in facts.items()})
    found = bounds(table, calibrated)
    return Copies(table, found, copy_flags(facts, shared), near_copy_flags(table, found, facts, shared))
