"""The calibration (tools/calibration.py, ``python3 -m tools calibrate``): the rule that makes the accepted
ranges, the files the autograder carries, the command on honest runs in the offline profile and on the
hub's stand-in, and where the near-copy flag starts (tools/agreement.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from submissions.corpus import BY_NAME

from tools import agreement, calibrate, calibration, project, standin, student
from tools.autograder import Autograder
from tools.submissions import make_submission

# The offline profile's 8 seeds as bench seeds measured them (2026-12-02; docs/performance.md)
SEEDS_2026_12_02 = {
    "acc_bow": [0.471] * 8,
    "acc_ft": [0.636, 0.575, 0.643, 0.591, 0.531, 0.544, 0.539, 0.632],
    "acc_scratch": [0.199, 0.495, 0.338, 0.430, 0.486, 0.491, 0.486, 0.495],
}
SHARES = [0.3165, 0.4945, 0.189]  # a test subset's class shares


def test_the_ranges_cover_every_run_the_spread_and_a_collapsed_random_init_run():
    ranges = calibration.ranges(SEEDS_2026_12_02, SHARES)
    assert ranges == {"acc_bow": [0.42, 0.53], "acc_ft": [0.35, 0.83], "acc_scratch": [0.13, 0.55]}
    for key, values in SEEDS_2026_12_02.items():
        low, high = ranges[key]
        assert low <= min(values) - calibration.MARGIN and max(values) + calibration.MARGIN <= high, key
    # the fine-tuned floor: where 1 honest run in 1,000 falls below, with the spread known from 8 runs
    # only (Student's t, 7 degrees of freedom: 4.79 standard deviations and a little more)
    mean, sd = np.mean(SEEDS_2026_12_02["acc_ft"]), np.std(SEEDS_2026_12_02["acc_ft"], ddof=1)
    floor = mean - 4.7853 * sd * np.sqrt(1 + 1 / 8)
    assert ranges["acc_ft"][0] <= floor < ranges["acc_ft"][0] + 0.01
    # a random-init run that calls every tweet the rarest class is honest; one that learned is told
    assert ranges["acc_scratch"][0] <= min(SHARES) - calibration.MARGIN
    assert ranges["acc_scratch"][1] < min(SEEDS_2026_12_02["acc_ft"]) + calibration.MARGIN


def test_each_profile_has_its_calibration_and_the_autograder_carries_it(fresh_build):
    import lab5_answer_key

    for profile in ("offline", "full"):
        made = json.loads(calibration.path(profile).read_text())
        assert made["profile"] == profile and list(made["ranges"]) == list(project.ACCURACIES)
        assert Autograder(project.AUTOGRADER_ZIP).calibration(profile) == made, "rebuild: python3 -m tools build"
        assert lab5_answer_key.calibration(profile) == made
    offline = json.loads(calibration.path("offline").read_text())
    # measured: every seed's runs inside the ranges made from them, every two runs' agreement kept
    assert len(offline["seeds"]) >= 8 and not offline["standin"]
    assert offline["ranges"] == calibration.ranges(offline["accuracies"], offline["class_shares"])
    assert all(
        len(values) == len(offline["seeds"]) * (len(offline["seeds"]) - 1) // 2 for values in offline["pairs"].values()
    )
    # the full profile is not measured here: its file and the report say so
    assert calibration.source(json.loads(calibration.path("full").read_text())).startswith(
        "the full profile's ranges are reasoned, not measured"
    )


@pytest.fixture(scope="module")
def honest_runs(reference_run, build_run, tmp_path_factory):
    """Two honest runs' submissions: the reference student's (seed 42) and the build's (seed 43)."""
    inbox = tmp_path_factory.mktemp("calibration") / "runs"
    inbox.mkdir()
    shutil.copy(reference_run.submission, inbox / "seed-42.zip")
    make_submission(BY_NAME["right_reference"], student.filled_in(), build_run, inbox / "seed-43.zip")
    return inbox


def calibrate_command(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.calibrate", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=project.ROOT,
        env=env,
    )


