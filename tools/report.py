"""The TA's view of a graded batch: scores.csv, seed-study.csv, near-copies.csv and a self-contained report.html.

A function of the graded results (each submission's results.json, whose extra_data lab5_boundary.Extra
reads) and of the autograder zip that graded them, the one source of every fact of the lab here: its
profile, its runs, its ranges and honest pairs, the build's run, the written question.

scores.csv has one row per submission (in submission order, so that re-runs give the same file):
status and message, the autograded total and its possible points, the written question's column for
the TA to fill in (its name and points come from the master, through the zip; what a TA entered in an
earlier scores.csv in the same folder is kept), the lab's total and possible points with it, one column
per question and per test case, the accuracies that were
graded (the notebook's acc_bow, and the uploaded results file's runs scored against the true labels,
as the autograder's entry point reports them; never a file the notebook left behind), the training
seed the results file records, and the reasons a human should look at it. seed-study.csv has the
graded submissions' seeds and accuracies; near-copies.csv every two submissions whose runs agree
beyond where honest runs end (tools/agreement.py), with each measure. report.html shows, in this order:
what needs a human look (copies among it: two submissions with the same training run, or runs that
agree beyond where honest runs with their own seeds end, tools/agreement.py), the calibration the
ranges and that end come from and how the class sits against them (tools/calibration.py), how much
every two submissions' runs agree, as a picture, score distributions and pass rates per question, the
test cases failed most often with their messages, the accuracies against the expected ranges, the
class as a seed study (for a lecture), and the written question with its rubric, then every answer to it.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from tools import agreement, calibration, project, standin  # noqa: E402
from tools.autograder import Autograder  # noqa: E402

# What the report's summary adds when the full profile was graded on the hub's stand-in (tools/standin.py).
STANDIN_NOTE = " on the hub's stand-in: random weights, so accuracies and ranges mean nothing here"
# The accuracies a results file reports, as the report names them.
ACCURACIES = {
    "acc_bow": "baseline (acc_bow)",
    "acc_ft": "fine-tuned (acc_ft)",
    "acc_scratch": "random init (acc_scratch)",
}
SCORES = "scores.csv"
# The lab's total with the written question's points, which a TA enters in scores.csv (its column: the question's name)
LAB_TOTAL, LAB_POSSIBLE = "lab_total", "lab_possible"
KEPT_BEFORE = "scores-before.csv"  # an earlier scores.csv of which something could not be kept


def entered_points(scores: Path, graded: dict, question) -> tuple[dict[str, float], str]:
    """The written question's points a TA entered in an earlier ``scores`` (scores.csv), by submission of
    ``graded``, and one line that says what was kept and what was not: a value (or a row) that does not
    read as a number from 0 to the question's points, a submission not in this batch. Where anything was not kept, the earlier
    file is copied beside it (KEPT_BEFORE) before it is written over."""
    before = scores.with_name(KEPT_BEFORE)
    if not scores.is_file():
        return {}, ""
    broken = []  # rows of more fields than the header: their values are not where the columns say

    def read(sep: str) -> pd.DataFrame:
        broken.clear()
        return pd.read_csv(
            scores,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            engine="python",
            on_bad_lines=lambda fields: broken.append(fields[0]) and None,
        )

    try:
        earlier = read(",")
        if "submission" not in earlier:  # a spreadsheet that saved it with semicolons
            earlier = read(";")
        unread = "" if "submission" in earlier else "it has no submission column"
    except (ValueError, OSError, UnicodeDecodeError) as e:
        unread = f"{type(e).__name__}: {str(e)[:200]}"
    if unread:
        shutil.copyfile(scores, before)
        return {}, (
            f"{scores} could not be read as a table ({unread}), so no {question.name} points were kept from it: "
            f"it is copied to {before}."
        )
    if question.name not in earlier:  # written before the column was
        return {}, ""
    kept, bad, gone = {}, [f"{sid}: its row" for sid in broken], []
    for sid, value in zip(earlier["submission"], earlier[question.name]):
        value = value.strip() if isinstance(value, str) else ""  # a short row: nothing entered
        if not value:
            continue
        points = _number(value.replace(",", "."))  # a spreadsheet's decimal comma: 1,5
        if points is None or not 0 <= points <= question.points:
            bad.append(f"{sid}: {value!r}")
        elif sid not in graded:
            gone.append(sid)
        else:
            kept[sid] = points
    if not (kept or bad or gone):
        return {}, ""
    line = (
        f"Kept the {question.name} points entered for {len(kept)} submission{'s' if len(kept) != 1 else ''} in {scores}"
    )
    if bad:
        line += (
            f"; left out {len(bad)} that {'does' if len(bad) == 1 else 'do'} not read as a number from 0 to "
            f"{question.points:g} ({agreement.listed(bad)})"
        )
    if gone:
        line += f"; left out {len(gone)} of submissions not in this batch ({agreement.listed(gone)})"
    if bad or gone:
        shutil.copyfile(scores, before)
        line += f": the earlier file is copied to {before}"
    return kept, line + "."


def submission_facts(graded) -> dict:
    """What was graded: the results file that was uploaded as the autograder's entry point read it
    (its accuracies on the true labels, its training seed, digests of its runs, each run's test
    predictions and scores), and the written answer."""
    results_file = graded.extra.results_file
    accuracies = results_file.get("accuracies") or {}
    fingerprints = {
        name: (results_file.get(kind) or {}).get(run) for name, (kind, run) in agreement.FINGERPRINTS.items()
    }
    runs = {run: agreement.Run(*decoded) for run, decoded in graded.extra.runs().items()}
    seed = results_file.get("seed")
    return {
        **{key: _number(accuracies.get(key)) for key in ACCURACIES},
        "seed": seed if isinstance(seed, int) else None,
        "fingerprints": {name: digest for name, digest in fingerprints.items() if digest},
        "runs": runs,
        "has_results": bool(results_file.get("submitted")),
        "written": graded.extra.written,
    }


def _case_order(name: str) -> tuple[str, int]:
    question, _, number = name.partition(" - ")
    return question, int(number) if number.isdigit() else 0


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def scores_table(
    graded: dict, names: dict[str, str], calibrated: dict | None, question, entered: dict[str, float] | None = None
) -> tuple[pd.DataFrame, dict[str, dict], agreement.Copies]:
    """One row per submission, sorted by submission id; each submission's facts; how the submissions'
    runs agree (flag_copies). ``calibrated``: the autograder's calibration (its ranges, its honest pairs);
    ``entered``: the written question's points a TA entered (entered_points), blank for the others."""
    ranges = (calibrated or {}).get("ranges") or {}
    entered = entered or {}
    rows, facts = [], {}
    for sid in sorted(graded):
        g = graded[sid]
        facts[sid] = f = submission_facts(g)
        row = {
            "submission": sid,
            "student": names.get(sid, ""),
            "status": g.status,
            "message": g.message,
            "total": g.score(),
            "possible": g.max_score(),
        }
        points = entered.get(sid)
        row.update(
            {
                question.name: points,
                LAB_TOTAL: None if points is None else row["total"] + points,
                LAB_POSSIBLE: row["possible"] + question.points,
            }
        )
        questions = sorted({name.split(" - ")[0] for name in g.cases})
        row.update({q: g.score(q) for q in questions})
        row.update({name: case["score"] for name, case in sorted(g.cases.items(), key=lambda kv: _case_order(kv[0]))})
        row.update({key: f[key] for key in ACCURACIES})
        row["seed"] = f["seed"]
        isolation = g.extra.isolation
        row["sandbox"] = g.extra.sandbox
        row["network"], row["memory"] = isolation.get("network") or "", isolation.get("memory") or ""
        flags = []
        if not g.graded:
            flags.append(f"{g.status}: {g.message}")
        else:
            if not f["has_results"]:
                flags.append(f"no {project.RESULTS_FILE}")
            # what the autograder's entry point saw at grading: results rejected or rewritten, a cell stopped
            flags += g.extra.flags
        for key in ACCURACIES:
            low, high = ranges.get(key, (-math.inf, math.inf))
            if f[key] is not None and not low <= f[key] <= high:
                flags.append(f"{key} {f[key]:.3f} outside [{low}, {high}]")
        row["flags"] = flags
        rows.append(row)
    copies = agreement.flag_copies(facts, calibrated)
    for row in rows:
        row["flags"] += [found[row["submission"]] for found in (copies.same, copies.near) if row["submission"] in found]
        row["flags"] = "; ".join(row["flags"])
    table = pd.DataFrame(rows)
    table["seed"] = table["seed"].astype("Int64")  # a whole number, blank where unknown
    # blank until a TA enters points
    table[[question.name, LAB_TOTAL]] = table[[question.name, LAB_TOTAL]].astype(float)
    return table, facts, copies


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def question_plots(table: pd.DataFrame, questions: list[str], points: dict[str, float], done: str) -> str:
    """``done``: the status of a graded submission (lab5_boundary.GRADED)."""
    sns.set_theme(style="whitegrid")
    graded = table[table["status"] == done]
    columns = 4
    rows = -(-(len(questions) + 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.9 * rows), squeeze=False)
    axes = axes.flatten()
    for ax, q in zip(axes, questions):
        counts = graded[q].value_counts().reindex(sorted(set(graded[q]) | {0, points[q]}), fill_value=0)
        ax.bar([f"{v:g}" for v in counts.index], counts.values, color="#6baed6")
        ax.set(title=f"{q} (of {points[q]:g} points)", xlabel="points", ylabel="submissions")
    rate = axes[len(questions)]
    full = [(graded[q] == points[q]).mean() * 100 if len(graded) else 0 for q in questions]
    rate.barh(questions[::-1], full[::-1], color="#fd8d3c")
    rate.set(xlim=(0, 100), title="full points", xlabel="% of graded submissions")
    for ax in axes[len(questions) + 1 :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def accuracy_plot(table: pd.DataFrame, lab, ranges: dict) -> str:
    profile = lab.get_profile()
    data = table.melt(id_vars="submission", value_vars=list(ACCURACIES), var_name="model", value_name="accuracy")
    data = data.dropna()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for y, key in enumerate(ACCURACIES):
        if key in ranges:
            low, high = ranges[key]
            ax.fill_betweenx([y - 0.4, y + 0.4], low, high, color="#c7e9c0", label="expected range" if y == 0 else None)
    if not data.empty:
        sns.stripplot(
            data=data, x="accuracy", y="model", order=list(ACCURACIES), ax=ax, jitter=0.25, color="#08519c", size=6
        )
    ax.set(
        xlim=(0, 1),
        yticks=range(len(ACCURACIES)),
        yticklabels=list(ACCURACIES.values()),
        ylabel="",
        xlabel=f"graded test accuracy ({profile.name} profile)",
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _png(fig)


# The seed study: what each panel shows (the column of seed-study.csv).
SEED_STUDY = {
    "acc_bow": "TF-IDF + LR (from scratch)",
    "acc_scratch": "Transformer from random init",
    "acc_ft": "Fine-tuned transformer",
    "gap": "Fine-tuned minus random init",
}


def reference_run(autograder: Autograder, lab) -> dict | None:
    """The build's run (its seed and accuracies), if the zip carries one of this profile."""
    run = autograder.build_run()
    if run is None or run.get("profile") != lab.get_profile().name:
        return None
    return {**run, "gap": run["acc_ft"] - run["acc_scratch"]}


def seed_study(table: pd.DataFrame, facts: dict[str, dict], done: str) -> pd.DataFrame:
    """One row per training run of the class: its seed, the three graded accuracies and the gap.

    A run counts once: submissions whose results file was rejected or records no seed are left out,
    and of the submissions that share a run (copies) only the first is kept, so that a handed-around
    file does not weigh in the class's spread as many students."""
    graded = table[
        (table["status"] == done) & table["seed"].notna() & table["acc_ft"].notna() & table["acc_scratch"].notna()
    ]
    seen, keep = set(), []
    for sid in graded["submission"]:
        prints = set(facts[sid]["fingerprints"].items())
        keep.append(not prints & seen)
        seen |= prints
    study = graded.loc[keep, ["submission", "student", "seed", *ACCURACIES]].copy()
    study["gap"] = study["acc_ft"] - study["acc_scratch"]
    return study


def seed_study_plot(study: pd.DataFrame, reference: dict | None) -> str:
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, len(SEED_STUDY), figsize=(18, 4.6))
    for ax, (key, title) in zip(axes, SEED_STUDY.items()):
        values = study[key].dropna()
        marks = [reference[key]] if reference is not None else []
        if len(values):
            # bins of one width for every class size (and a narrow bar for the baseline, which no seed moves)
            width = 0.02 if key == "gap" else 0.01
            edges = np.arange(np.floor(values.min() / width) * width, values.max() + width, width)
            sns.histplot(values, ax=ax, bins=edges, color="#6baed6")
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # whole students
            ax.axvline(values.mean(), color="black", label=f"class mean {values.mean():.3f}")
            marks += [edges[0], edges[-1], values.mean() - 0.05, values.mean() + 0.05]
        if reference is not None:
            ax.axvline(
                reference[key],
                color="#d62728",
                linestyle="--",
                linewidth=2,
                label=f"reference run (seed {reference['seed']}) {reference[key]:.3f}",
            )
        if key == "gap":  # the lesson: how far the class's gaps stay from no advantage at all
            ax.axvline(0, color="grey", linestyle=":", linewidth=2, label="no advantage from pretraining")
            marks.append(0.0)
        if marks:  # the bars, the reference run, and at least 10 points of accuracy around the mean
            ax.set_xlim(min(marks) - 0.005, max(marks) + 0.005)
        spread = f", sd {values.std():.3f}" if len(values) > 1 else ""
        ax.set(
            title=f"{title}\n{len(values)} run{'s' if len(values) != 1 else ''}{spread}",
            ylabel="students",
            xlabel="difference in test accuracy" if key == "gap" else "test accuracy",
        )
        if ax.get_legend_handles_labels()[0]:  # under the panel, where it hides no bar
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    fig.suptitle(
        "The class as a seed study: the same data, each student's runs with their own training seed", fontsize=13
    )
    fig.tight_layout()
    return _png(fig)


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } .summary { color: #555; margin-bottom: 2em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
.flag td { background: #fff4e5 !important; } pre { white-space: pre-wrap; margin: 0; font-family: inherit; }
.answer { border-left: 4px solid #6baed6; padding: 0.3em 1em; margin: 0.8em 0; background: #f7fbff; }
.answer h3 { margin: 0.2em 0; font-size: 1em; } .muted { color: #888; }
.question { border-left: 4px solid #fd8d3c; padding: 0.3em 1em; background: #fff8f0; }
.warn { background: #fdecea; border-left: 4px solid #d62728; padding: 0.3em 1em; }
img { max-width: 100%; }
"""


def agreement_plot(pairs: pd.DataFrame, found: dict, lab) -> str:
    """Every two submissions' agreement, one panel per flagged measure: how many pairs agree how much,
    the range that the calibration's honest runs reached and where the flag starts (``found``: agreement.bounds)."""
    measures = [
        m
        for m in agreement.MEASURES.values()
        if (m.flagged or m is agreement.CONTEXT) and pairs[m.column].notna().any()
    ]
    if not measures:
        return "<p class='muted'>No two submissions hold runs to compare.</p>"
    fig, axes = plt.subplots(1, len(measures), figsize=(3.3 * len(measures), 3.2), squeeze=False)
    titles = {"agree": "predictions that agree", "corr": "correlation of the scores", "gap": "median gap of the scores"}
    units = {"agree": "share of test tweets", "corr": "correlation", "gap": "standard deviations (closer: left)"}
    for ax, m in zip(axes[0], measures):
        known = pairs[m.column].notna()
        values = m.share(pairs.loc[known, m.column], pairs.loc[known, "n"])
        bound = found[m.column]
        honest = bound.honest or (values.min(), values.mean(), values.max())
        if bound.honest:
            ax.axvspan(honest[0], honest[2], color="#c7e9c0", label="honest pairs (calibration)")
        if bound.flag_at is not None:
            ax.axvline(bound.flag_at, color="#cb181d", linestyle="--", label="flagged beyond")
        edges = (
            (0, max(values.max(), honest[2]) * 1.05) if m.closer_is_less else (min(values.min(), honest[0]) - 0.02, 1)
        )
        ax.hist(values, bins=np.linspace(*edges, 60), color="#08519c", log=True)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))  # 1, 10, 100: counts
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set(title=f"{lab.RUNS[m.run].label}: {titles[m.kind]}", xlabel=units[m.kind], ylabel="pairs of submissions")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _png(fig)


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:g}", border=0)


def failure_message(output: str) -> str:
    """The part of an otter failure output a TA reads: the assertion's message (or the error)."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if "Error: " in lines[i] or "Error:" == lines[i].strip()[-6:]:
            return "\n".join(lines[i:]).split("Error: ", 1)[-1].strip()
    return lines[-1] if lines else ""


def sandbox_summary(table: pd.DataFrame) -> str:
    """How the notebooks ran at grading (lab5_sandbox.py): the sandbox, the network and the memory limit,
    as the entry point reported them per submission."""
    parts = []
    for column, what in (
        ("sandbox", "How the notebooks ran at grading"),
        ("network", "Their network"),
        ("memory", "Their memory"),
    ):
        counts = Counter(s for s in table[column] if s)
        if counts:
            lines = "".join(
                f"<li>{html.escape(way)}: {n} submission{'s' if n != 1 else ''}</li>" for way, n in counts.most_common()
            )
            parts.append(f"<p>{what}:</p><ul>{lines}</ul>")
    if not parts:
        return ""
    warn = any(
        way.startswith(("no sandbox", "reachable")) for column in ("sandbox", "network") for way in table[column]
    )
    return f"<div class='{'warn' if warn else 'muted'}'>{''.join(parts)}</div>"


NEAR_EDGE = 0.02  # a run this close inside a range's edge sits near it


def calibration_notes(study: pd.DataFrame, copies: agreement.Copies, calibrated: dict | None) -> list[tuple[bool, str]]:
    """What the report says about the autograder's calibration against this class: (a warning?, words).
    Where the ranges and bounds come from; runs outside or near a range; a class whose spread reaches
    beyond a range (honest students with unlucky seeds would lose points); pairs past what the
    calibration's honest pairs reached but not flagged."""
    notes = [
        (
            not calibrated or not calibrated.get("seeds") or bool(calibrated.get("standin")),
            f"Ranges and honest pairs: {calibration.source(calibrated)}.",
        )
    ]
    ranges = (calibrated or {}).get("ranges") or {}
    for key, name in ACCURACIES.items():
        values = study[key].dropna() if key in study else pd.Series(dtype=float)
        if key not in ranges or values.empty:
            continue
        low, high = ranges[key]
        outside = int(((values < low) | (values > high)).sum())
        near = int(
            (((values >= low) & (values < low + NEAR_EDGE)) | ((values <= high) & (values > high - NEAR_EDGE))).sum()
        )
        if outside or near:
            notes.append(
                (
                    bool(outside),
                    f"{name}: {outside} of the class's {len(values)} runs outside [{low}, {high}], "
                    f"{near} within {NEAR_EDGE} of its edge.",
                )
            )
        if key in calibration.LEARNS and len(values) >= agreement.MIN_CLASS_RUNS:
            mean, sd = values.mean(), values.std()
            reach = (mean - calibration.SPREAD * sd, mean + calibration.SPREAD * sd)
            if reach[0] < low or reach[1] > high:
                notes.append(
                    (
                        True,
                        f"{name}: this class's runs (mean {mean:.3f}, sd {sd:.3f}) reach {reach[0]:.3f} to "
                        f"{reach[1]:.3f} at {calibration.SPREAD} standard deviations, beyond [{low}, {high}]: "
                        "honest runs with unlucky seeds may lose points; calibrate this profile again "
                        "(python3 -m tools calibrate) and rebuild.",
                    )
                )
    flagged = agreement.beyond(copies.pairs, copies.bounds).any(axis=1) if copies.bounds else None
    for bound in copies.bounds.values():
        m = bound.measure
        if bound.honest is None or bound.flag_at is None or m.column not in copies.pairs:
            continue
        values = m.share(copies.pairs[m.column], copies.pairs["n"])
        edge = bound.honest[0] if m.closer_is_less else bound.honest[2]
        past = (values < edge) if m.closer_is_less else (values > edge)
        unflagged = int((past & ~flagged).sum())
        if unflagged:
            notes.append(
                (
                    False,
                    f"{unflagged} pair{'s' if unflagged != 1 else ''} of submissions closer than any of the "
                    f"calibration's honest pairs (where {m.says(edge, 0)} at the closest), flagged by no "
                    f"measure ({bound.basis}): look at them in the picture below; near-copies.csv lists "
                    "the flagged pairs only.",
                )
            )
    return notes


def calibration_section(notes: list[tuple[bool, str]]) -> str:
    items = "".join(f"<li>{html.escape(text)}</li>" for _, text in notes)
    return f"<div class='{'warn' if any(warn for warn, _ in notes) else 'muted'}'><ul>{items}</ul></div>"


def written_question_html(question, possible: float, rubric_start: str) -> str:
    """The written question as the report shows it once, above the answers: its prompt, the rubric (and
    the reference answer, folded), and where the TA enters the points (``possible``: the autograded points)."""
    rubric = (
        f"<p>The rubric:</p><pre>{html.escape(question.rubric)}</pre>"
        if question.rubric
        else f"<p class='warn'>The master gives no rubric for {question.name}: add one to its solution cell, from a "
        f"line that starts with <code>{rubric_start}</code>, and grade again.</p>"
    )
    reference = (
        f"<details><summary>The reference answer</summary><pre>{html.escape(question.reference)}</pre></details>"
        if question.reference
        else ""
    )
    return (
        f"<div class='question'><p><b>{html.escape(question.name)}</b> ({question.points:g} points, graded by hand), "
        f"as students read it:</p><pre>{html.escape(question.prompt)}</pre>{rubric}{reference}</div>"
        f"<p>Enter each submission's points (0 to {question.points:g}) in <code>{SCORES}</code>'s "
        f"<code>{html.escape(question.name)}</code> column; <code>{LAB_TOTAL}</code> is the autograded total plus "
        f"them, of {possible + question.points:g} (<code>{LAB_POSSIBLE}</code>), once you grade again into this "
        f"folder, which keeps what you entered.</p>"
    )


def render(
    table: pd.DataFrame,
    graded: dict,
    facts: dict[str, dict],
    lab,
    autograder: Autograder,
    study: pd.DataFrame,
    copies: agreement.Copies,
    calibrated: dict | None,
    question,
) -> str:
    ok = {sid: g for sid, g in graded.items() if g.graded}
    done = autograder.module("lab5_boundary").GRADED
    case_max = {}
    for g in graded.values():
        case_max.update({name: case["max_score"] for name, case in g.cases.items()})
    cases = sorted(case_max, key=_case_order)
    questions = sorted({name.split(" - ")[0] for name in cases})
    points = {q: sum(case_max[c] for c in cases if c.startswith(q + " - ")) for q in questions}
    flagged = table[table["flags"] != ""]
    possible = sum(points.values())
    parts = [
        f"<h1>Lab 5 grading report</h1><p class='summary'>{len(table)} submissions, {len(ok)} graded, "
        f"{len(flagged)} to look at; mean autograded score {table['total'].mean():.2f} of {possible:g}, "
        f"{question.name} (of {question.points:g}, graded by hand) entered for {int(table[question.name].notna().sum())} of them "
        f"({html.escape(lab.get_profile().name)} profile{STANDIN_NOTE if standin.is_standin(os.environ.get('HF_HOME')) else ''}; "
        f"autograder {html.escape(autograder.path.name)}).</p>",
        sandbox_summary(table),
        "<h2>Calibration</h2>",
        calibration_section(calibration_notes(study, copies, calibrated)),
        "<h2>Needs a human look</h2>",
        _table_html(
            flagged.sort_values("status", key=lambda st: st == done, kind="stable")[
                ["submission", "student", "status", "total", "flags"]
            ]
        )
        if len(flagged)
        else "<p class='muted'>Nothing: every submission graded, with its results file and accuracies in range.</p>",
        "<h2>How much the students' runs agree</h2>",
        "<p>Each student trained with a seed of their own, so two honest runs agree on part of the test tweets "
        "only; a copy of someone else's results file, even with a few rows edited, agrees on almost all. Each "
        "panel counts the pairs of submissions by how much their runs agree (a log scale: a few copies among "
        "thousands of pairs stand apart beyond the dashed line), with the range honest pairs reached and where the flag "
        "starts.</p>",
        agreement_plot(copies.pairs, copies.bounds, lab),
        "<h2>Scores by question</h2>",
        question_plots(table, questions, points, done),
        "<h2>Test cases failed most often</h2>",
    ]
    failures = []
    for name in cases:
        lost = [g for g in ok.values() if name in g.cases and not g.cases[name]["passed"]]
        if lost:
            messages = Counter(failure_message(g.cases[name]["message"]) for g in lost)
            failures.append(
                {
                    "test case": name,
                    "failed": len(lost),
                    "of graded": f"{len(lost) / len(ok):.0%}",
                    "most common message": f"<pre>{html.escape(messages.most_common(1)[0][0])}</pre>",
                }
            )
    if failures:
        top = pd.DataFrame(failures).sort_values(["failed", "test case"], ascending=[False, True]).head(12)
        parts.append(top.to_html(index=False, escape=False, border=0))
    else:
        parts.append("<p class='muted'>No test case failed on a graded submission.</p>")
    parts += [
        "<h2>Accuracies against the expected ranges</h2>",
        accuracy_plot(table, lab, (calibrated or {}).get("ranges") or {}),
        "<h2>The class as a seed study</h2>",
        "<p>Everyone trained on the same tweets; each student's two runs had a training seed of their own "
        "(drawn once, kept in <code>lab5_seed.txt</code>). So the spread below is how much each model's test "
        "accuracy moves with the seed alone, and the right panel how sure the advantage of pretraining is. "
        "<code>seed-study.csv</code> holds each run's seed and accuracies.</p>",
        seed_study_plot(study, reference_run(autograder, lab)),
        "<h2>Written answers (graded by hand)</h2>",
        written_question_html(question, possible, autograder.module("lab5_written").RUBRIC_START),
    ]
    for _, row in table.iterrows():
        answer = facts[row["submission"]]["written"]
        who = html.escape(row["submission"] + (f" ({row['student']})" if row["student"] else ""))
        points = row[question.name]
        given = "" if pd.isna(points) else f" <span class='muted'>({points:g} of {question.points:g} entered)</span>"
        body = f"<pre>{html.escape(answer)}</pre>" if answer else "<p class='muted'>(no answer)</p>"
        parts.append(f"<div class='answer'><h3>{who}{given}</h3>{body}</div>")
    parts += [
        "<h2>All scores</h2>",
        _table_html(
            table[
                [
                    "submission",
                    "student",
                    "status",
                    "total",
                    *questions,
                    question.name,
                    LAB_TOTAL,
                    *ACCURACIES,
                    "seed",
                    "flags",
                ]
            ]
        ),
    ]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Lab 5 grading report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def write(graded: dict, names: dict[str, str], autograder_zip: Path, out: Path) -> pd.DataFrame:
    """Write out/scores.csv and out/report.html for ``graded`` (submission id -> Graded), keeping the
    written question's points a TA entered in an earlier out/scores.csv (entered_points: its line is printed).
    Every fact of the lab (its profile, its runs, its ranges) is the zip's that graded them."""
    autograder = Autograder(autograder_zip)
    lab = autograder.module("lab5_utils")
    calibrated = autograder.calibration(lab.get_profile().name)
    question = autograder.written_question()
    # what a TA entered there before: never lost to a rerun
    entered, said = entered_points(out / SCORES, graded, question)
    if said:
        print(said, file=sys.stderr)
    table, facts, copies = scores_table(graded, names, calibrated, question, entered)
    study = seed_study(table, facts, autograder.module("lab5_boundary").GRADED)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / SCORES, index=False, float_format="%g")  # the same row, whatever the other rows
    study.to_csv(out / "seed-study.csv", index=False, float_format="%.4f")
    # the pairs beyond what honest runs reach, with every measure, for a TA's own sorting
    near = copies.pairs[agreement.beyond(copies.pairs, copies.bounds).any(axis=1)]
    counts = [c for c in near.columns if c == "n" or c.endswith("_agree")]
    near.astype({c: "Int64" for c in counts}).to_csv(out / "near-copies.csv", index=False, float_format="%.4f")
    (out / "report.html").write_text(
        render(table, graded, facts, lab, autograder, study, copies, calibrated, question), encoding="utf-8"
    )
    return table
