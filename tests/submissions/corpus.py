"""A corpus of student submissions, each the student notebook filled in one specific way.

A case starts from student/lab5.ipynb with every blank filled in with the reference solution (as
a student who got everything right would: tools.notebooks.filled_in), plus the results file of
one real training run, and
then changes one thing. It states the points it must get on each question that does not get full
points, and a piece of the message the failing test must show, so that a wrong submission loses
points on the question it breaks and is told why, and a right one loses nothing.

To add a case, append a ``Case`` to ``CASES`` (see the README, "Adding a case to the corpus").
"""

from __future__ import annotations

import copy
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from bench import PAD_TO_MAX_LENGTH
from tools.notebooks import code_cell_with, replace_in_code

NOTEBOOK = "lab5.ipynb"
RESULTS = "lab5_results.json"


@dataclass
class Submission:
    """What a case edits: the notebook, the results record (None: not submitted), the zip's files."""

    notebook: nbformat.NotebookNode
    results: dict | None
    raw_notebook: bytes | None = None  # replaces the notebook file's bytes (e.g. broken JSON)
    zip_bytes: bytes | None = None  # replaces the whole upload (e.g. a damaged zip)


Edit = Callable[[Submission], None]


@dataclass
class Case:
    name: str
    why: str
    edits: list[Edit]
    # Expected score of each question that does not get full points (all others: full points).
    scores: dict[str, float] = field(default_factory=dict)
    # A piece of text the failure messages of the questions in ``scores`` must show.
    message: str = ""
    status: str = "graded"  # or "not gradable"

    @property
    def right(self) -> bool:
        return not self.scores and self.status == "graded"


# --------------------------------------------------------------------------------------------
# Making submissions
# --------------------------------------------------------------------------------------------


def make_submission(case: Case, base: nbformat.NotebookNode, results: dict, dest: Path) -> Path:
    """Write ``case``'s submission zip (as the export cell makes it) to ``dest``."""
    sub = Submission(copy.deepcopy(base), copy.deepcopy(results))
    for edit in case.edits:
        edit(sub)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if sub.zip_bytes is not None:
        dest.write_bytes(sub.zip_bytes)
        return dest
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NOTEBOOK, sub.raw_notebook if sub.raw_notebook is not None else nbformat.writes(sub.notebook))
        if sub.results is not None:
            zf.writestr(RESULTS, json.dumps(sub.results))
    return dest


# --------------------------------------------------------------------------------------------
# Edits
# --------------------------------------------------------------------------------------------


def sub(old: str, new: str) -> Edit:
    """Replace ``old`` by ``new`` in the one code cell that contains it."""

    def edit(s: Submission) -> None:
        replace_in_code(s.notebook, old, new)

    return edit


def sub_statement(first_line: str, new: str) -> Edit:
    """Replace the statement that starts with ``first_line`` and ends at the next line ``)``."""

    def edit(s: Submission) -> None:
        cell = code_cell_with(s.notebook, first_line)
        lines = cell.source.split("\n")
        start = lines.index(first_line)
        end = lines.index(")", start)
        cell.source = "\n".join(lines[:start] + new.split("\n") + lines[end + 1 :])

    return edit


def insert_after(text: str, source: str) -> Edit:
    """Add a code cell with ``source`` after the code cell that contains ``text``."""

    def edit(s: Submission) -> None:
        index = s.notebook.cells.index(code_cell_with(s.notebook, text))
        s.notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))

    return edit


def delete_answer_cells(s: Submission) -> None:
    s.notebook.cells = [c for c in s.notebook.cells if "otter_answer_cell" not in c.metadata.get("tags", [])]


def delete_all_cells(s: Submission) -> None:
    s.notebook.cells = []


def assignment_name(name: str) -> Edit:
    def edit(s: Submission) -> None:
        s.notebook.metadata["otter"]["assignment_name"] = name

    return edit


def results(change: Callable[[dict], None]) -> Edit:
    def edit(s: Submission) -> None:
        change(s.results)

    return edit


def no_results(s: Submission) -> None:
    s.results = None


def raw_notebook(data: bytes) -> Edit:
    def edit(s: Submission) -> None:
        s.raw_notebook = data

    return edit


