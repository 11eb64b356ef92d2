"""Gradescope's image: what its setup.sh does for the lab, as root, once, when the image is built.

    python /autograder/source/files/lab5_image_setup.py /opt/lab5

Shipped in the autograder zip only (tools/build.py adds the line to otter's setup.sh). It copies the
profile's data set and checkpoint into plain folders that the grading user can read (grading then needs
no network), makes that user, and says in the image's build log whether this container allows a
bubblewrap sandbox and the network filter (docs/design.md, "The upload, the results questions, and
grading mode": how an instructor checks it). The TA command makes the same folders once for itself
(tools/grade.py, with :func:`prefetch`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lab5_sandbox as sandbox
import lab5_utils as lab


def prefetch(dest: Path) -> dict[str, str]:
    """Gradescope's image: the profile's data set and checkpoint as plain folders in ``dest``, which
    the grading user reads (the TweetEval benchmark's own file format, and the checkpoint's files), and
    the hub's cache (HF_HOME) filled for a notebook that names the checkpoint itself. Returns the
    environment that points grading at them (run_autograder exports the same)."""
    import shutil

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    profile = lab.get_profile()
    raw = lab.load_tweeteval(profile)
    data = dest / "tweeteval" / "sentiment"
    data.mkdir(parents=True, exist_ok=True)
    names = raw["train"].features["label"].names
    (data / "mapping.txt").write_text("".join(f"{i}\t{name}\n" for i, name in enumerate(names)), encoding="utf-8")
    for split, file_split in (("train", profile.local_train_split), ("test", "test")):
        texts, labels = list(raw[split]["text"]), list(raw[split]["label"])
        if any("\n" in t or "\r" in t for t in texts):
            raise lab.LabSetupError(f"a tweet of the {split} split has a line break: it cannot be kept one per line")
        (data / f"{file_split}_text.txt").write_text("".join(t + "\n" for t in texts), encoding="utf-8")
        (data / f"{file_split}_labels.txt").write_text("".join(f"{y}\n" for y in labels), encoding="utf-8")
    for split in ("train", "test"):  # the copy reads back as the hub's data, row for row
        mirrored = lab.read_local(data, profile.local_train_split)[1][split]
        if mirrored != {"text": list(raw[split]["text"]), "label": [int(y) for y in raw[split]["label"]]}:
            raise lab.LabSetupError(f"the copy of TweetEval's {split} split differs from the data set it was made from")
    source = lab.checkpoint_path(profile)
    checkpoint = dest / "checkpoint"
    shutil.rmtree(checkpoint, ignore_errors=True)
    if Path(source).is_dir():
        shutil.copytree(source, checkpoint)
    else:
        from huggingface_hub import snapshot_download

        # into the hub's cache (for a notebook that names the checkpoint itself), then its files copied out
        # (a snapshot's files are links into the cache's blobs); with the hub off, from that cache alone
        snapshot = snapshot_download(source, allow_patterns=["*.json", "*.txt", "*.safetensors"])
        shutil.copytree(snapshot, checkpoint)  # links followed: plain files
        AutoTokenizer.from_pretrained(source)
        AutoModelForSequenceClassification.from_pretrained(source, num_labels=3)
    AutoTokenizer.from_pretrained(checkpoint)
    AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=3)
    print(
        f"Copied TweetEval ({', '.join(f'{k}: {len(v)}' for k, v in raw.items())}) and {profile.checkpoint} to {dest}."
    )
    return {lab.DATA_DIR_ENV: str(dest / "tweeteval"), lab.CHECKPOINT_ENV: str(checkpoint)}


def image_setup(dest: Path) -> int:
    """Gradescope's image (setup.sh, as root): the data set and the checkpoint in ``dest`` (readable by
    all, writable by root), the grading user, and every folder above what that user must read
    traversable; says whether this container allows a bubblewrap sandbox."""
    os.environ.update(prefetch(dest))
    for path in [dest, *dest.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    sandbox.open_to_grading_user()
    problem, network = sandbox.bubblewrap_problem(), sandbox.network_problem()
    print(
        f"Lab 5: notebooks run at grading as {sandbox.ensure_user().pw_name}, "
        + ("in a bubblewrap sandbox" if problem is None else f"without a bubblewrap sandbox ({problem})")
        + (
            "; their kernels have no network (a seccomp filter)."
            if network is None
            else f"; their kernels' network is NOT filtered ({network})."
        )
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: lab5_image_setup.py FOLDER (where the data set and the checkpoint go)")
    sys.exit(image_setup(Path(sys.argv[1])))