def test_the_command_calibrates_the_offline_profile_from_honest_runs(honest_runs, reference_run, build_run, tmp_path):
    out = tmp_path / "offline.json"
    proc = calibrate_command("--profile", "offline", "--runs", str(honest_runs), "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    made = json.loads(out.read_text())
    assert made["profile"] == "offline" and made["seeds"] == [42, 43] and made["standin"] is None
    assert made["accuracies"]["acc_ft"] == [round(reference_run.record["acc_ft"], 4), round(build_run["acc_ft"], 4)]
    for key, values in made["accuracies"].items():
        low, high = made["ranges"][key]
        assert all(low < v < high for v in values), key
    assert {column: len(values) for column, values in made["pairs"].items()} == {
        column: 1 for column in agreement.MEASURES
    }
    assert "2 runs (training seeds 42, 43)" in proc.stdout and "a calibration from 2 runs" in proc.stderr
    # the file the build takes: a calibration of another profile is refused in one line
    wrong = subprocess.run(
        [sys.executable, "-m", "tools.build", "--profile", "full", "--calibration", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project.ROOT,
    )
    assert wrong.returncode == 2 and "it calibrates the 'offline' profile, not 'full'" in wrong.stderr, wrong.stderr


def test_the_command_refuses_what_is_not_an_honest_run(honest_runs, tmp_path):
    """Something that is no run, and a copy: it would pass for an honest pair and move where the flag starts."""
    inbox = tmp_path / "runs"
    inbox.mkdir()
    shutil.copy(honest_runs / "seed-42.zip", inbox / "seed-42.zip")
    shutil.copy(honest_runs / "seed-42.zip", inbox / "friend.zip")
    with zipfile.ZipFile(inbox / "broken.zip", "w") as zf:
        zf.writestr("notes.txt", "no notebook")
    out = tmp_path / "offline.json"
    proc = calibrate_command("--profile", "offline", "--runs", str(inbox), "--out", str(out))
    assert proc.returncode == 1 and "calibration takes honest runs of the lab only" in proc.stderr, proc.stderr
    assert "broken:" in proc.stderr and "friend: the same training run as seed-42" in proc.stderr, proc.stderr
    assert "friend, seed-42: the same training seed (42)" in proc.stderr
    assert not out.exists()
    assert (
        calibrate_command("--runs", str(tmp_path / "nowhere"))
        .stderr.strip()
        .endswith("(give the folder that holds the submissions)")
    )


def test_on_the_standin_the_calibration_says_so_and_stays_out_of_the_master(
    standin_home, reference_graded, monkeypatch
):
    env = standin.process_environment(standin_home)
    proc = calibrate_command(
        "--profile", "full", "--runs", str(project.ROOT), "--out", str(calibration.path("full")), env=env
    )
    assert proc.returncode == 2 and "on the hub's stand-in the figures are not the lab's" in proc.stderr, proc.stderr
    monkeypatch.setenv("HF_HOME", env["HF_HOME"])
    from tools import report

    facts = {sid: report.submission_facts(reference_graded) for sid in ("a", "b", "c")}
    for i, sid in enumerate(facts):
        facts[sid] = {**facts[sid], "seed": i}
    made = calibrate.calibrate(facts, SHARES, "full", "python3 -m tools calibrate --profile full")
    assert made["standin"] and "made on the hub's stand-in" in calibration.source(made)


def synthetic_class(runs: int, copies_of: dict[str, float], seed: int = 0) -> dict[str, dict[str, agreement.Run]]:
    """A class of made-up runs (not the lab's: a check of the flag's arithmetic): each run's scores are a
    shared signal plus its own part; a copy is its original plus noise of the given size."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 1, (400, 3))
    made = {}
    for i in range(runs):
        scores = signal + rng.normal(0, 0.6, signal.shape)
        made[f"s{i:02d}"] = {"ft": agreement.Run(scores.argmax(1).astype(np.int8), scores.astype(np.float32))}
    for name, noise in copies_of.items():
        scores = made["s00"]["ft"].scores + rng.normal(0, noise, signal.shape)
        made[name] = {"ft": agreement.Run(scores.argmax(1).astype(np.int8), scores.astype(np.float32))}
    return made


def test_a_large_class_sets_where_honest_pairs_end_itself():
    made = synthetic_class(30, {"close": 0.05, "far": 1.2})
    pairs = agreement.pairs(made)
    found = agreement.bounds(pairs, None)
    assert found["ft_gap"].basis.startswith("beyond this class's 32 runs' pairs") and found["ft_agree"].flag_at is None
    near = agreement.near_copies(pairs, found)
    assert set(near) == {"s00", "close"}, (
        "the close copy is flagged with its original; one noisier than honest runs differ is not"
    )
    # a small class falls back on the calibration, and without one flags nothing
    small = agreement.pairs({k: made[k] for k in ("s00", "s01", "s02", "close")})
    assert agreement.bounds(small, None)["ft_gap"].flag_at is None and not agreement.near_copies(
        small, agreement.bounds(small, None)
    )
    offline = json.loads(calibration.path("offline").read_text())
    with_calibration = agreement.bounds(small, offline)
    assert with_calibration["ft_gap"].basis.startswith("beyond the calibration's")
    # never inside what the calibration's honest pairs reached
    assert with_calibration["ft_gap"].flag_at < min(offline["pairs"]["ft_gap"])
    assert with_calibration["ft_corr"].flag_at > max(offline["pairs"]["ft_corr"])


def test_the_stated_false_flag_rate_is_what_the_flag_starts_at():
    pairs = pd.DataFrame(
        {
            "a": ["x"] * 400,
            "b": [f"y{i}" for i in range(400)],
            "n": 100.0,
            "ft_corr": np.tanh(np.random.default_rng(1).normal(1.0, 0.1, 400)),
        }
    )
    found = agreement.bounds(pairs, None)
    assert found["ft_corr"].flag_at == pytest.approx(np.tanh(1.0 + agreement.Z * 0.1), abs=0.02)
    assert agreement.Z > 5  # 1e-6 shared out among four measures


def test_the_report_says_where_the_class_sits_against_the_calibration():
    from tools import report

    offline = json.loads(calibration.path("offline").read_text())
    low, high = offline["ranges"]["acc_ft"]
    middle = (low + high) / 2
    no_pairs = agreement.Copies(agreement.pairs({}), {}, {}, {})

    def notes(ft: list[float]) -> list[tuple[bool, str]]:
        study = pd.DataFrame(
            {
                "acc_bow": [offline["accuracies"]["acc_bow"][0]] * len(ft),
                "acc_ft": ft,
                "acc_scratch": [max(offline["class_shares"])] * len(ft),
            }
        )
        return report.calibration_notes(study, no_pairs, offline)

    calm = notes([middle] * 25)
    assert calm == [(False, f"Ranges and honest pairs: {calibration.source(offline)}.")]
    said = notes([low - 0.01, low + 0.005] + [middle] * 23)
    assert (
        True,
        f"fine-tuned (acc_ft): 1 of the class's 25 runs outside [{low}, {high}], 1 within 0.02 of its edge.",
    ) in said
    # every run inside, but the class's spread reaches beyond the range: unlucky seeds would lose points
    wide = notes([low + 0.03, high - 0.03] * 12 + [middle])
    assert not any("runs outside" in text for _, text in wide)
    assert any(warn and "calibrate this profile again" in text for warn, text in wide), wide
    # a pair closer than any honest pair of the calibration, yet short of the flag on every measure
    pairs = pd.DataFrame(
        {
            "a": ["x", "x"],
            "b": ["y", "z"],
            "n": [2000.0, 2000.0],
            "ft_agree": [1900.0, 1700.0],
            "ft_corr": [0.985, 0.93],
            "ft_gap": [0.15, 0.2],
            "scratch_agree": [1000.0, 1000.0],
            "scratch_corr": [0.3, 0.3],
            "scratch_gap": [0.7, 0.7],
        }
    )
    found = agreement.bounds(pairs, offline)
    near = report.calibration_notes(
        pd.DataFrame(columns=list(project.ACCURACIES)), agreement.Copies(pairs, found, {}, {}), offline
    )
    assert any(
        text.startswith(
            "1 pair of submissions closer than any of the calibration's honest pairs (where the fine-tuned "
            "scores correlate 0.9752 at the closest), flagged by no measure"
        )
        for _, text in near
    ), near
    # reasoned ranges (the full profile until it is calibrated) are a warning of their own
    full = json.loads(calibration.path("full").read_text())
    assert report.calibration_notes(pd.DataFrame(columns=list(project.ACCURACIES)), no_pairs, full)[0][0] is True