def upload_bytes(data: bytes) -> Edit:
    def edit(s: Submission) -> None:
        s.zip_bytes = data

    return edit


def only_results_in_zip(s: Submission) -> None:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(RESULTS, json.dumps(s.results))
    s.zip_bytes = buffer.getvalue()


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------

BASELINE_CELL = "bow_preds = bow_clf.predict(X_test)"

CASES = [
    # Right, but written differently: each must get full points.
    Case("right_reference", "the reference solution as is", []),
    Case(
        "right_pad_to_max_length",
        "pads every tweet to 128 tokens in tok_fn (the original notebook's way) and uses the default collator",
        [sub(old, new) for old, new in PAD_TO_MAX_LENGTH],
    ),
    Case(
        "right_sklearn_pipeline",
        "the baseline as a scikit-learn Pipeline that vectorizes and classifies",
        [
            sub(
                'tfidf = TfidfVectorizer(max_features=20_000, ngram_range=(1, 2), stop_words="english")\n'
                "X_train = tfidf.fit_transform(train_texts)\n"
                "X_test = tfidf.transform(test_texts)\n"
                "\n"
                "bow_clf = LogisticRegression(max_iter=1000)\n"
                "bow_clf.fit(X_train, train_labels)\n"
                "bow_preds = bow_clf.predict(X_test)\n",
                "from sklearn.pipeline import make_pipeline\n\n"
                "bow_clf = make_pipeline(\n"
                '    TfidfVectorizer(max_features=20_000, ngram_range=(1, 2), stop_words="english"),\n'
                "    LogisticRegression(max_iter=1000),\n"
                ")\n"
                "bow_clf.fit(train_texts, train_labels)\n"
                "tfidf = bow_clf[0]\n"
                "bow_preds = bow_clf.predict(test_texts)\n",
            )
        ],
    ),
    Case(
        "right_args_from_dict",
        "TrainingArguments built from a dict of settings",
        [
            sub_statement(
                "args = TrainingArguments(",
                'settings = {"eval_strategy": "epoch", "save_strategy": "no", "learning_rate": 2e-5,\n'
                '            "per_device_train_batch_size": 16, "per_device_eval_batch_size": 32,\n'
                '            "num_train_epochs": 2.0, "weight_decay": 0.01, "logging_steps": 50, "report_to": "none"}\n'
                'args = TrainingArguments(output_dir="lab5-finetune", **settings)',
            )
        ],
    ),
    Case(
        "right_quiz_case_and_spaces",
        "quiz answers in other case and with spaces around them",
        [sub('quiz_q1 = "orange"', 'quiz_q1 = "  Orange "'), sub('quiz_q2 = "blue"', 'quiz_q2 = "BLUE\\n"')],
    ),
    Case(
        "right_subsets_via_pandas",
        "subsets built through pandas, labels as a NumPy array, num_labels counted from the data",
        [
            sub(
                'train_texts, train_labels = list(train_subset["text"]), list(train_subset["label"])',
                "train_df = train_subset.to_pandas()\n"
                'train_texts, train_labels = train_df["text"].tolist(), train_df["label"].to_numpy()',
            ),
            sub("num_labels = len(label_names)", "num_labels = len(set(train_labels))"),
        ],
    ),
    Case(
        "right_extra_cells_and_prints",
        "extra cells that print, plot and define helpers along the way",
        [
            insert_after("num_labels = len(label_names)", 'print(train_texts[0][:40])\nimport collections\ncollections.Counter(train_labels)'),
            insert_after(BASELINE_CELL, "from sklearn.metrics import classification_report\nprint(classification_report(test_labels, bow_preds))"),
            insert_after('quiz_q3 = "orange"', 'my_answers = [quiz_q1, quiz_q2, quiz_q3]\nprint("my answers:", my_answers)'),
        ],
    ),
    Case(
        "right_metrics_by_hand",
        "compute_metrics with NumPy on EvalPrediction's attributes, returning a NumPy float",
        [
            sub(
                '    preds = np.argmax(logits, axis=-1)\n    return {"accuracy": accuracy_score(labels, preds)}',
                '    preds = eval_pred.predictions.argmax(-1)\n    return {"accuracy": (preds == eval_pred.label_ids).mean()}',
            )
        ],
    ),
    # Wrong in one way each: points lost on the question it breaks, with a message naming the fault.
    Case("wrong_vectorizer_fit_on_test", "the vectorizer is fit on the test texts",
         [sub("X_train = tfidf.fit_transform(train_texts)\nX_test = tfidf.transform(test_texts)",
              "tfidf.fit(test_texts)\nX_train = tfidf.transform(train_texts)\nX_test = tfidf.transform(test_texts)")],
         scores={"q2_baseline": 2}, message="fit it on train_texts only"),
    Case("wrong_vectorizer_fit_on_train_and_test", "the vectorizer is fit on train and test texts together",
         [sub("X_train = tfidf.fit_transform(train_texts)",
              "tfidf.fit(train_texts + test_texts)\nX_train = tfidf.transform(train_texts)")],
         scores={"q2_baseline": 2}, message="fit it on train_texts only"),
    Case("wrong_subset_seed", "the splits are shuffled with seed 0",
         [sub('raw["train"].shuffle(seed=SEED)', 'raw["train"].shuffle(seed=0)'),
          sub('raw["test"].shuffle(seed=SEED)', 'raw["test"].shuffle(seed=0)')],
         scores={"q1_data": 1}, message="shuffle the train split with seed=SEED"),
    Case("wrong_subset_size", "the training subset keeps half the rows",
         [sub("select(range(TRAIN_SIZE))", "select(range(TRAIN_SIZE // 2))")],
         scores={"q1_data": 0, "q2_baseline": 2}, message="expected 2000"),
    Case("wrong_labels_shuffled_separately", "the training labels come from a second shuffle",
         [sub('list(train_subset["label"])', 'list(raw["train"].shuffle(seed=SEED + 1).select(range(TRAIN_SIZE))["label"])')],
         scores={"q1_data": 1, "q2_baseline": 2}, message="do not line up"),
    Case("wrong_acc_bow_hardcoded", "acc_bow typed in instead of computed",
         [sub("acc_bow = accuracy_score(test_labels, bow_preds)", "acc_bow = 0.5")],
         scores={"q2_baseline": 2}, message="compute acc_bow = accuracy_score"),
    Case("wrong_random_init", "the model is built from its config: random weights, not the checkpoint's",
         [sub("model_ft = AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=num_labels)",
              "from transformers import AutoConfig\n"
              "model_ft = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(CHECKPOINT, num_labels=num_labels))")],
         scores={"q4_setup": 3}, message="random init"),
    Case("wrong_num_labels_2", "the classification head has 2 outputs",
         [sub("from_pretrained(CHECKPOINT, num_labels=num_labels)", "from_pretrained(CHECKPOINT, num_labels=2)")],
         scores={"q4_setup": 2}, message="num_labels"),
    Case("wrong_learning_rate", "learning rate 5e-5",
         [sub("learning_rate=2e-5", "learning_rate=5e-5")],
         scores={"q4_setup": 3}, message="learning_rate=5e-05 (expected 2e-05)"),
    Case("wrong_five_epochs", "5 epochs",
         [sub("num_train_epochs=2,", "num_train_epochs=5,")],
         scores={"q4_setup": 3}, message="num_train_epochs=5"),
    Case("wrong_no_truncation", "tok_fn does not truncate",
         [sub("tokenizer(batch[\"text\"], truncation=True, max_length=MAX_LENGTH)", "tokenizer(batch[\"text\"])")],
         scores={"q3_tokenize": 2}, message="must truncate"),
    Case("wrong_eval_steps_with_checkpoints", "evaluates every 50 steps and saves checkpoints",
         [sub('eval_strategy="epoch",\n    save_strategy="no",', 'eval_strategy="steps",\n    eval_steps=50,\n    save_strategy="steps",')],
         scores={"q4_setup": 3}, message="eval_strategy='steps'"),
    Case("wrong_metric_error_rate", "compute_metrics returns the error rate under the name accuracy",
         [sub('return {"accuracy": accuracy_score(labels, preds)}', 'return {"accuracy": 1 - accuracy_score(labels, preds)}')],
         scores={"q4_setup": 3.5}, message="compute_metrics gives accuracy 0.250"),
    Case("wrong_metric_macro_f1", "compute_metrics returns macro-F1 under the name accuracy",
         [sub('return {"accuracy": accuracy_score(labels, preds)}',
              'from sklearn.metrics import f1_score\n    return {"accuracy": f1_score(labels, preds, average="macro")}')],
         scores={"q4_setup": 3.5}, message="compute_metrics gives accuracy"),
    Case("wrong_acc_ft_typed_in", "acc_ft typed in by hand: the saved predictions say otherwise",
         [results(lambda r: r.update(acc_ft=0.75))],
         scores={"q5_results": 3}, message="let trainer.predict(tok_test) compute acc_ft"),
    Case("wrong_results_missing", "the results file is not in the submission",
         [no_results], scores={"q5_results": 0}, message="lab5_results.json not found"),
    Case("wrong_predictions_order", "the saved predictions are in another order than the test subset",
         [results(lambda r: r.update(ft_preds=sorted(r["ft_preds"])))],
         scores={"q5_results": 2}, message="in test-subset order"),
    Case("wrong_quiz_q1", "quiz question 1 answered blue", [sub('quiz_q1 = "orange"', 'quiz_q1 = "blue"')],
         scores={"q6_quiz": 2}, message="quiz_q1 is not the expected answer"),
    Case("wrong_quiz_q2", "quiz question 2 answered orange", [sub('quiz_q2 = "blue"', 'quiz_q2 = "orange"')],
         scores={"q6_quiz": 2}, message="quiz_q2 is not the expected answer"),
    Case("wrong_quiz_q3", "quiz question 3 answered green", [sub('quiz_q3 = "orange"', 'quiz_q3 = "green"')],
         scores={"q6_quiz": 2}, message="quiz_q3 is not the expected answer"),
    Case("wrong_quiz_not_a_color", "a quiz answer that is not one of the three colors",
         [sub('quiz_q3 = "orange"', 'quiz_q3 = "fine-tuning"')],
         scores={"q6_quiz": 2}, message="answer with one of the strings"),
    # Bad input: a results file with zeros where due and a readable message, never a crash.
    Case("bad_malformed_json", "the notebook file is not JSON", [raw_notebook(b'{"cells": [ this is not json')],
         scores={q: 0 for q in ("q1_data", "q2_baseline", "q3_tokenize", "q4_setup", "q5_results", "q6_quiz")},
         message="is not a readable Jupyter notebook", status="not gradable"),
    Case("bad_empty_notebook", "a notebook without cells", [delete_all_cells, no_results],
         scores={q: 0 for q in ("q1_data", "q2_baseline", "q3_tokenize", "q4_setup", "q5_results", "q6_quiz")},
         message="is not defined"),
    Case("bad_cell_raises", "the baseline cell raises before it predicts",
         [sub("bow_clf.fit(X_train, train_labels)", "bow_clf.fit(X_train, train_labels[:10])")],
         scores={"q2_baseline": 1}, message="bow_preds is not defined"),
    Case("bad_answer_cells_deleted", "the student deleted every answer cell (the results file is still there)",
         [delete_answer_cells],
         scores={"q1_data": 0, "q2_baseline": 0, "q3_tokenize": 0, "q4_setup": 0, "q6_quiz": 0},
         message="is not defined"),
    Case("bad_other_assignment", "a notebook of another assignment", [assignment_name("lab3")],
         scores={q: 0 for q in ("q1_data", "q2_baseline", "q3_tokenize", "q4_setup", "q5_results", "q6_quiz")},
         message="this is assignment 'lab5'", status="not gradable"),
    Case("bad_zip_without_notebook", "a zip that holds only the results file", [only_results_in_zip],
         scores={q: 0 for q in ("q1_data", "q2_baseline", "q3_tokenize", "q4_setup", "q5_results", "q6_quiz")},
         message="has no notebook", status="not gradable"),
    Case("bad_damaged_zip", "an upload that is not a zip file at all", [upload_bytes(b"PK\x03\x04 truncated")],
         scores={q: 0 for q in ("q1_data", "q2_baseline", "q3_tokenize", "q4_setup", "q5_results", "q6_quiz")},
         message="damaged", status="not gradable"),
]
