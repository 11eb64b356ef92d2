"""How much two students' training runs agree, and the TA report's near-copy flag.

Every student trains with a training seed of their own, so two honest runs of the lab agree on some
share of the test tweets and their scores correlate to some degree; a copy of someone else's results
file agrees on almost all of them, even with a few rows edited to hide it. ``bench seeds`` measures
what honest pairs reach (docs/design.md, "Copies: the same run, and near copies"); a pair of submissions beyond that,
with a margin, is flagged, naming both and the measure.

What is compared comes from what the autograder graded: its entry point reads the uploaded results
file and hands each run's test predictions and scores to the TA command (``run_vectors`` in
lab5_autograder.py), never a file the notebook left behind.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools import project



@dataclass(frozen=True)
class Measure:
    run: str  # "ft" or "scratch"
    kind: str  # "agree" (predictions), "corr" (scores' correlation) or "gap" (scores' median difference)
    honest: tuple[float, float, float]  # over honest pairs of bench seeds: min, mean, max (agree: a share)
    flag_at: float | None  # in the same unit; None: shown, never flagged (see MEASURES)

    @property
    def column(self) -> str:
        return f"{self.run}_{self.kind}"

    @property
    def closer_is_less(self) -> bool:
        """A gap is closer the smaller it is; agreement and correlation, the larger."""
        return self.kind == "gap"

    def share(self, value, n):
        """``value`` (a column's) in the unit of ``honest`` and ``flag_at``."""
        return value / n if self.kind == "agree" else value

    def says(self, value: float, n: int) -> str:
        """What ``value`` (a column's) means, in the report's words."""
        run = project.RUNS[self.run].label
        if self.kind == "corr":
            return f"the {run} scores correlate {value:.4f}"
        if self.kind == "gap":
            return f"the {run} scores' median gap is {value:.4f} standard deviations"
        return f"the {run} predictions agree on {value:,.0f} of {n:,} test tweets"

    def honest_bound(self, n: int) -> str:
        """What honest pairs reached, in the report's words."""
        if self.flag_at is None:
            scale = n if self.kind == "agree" else 1
            return f"{self.honest[0] * scale:,.0f} to {self.honest[2] * scale:,.0f}"
        if self.closer_is_less:
            return f"at least {self.honest[0]:.4f}"
        return f"at most {self.honest[2]:.4f}"


def _measure(run: str, kind: str, honest: tuple[float, float, float], flag: bool = True) -> Measure:
    """The flag's margin beyond what honest pairs reached: half the way from the most that honest pairs
    agreed to complete agreement (a share or a correlation of 1; for a gap, from the least to none)."""
    if not flag:
        return Measure(run, kind, honest, None)
    return Measure(run, kind, honest, honest[0] / 2 if kind == "gap" else (honest[2] + 1) / 2)


# Honest pairs: `python3 -m tools bench seeds` (2026-12-06, offline profile, 8 students' runs, training
# seeds 42-49: 28 pairs; docs/performance.md, "Near copies"). Predictions are shown, not flagged: two honest fine-tuned runs
# that both lean to the majority class agree on up to 95% of the tweets, and a class's 45,000 pairs reach
# further into that tail than 28 do; random-init runs often call every tweet one class, and then agree on
# all. The scores tell more: a copy's are as close as the original's wherever they were not edited.
MEASURES = {m.column: m for m in (
    _measure("ft", "agree", (0.7390, 0.8425, 0.9530), flag=False),
    _measure("ft", "corr", (0.8527, 0.9363, 0.9752)),
    _measure("ft", "gap", (0.1204, 0.2095, 0.3363)),
    _measure("scratch", "agree", (0.0045, 0.5786, 0.9860), flag=False),
    _measure("scratch", "corr", (0.2001, 0.3481, 0.4393)),
    _measure("scratch", "gap", (0.6389, 0.7047, 0.7782)),
)}
CONTEXT = MEASURES["ft_agree"]  # said first in every near-copy flag: what a TA grasps at once
NEAR_COPY_FLAG = "a near copy of"


@dataclass(frozen=True)
class Run:
    predictions: np.ndarray  # (n,) class ids
    scores: np.ndarray  # (n, 3) float32


def decode(vectors) -> Run | None:
    """A run as the entry point hands it over (``run_vectors``), or None if it is not one."""
    try:
        predictions = np.frombuffer(vectors["predictions"].encode("ascii"), dtype=np.uint8) - ord("0")
        scores = np.frombuffer(base64.b64decode(vectors["scores"], validate=True), dtype="<f4").reshape(-1, 3)
    except (KeyError, TypeError, AttributeError, ValueError, UnicodeError):
        return None
    if len(predictions) != len(scores) or not len(scores) or predictions.max() > 2:
        return None
    return Run(predictions.astype(np.int8), scores.astype(np.float32))


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
        gaps[i, i + 1:] = np.median(np.abs(standard[i + 1:] - standard[i]), axis=1)
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


def beyond(table: pd.DataFrame) -> pd.DataFrame:
    """For each pair and flagged measure, whether the pair agrees beyond what honest pairs reach."""
    flagged = [m for m in MEASURES.values() if m.flag_at is not None]
    share = {m.column: m.share(table[m.column], table["n"]) for m in flagged}
    return pd.DataFrame({m.column: share[m.column] < m.flag_at if m.closer_is_less else share[m.column] > m.flag_at
                         for m in flagged}, index=table.index)  # NaN (a run missing) is never beyond


def near_copies(table: pd.DataFrame, exact: set[frozenset[str]] = frozenset()) -> dict[str, dict[str, tuple]]:
    """Submission -> each other submission whose runs agree with its runs beyond what honest pairs
    reach -> (how close: the flagged measures' count, then the predictions that agree; what says so).
    ``exact``: pairs already flagged as the same run, left to that flag."""
    found: dict[str, dict[str, tuple]] = {}
    over = beyond(table)
    for i in over.index[over.any(axis=1)]:
        row = table.loc[i]
        if frozenset((row["a"], row["b"])) in exact:
            continue
        n = int(row["n"])
        shown = [CONTEXT] if pd.notna(row[CONTEXT.column]) else []
        shown += [MEASURES[c] for c in over.columns if over.at[i, c]]
        said = ", ".join(f"{m.says(row[m.column], n)} (honest pairs: {m.honest_bound(n)})" for m in shown)
        closeness = (int(over.loc[i].sum()), row[CONTEXT.column] if pd.notna(row[CONTEXT.column]) else 0)
        for one, other in ((row["a"], row["b"]), (row["b"], row["a"])):
            found.setdefault(one, {})[other] = (closeness, said)
    return found
