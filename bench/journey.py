"""A student's journey in a real browser: JupyterLab on a fresh laptop environment, the lab done by hand.

    python3 -m tools bench journey [--out DIR] [--port 8899] [--reuse-venv]

As a laptop student with nothing but Python: unpack the handout (student/lab5-files.zip), make a
virtual environment and ``pip install -r requirements.txt`` (the README's student commands), start
``jupyter lab`` there, and in Debian's Chromium (driven by Playwright; no browser is downloaded):
open lab5.ipynb, type the reference answers into every answer cell, but question 4's learning rate
mistyped (2e-4): run every cell above the submit cell, which must stop at the fine-tuning cell, before
it trains, saying so; type the right learning rate, run every cell above the submit cell again (offline
profile, real training), save, run the submit cell and download the zip its output offers; then grade
that zip through the autograder's entry point. It checks what a student
sees: each ``grader.check`` passes, the progress bars render (no "Error displaying widget", no raw
``HBox(...)`` text), the comparison figure shows, the submit cell offers the zip, and the zip gets
full points. It stops at the first thing a student would be stuck on and says what it is.

It writes to DIR (default .cache/journey): journey.html (the steps and their times, how long each
slow cell kept the student waiting, and a screenshot of every section as the student sees it),
journey.json (the same figures), the screenshots, the notebook as saved and the submission zip.
About 10 minutes on 2 CPU cores (two trainings; the environment from pip's cache).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import html
import json
import math
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from bench import machine
from tools import build, grade, notebooks, project
from tools.autograder import checkout_module

CHROMIUM = "/usr/bin/chromium"  # Debian's package: apt-get install chromium
VIEWPORT = {"width": 1400, "height": 1000}
RUN_LIMIT_S = 3600  # the whole notebook, both trainings included
WAIT_S = 1.0  # a cell that keeps the student waiting this long is listed with its time
# What a browser shows instead of a widget it cannot render (the raw repr, or JupyterLab's error).
WIDGET_FAILURES = ("Error displaying widget", "HBox(children", "FloatProgress(", "IntProgress(")
# JupyterLab settings of this journey's user: record cell timings (the waits), no news prompt.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"recordTiming": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


class Stuck(Exception):
    """Where a student would be stuck, in their words."""


@dataclass
class Journey:
    out: Path
    steps: list[dict] = field(default_factory=list)
    shots: list[tuple[str, str]] = field(default_factory=list)  # (caption, png file name)
    waits: list[dict] = field(default_factory=list)
    red: list[dict] = field(default_factory=list)  # what the notebook prints to stderr (shown in red)
    checks: list[str] = field(default_factory=list)
    stuck: str = ""

    def step(self, name: str):
        journey = self

        class Step:
            def __enter__(self):
                print(f"[journey] {name} ...", flush=True)
                self.started = time.perf_counter()

            def __exit__(self, kind, error, tb):
                seconds = time.perf_counter() - self.started
                journey.steps.append({"step": name, "seconds": round(seconds, 1), "ok": kind is None})
                print(f"[journey] {name}: {'done' if kind is None else 'FAILED'} in {seconds:.0f} s", flush=True)
                if kind is not None and not journey.stuck:
                    journey.stuck = f"{name}: {error}"

        return Step()

    def check(self, ok: bool, said: str, otherwise: str) -> None:
        if not ok:
            raise Stuck(otherwise)
        self.checks.append(said)


# -----------------------------------------------------------------------------------------------
# The laptop: handout, environment, JupyterLab
# -----------------------------------------------------------------------------------------------


def unpack_handout(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    with zipfile.ZipFile(project.STUDENT / build.HANDOUT_ZIP) as zf:
        zf.extractall(folder)


def student_shell() -> dict[str, str]:
    """This process's environment without what makes it this project's (its .venv, its imports)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}


def make_venv(venv: Path, folder: Path) -> None:
    """The README's student commands, with the Python a student has (not this project's .venv)."""
    shutil.rmtree(venv, ignore_errors=True)
    python = shutil.which("python3.11") or shutil.which("python3")
    env = student_shell()
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
    log = venv.parent / "pip-install.log"
    with log.open("w") as out:
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-r", "requirements.txt"],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if done.returncode:
        raise Stuck(f"pip install -r requirements.txt failed (exit {done.returncode}); its output: {log}")


def lab_env(work: Path, venv: Path) -> dict[str, str]:
    """A student's shell: the venv first on PATH, nothing of this project's, the lab's offline profile."""
    env = student_shell()
    env.update(project.lab_environment("offline"))
    settings = work / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTER_CONFIG_DIR=str(work / "jupyter-config"),  # no user config of this machine's
        JUPYTER_DATA_DIR=str(work / "jupyter-data"),  # ... nor its kernels: the venv's python3
        JUPYTER_RUNTIME_DIR=str(work / "jupyter-runtime"),
    )
    return env


def start_lab(venv: Path, folder: Path, port: int, env: dict, log: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(venv / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={folder}",
            # this machine runs as root, which jupyter refuses unless told; a student's laptop does not
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        cwd=folder,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            raise Stuck(f"jupyter lab exited ({server.returncode}); its log: {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2):
                return server
        except OSError:
            time.sleep(1)
    raise Stuck(f"jupyter lab did not answer on port {port} within 2 minutes; its log: {log}")


def kernel_busy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernels", timeout=5) as reply:
        return any(k.get("execution_state") != "idle" for k in json.load(reply))


# -----------------------------------------------------------------------------------------------
# The browser
# -----------------------------------------------------------------------------------------------

CELLS = ".jp-Notebook .jp-Cell"


def cell(page, index: int):
    return page.locator(CELLS).nth(index)


def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def type_into(page, index: int, text: str) -> None:
    """Select cell ``index``, enter its editor, replace what it holds by ``text`` as typed input."""
    target = cell(page, index)
    target.scroll_into_view_if_needed()
    target.locator(".jp-InputPrompt").first.click()  # selects the cell (command mode)
    page.keyboard.press("Enter")  # edit mode, in code and markdown cells alike
    page.wait_for_selector(f"{CELLS}.jp-mod-active .cm-editor.cm-focused", timeout=10_000)
    page.keyboard.press("Control+a")
    # Inserted as one input, like a paste: CodeMirror's auto-indent and bracket closing act on typed
    # keys, and would change the answer's indentation where a student's own typing would not.
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")


def save(page, path: Path) -> None:
    before = path.stat().st_mtime_ns
    page.keyboard.press("Control+s")
    deadline = time.time() + 30
    while path.stat().st_mtime_ns == before:
        if time.time() > deadline:
            raise Stuck("File > Save did not write the notebook within 30 s")
        time.sleep(0.5)
    time.sleep(1)


def wait_for_kernel(page, port: int, what: str, limit: float = RUN_LIMIT_S) -> None:
    """Until no cell is running or queued ([*]) and the kernel is idle; progress every minute."""
    started, last = time.time(), 0.0
    time.sleep(3)
    while True:
        running = page.locator(".jp-InputPrompt", has_text="[*]").count()
        if not running and not kernel_busy(port):
            return
        waited = time.time() - started
        if waited > limit:
            raise Stuck(f"{what} still running after {limit / 60:.0f} minutes")
        if waited - last >= 60:
            last = waited
            print(f"[journey]   {what}: {waited / 60:.0f} min, {running} cells running or queued", flush=True)
        time.sleep(5)


def screenshot(page, journey: Journey, caption: str) -> None:
    name = f"{len(journey.shots) + 1:02d}.png"
    page.screenshot(path=str(journey.out / name))
    journey.shots.append((caption, name))


def section_screenshots(page, journey: Journey) -> None:
    """Each section as a student scrolls through it: from its heading, a screen at a time (at most 5)."""
    headings = page.locator(".jp-MarkdownOutput h1, .jp-MarkdownOutput h2")
    # text_content, not inner_text: JupyterLab does not render the text of cells far off the screen
    titles = [(t or "").strip().rstrip("¶").strip() for t in headings.all_text_contents()]
    scroller = page.locator(".jp-WindowedPanel-outer").first
    last_cell = page.locator(CELLS).last
    for i, title in enumerate(titles):
        headings.nth(i).evaluate("h => h.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(400)
        top, height = scroller.evaluate("s => [s.getBoundingClientRect().top, s.clientHeight]")
        end = (headings.nth(i + 1) if i + 1 < len(titles) else last_cell).evaluate(
            "e => e.getBoundingClientRect()" + (".top" if i + 1 < len(titles) else ".bottom")
        )
        step = height - 60  # each further screen keeps 60 px of the one before
        screens = max(1, min(5, 1 + math.ceil(max(0, end - top - height) / step)))
        for n in range(screens):
            if n:
                scroller.evaluate("(s, by) => s.scrollBy(0, by)", step)
                page.wait_for_timeout(300)
            screenshot(page, journey, title + (f" ({n + 1}/{screens})" if screens > 1 else ""))


# -----------------------------------------------------------------------------------------------
# What the student sees
# -----------------------------------------------------------------------------------------------


def outputs_of(page, index: int) -> str:
    """The text of a cell's outputs as shown once the student scrolls to it (JupyterLab renders a
    cell's content only near the screen)."""
    target = cell(page, index)
    target.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    area = target.locator(".jp-OutputArea")
    return area.first.inner_text() if area.count() else ""


def check_what_a_student_sees(page, nb, journey: Journey) -> None:
    code = {i: c for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    checks = [i for i, c in code.items() if c.source.startswith("grader.check(")]
    for i in checks:
        text = outputs_of(page, i)
        said = next((line.strip() for line in text.splitlines() if "passed" in line), "")
        journey.check(
            "passed" in text and "failed" not in text.lower(),
            f"{code[i].source.strip()} shows: {said}",
            f"{code[i].source.strip()} does not show that it passed; it shows: {text.strip()[:500]!r}",
        )
    notebook_text = page.locator(".jp-Notebook").first.text_content()
    broken = [w for w in WIDGET_FAILURES if w in notebook_text]
    journey.check(
        not broken,
        "no widget shows as 'Error displaying widget' or as raw HBox(...) text",
        f"progress bars do not render: the page shows {broken}",
    )
    # the progress bars: the data set maps (tqdm's widgets) and the Trainer's own (HTML progress)
    slow = [i for i, c in code.items() if ".map(" in c.source or ".train()" in c.source]
    for i in slow:
        outputs_of(page, i)
        area = cell(page, i).locator(".jp-OutputArea")
        bars = area.locator("progress, .widget-progress, .jupyter-widget-progress, .progress").count()
        journey.check(
            bars > 0,
            f"the cell '{code[i].source.strip().splitlines()[0]}' shows {bars} progress bar(s)",
            f"the cell '{code[i].source.strip().splitlines()[0]}' shows no progress bar",
        )
    figure = [i for i, c in code.items() if "plt.subplots" in c.source]
    journey.check(len(figure) == 1, "one cell draws the comparison figure", f"cells drawing a figure: {figure}")
    outputs_of(page, figure[0])
    img = cell(page, figure[0]).locator(".jp-OutputArea img").first
    width = img.evaluate("i => i.naturalWidth") if img.count() else 0
    journey.check(width > 0, f"the comparison figure shows ({width} px wide)", "the comparison figure does not show")


def cell_waits(saved) -> list[dict]:
    """Seconds each code cell ran (JupyterLab's recorded timing), longest first."""
    waits = []
    for i, c in enumerate(saved.cells):
        timing = c.metadata.get("execution", {})
        if c.cell_type != "code" or "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
            continue
        start, end = (
            datetime.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
            for k in ("iopub.execute_input", "shell.execute_reply")
        )
        first = next((line for line in c.source.splitlines() if line.strip()), "")
        waits.append({"cell": i, "first line": first[:90], "seconds": round((end - start).total_seconds(), 1)})
    return waits


def red_boxes(saved) -> list[dict]:
    """Each cell's stderr output (JupyterLab shows it in red), by its first line: for a human to judge."""
    boxes = []
    for i, c in enumerate(saved.cells):
        for out in c.get("outputs", []):
            if out.output_type == "stream" and out.name == "stderr" and out.text.strip():
                first = next(line for line in out.text.splitlines() if line.strip())
                boxes.append({"cell": i, "first line": first.strip()[:160]})
    return boxes


# -----------------------------------------------------------------------------------------------
# The journey
# -----------------------------------------------------------------------------------------------


def journey_run(journey: Journey, work: Path, port: int, reuse_venv: bool) -> None:
    from playwright.sync_api import sync_playwright

    folder, venv = work / "lab5", work / "venv"
    if not Path(CHROMIUM).is_file():
        raise Stuck(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium)")
    with journey.step("Unpack the handout (student/lab5-files.zip)"):
        unpack_handout(folder)
    with journey.step("Make a virtual environment: pip install -r requirements.txt"):
        if not (reuse_venv and (venv / "bin" / "jupyter").is_file()):
            make_venv(venv, folder)
    env = lab_env(work, venv)
    filled = notebooks.filled_in(folder / project.NOTEBOOK_FILE, project.SOLUTION_NOTEBOOK)
    blanks = [
        i
        for i, c in enumerate(filled.cells)
        if checkout_module("lab5_written").ANSWER_TAG in c.metadata.get("tags", [])
    ]
    submit_cell = next(i for i, c in enumerate(filled.cells) if c.cell_type == "code" and "lab.submit(" in c.source)
    path = folder / project.NOTEBOOK_FILE
    server = None
    with journey.step("Start jupyter lab"):
        server = start_lab(venv, folder, port, env, work / "jupyter-lab.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
            page = context.new_page()
            try:
                walk(page, journey, port, filled, blanks, submit_cell, path, folder, work)
            except Exception:
                screenshot(page, journey, "Where the journey stopped")
                raise
            finally:
                browser.close()
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


def walk(page, journey, port, filled, blanks, submit_cell, path, folder, work) -> None:
    with journey.step("Open lab5.ipynb in JupyterLab"):
        page.goto(f"http://127.0.0.1:{port}/lab/tree/{project.NOTEBOOK_FILE}")
        page.wait_for_selector(CELLS, timeout=120_000)
        dialog = page.locator(".jp-Dialog")
        page.wait_for_timeout(3000)
        if dialog.count():
            raise Stuck(f"a dialog asks the student something on opening: {dialog.first.inner_text()[:300]!r}")
        wait_for_kernel(page, port, "the kernel's start", limit=120)
        journey.check(
            page.locator(CELLS).count() == len(filled.cells),
            f"the notebook shows its {len(filled.cells)} cells",
            f"the notebook shows {page.locator(CELLS).count()} cells, not {len(filled.cells)}",
        )
        screenshot(page, journey, "lab5.ipynb as it opens")
    with journey.step(f"Type the answers into the {len(blanks)} answer cells"):
        for i in blanks:
            type_into(page, i, filled.cells[i].source)
        save(page, path)
        saved = nbformat.read(path, 4)
        wrong = [i for i in blanks if saved.cells[i].source != filled.cells[i].source]
        journey.check(
            not wrong,
            f"the {len(blanks)} answers typed are saved as typed",
            f"cells {wrong} were saved otherwise than typed: {[saved.cells[i].source[:200] for i in wrong]}",
        )
    with journey.step("A mistyped learning rate (2e-4 for 2e-5): the training cell stops before it trains"):
        mistyped_learning_rate(page, journey, port, filled, blanks, submit_cell, path)
    with journey.step("Run every cell above the submit cell (both trainings)"):
        cell(page, submit_cell).locator(".jp-InputPrompt").first.click()
        menu(page, "Run", "Run All Above Selected Cell")
        wait_for_kernel(page, port, "the notebook")
        save(page, path)
        saved = nbformat.read(path, 4)
        for c in saved.cells[:submit_cell]:
            if c.cell_type != "code":
                continue
            error = next((o for o in c.outputs if o.output_type == "error"), None)
            if error is not None:
                raise Stuck(f"the cell '{c.source.splitlines()[0]}' fails: {error.ename}: {error.evalue}")
            if c.execution_count is None:
                raise Stuck(f"the cell '{c.source.splitlines()[0]}' was never run")
        journey.waits = cell_waits(saved)
        journey.red = red_boxes(saved)
    with journey.step("Check what the student sees"):
        check_what_a_student_sees(page, filled, journey)
    with journey.step("Run the submit cell and download the zip it offers"):
        cell(page, submit_cell).locator(".jp-InputPrompt").first.click()
        page.keyboard.press("Control+Enter")
        wait_for_kernel(page, port, "the submit cell", limit=300)
        link = cell(page, submit_cell).locator(".jp-OutputArea a[download]")
        journey.check(
            link.count() == 1,
            "the submit cell's output offers the zip (a download link)",
            f"the submit cell offers no zip; it shows: {outputs_of(page, submit_cell)[:500]!r}",
        )
        with page.expect_download(timeout=60_000) as download:
            link.first.click()
        zip_path = journey.out / download.value.suggested_filename
        download.value.save_as(zip_path)
        shutil.copy(path, journey.out / project.NOTEBOOK_FILE)  # as submitted
        save(page, path)  # once more, for the submit cell's recorded time
        names = sorted(zipfile.ZipFile(zip_path).namelist())
        journey.check(
            project.NOTEBOOK_FILE in names and project.RESULTS_FILE in names,
            f"the downloaded {zip_path.name} holds {', '.join(names)}",
            f"the zip holds {names}",
        )
        journey.waits += [w for w in cell_waits(nbformat.read(path, 4)) if w["cell"] == submit_cell]
    with journey.step("Grade the downloaded zip through the autograder's entry point"):
        graded = grade.grade(zip_path, project.AUTOGRADER_ZIP, work / "grading")
        journey.check(
            graded.status == "graded" and graded.score() == graded.max_score() == 25,
            f"the zip grades {graded.score():g} of {graded.max_score():g} in {graded.seconds:.0f} s",
            f"the zip grades {graded.score():g} of {graded.max_score():g} ({graded.status}): "
            f"{graded.message} {json.dumps(graded.failures())[:800]}",
        )
    with journey.step("Screenshots of every section"):
        section_screenshots(page, journey)


def mistyped_learning_rate(page, journey, port, filled, blanks, submit_cell, path) -> None:
    """Type question 4's args with a learning rate of 2e-4 and run every cell: the fine-tuning cell must stop
    in seconds, before its first training step, saying which setting to fix; then type the right args."""
    args_cell = next(i for i in blanks if "args = TrainingArguments(" in filled.cells[i].source)
    train_cell = next(i for i, c in enumerate(filled.cells) if c.cell_type == "code" and "trainer.train()" in c.source)
    right = filled.cells[args_cell].source
    type_into(page, args_cell, right.replace("learning_rate=2e-5", "learning_rate=2e-4"))
    cell(page, submit_cell).locator(".jp-InputPrompt").first.click()
    menu(page, "Run", "Run All Above Selected Cell")
    wait_for_kernel(page, port, "the notebook up to the fine-tuning cell")
    save(page, path)
    saved = nbformat.read(path, 4)
    error = next((o for o in saved.cells[train_cell].outputs if o.output_type == "error"), None)
    said = outputs_of(page, train_cell)
    journey.check(
        error is not None and "Not training yet" in error.evalue and "learning_rate=0.0002 (expected 2e-05)" in said,
        "the fine-tuning cell stops with the check's message: learning_rate=0.0002 (expected 2e-05)",
        f"the fine-tuning cell does not stop on the mistyped learning rate: {said[:600]!r}",
    )
    waited = next((w["seconds"] for w in cell_waits(saved) if w["cell"] == train_cell), 0.0)
    journey.check(
        waited < 60,
        f"it stopped after {waited:.1f} s (no training step)",
        f"it took {waited:.0f} s to stop: it trained first",
    )
    cell(page, train_cell).evaluate("c => c.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    screenshot(page, journey, "The fine-tuning cell with a mistyped learning rate: stopped before training")
    type_into(page, args_cell, right)
    save(page, path)


# -----------------------------------------------------------------------------------------------
# Report
# -----------------------------------------------------------------------------------------------


def write_report(journey: Journey, total: float) -> None:
    figures = {
        "machine": machine(),
        "total_seconds": round(total, 1),
        "stuck": journey.stuck,
        "steps": journey.steps,
        "slow_cells": sorted([w for w in journey.waits if w["seconds"] >= WAIT_S], key=lambda w: w["cell"]),
        "checks": journey.checks,
        "red_boxes": journey.red,
    }
    (journey.out / "journey.json").write_text(json.dumps(figures, indent=1) + "\n")
    rows = "".join(
        f"<tr><td>{html.escape(s['step'])}</td><td>{s['seconds']:.0f} s</td><td>{'ok' if s['ok'] else 'FAILED'}</td></tr>"
        for s in journey.steps
    )
    waits = "".join(
        f"<tr><td>{w['cell']}</td><td><code>{html.escape(w['first line'])}</code></td><td>{w['seconds']:.0f} s</td></tr>"
        for w in figures["slow_cells"]
    )
    checks = "".join(f"<li>{html.escape(c)}</li>" for c in journey.checks)
    red = (
        "".join(f"<li>cell {b['cell']}: <code>{html.escape(b['first line'])}</code></li>" for b in journey.red)
        or "<li>none</li>"
    )
    shots = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>"
        f"<img src='data:image/png;base64,{base64.b64encode((journey.out / name).read_bytes()).decode()}'></figure>"
        for caption, name in journey.shots
    )
    verdict = (
        f"<p class='stuck'>A student would be stuck at: {html.escape(journey.stuck)}</p>"
        if journey.stuck
        else "<p class='ok'>The journey went through: nothing a student would be stuck on.</p>"
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Lab 5: a student's journey in JupyterLab</title>
<style>body{{font:15px system-ui,sans-serif;margin:2em;max-width:1450px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}} figure{{margin:2em 0}} img{{width:100%;border:1px solid #999}}
figcaption{{font-weight:600;margin-bottom:.4em}} .stuck{{color:#b00;font-weight:600}} .ok{{color:#070;font-weight:600}}</style></head><body>
<h1>Lab 5: a student's journey in JupyterLab</h1><p>{html.escape(figures["machine"])}; {total / 60:.1f} minutes in all.</p>{verdict}
<h2>Steps</h2><table><tr><th>step</th><th>time</th><th></th></tr>{rows}</table>
<h2>Where the student waits (cells of {WAIT_S:g} s or more)</h2><table><tr><th>cell</th><th>its first line</th><th>wait</th></tr>{waits}</table>
<h2>What was checked</h2><ul>{checks}</ul><h2>Red boxes (stderr) the student sees, for a human to judge</h2><ul>{red}</ul><h2>What the student sees</h2>{shots}</body></html>"""
    (journey.out / "journey.html").write_text(page, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools bench journey", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=project.CACHE / "journey", help="where the report goes (default: .cache/journey)"
    )
    parser.add_argument("--port", type=int, default=8899, help="JupyterLab's local port (default: 8899)")
    parser.add_argument("--reuse-venv", action="store_true", help="keep the student environment of the last journey")
    args = parser.parse_args(argv)
    project.use_profile("offline")  # the student's kernel and the grading both run offline
    work = project.CACHE / "journey-work"
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    work.mkdir(parents=True, exist_ok=True)
    journey = Journey(out)
    started = time.perf_counter()
    try:
        journey_run(journey, work, args.port, args.reuse_venv)
    except Exception as error:  # noqa: BLE001 (any failure is where a student would be stuck: say it)
        journey.stuck = journey.stuck or f"{type(error).__name__}: {error}"
    total = time.perf_counter() - started
    write_report(journey, total)
    print(f"\nMachine: {machine()}\n\n| step | time |\n|---|---|")
    for s in journey.steps:
        print(f"| {s['step']} | {s['seconds']:.0f} s{'' if s['ok'] else ' (FAILED)'} |")
    print(f"| the whole journey | {total / 60:.1f} min |\n\n| cell (first line) | wait |\n|---|---|")
    for w in sorted([w for w in journey.waits if w["seconds"] >= WAIT_S], key=lambda w: w["cell"]):
        print(f"| `{w['first line']}` | {w['seconds']:.0f} s |")
    print(f"\nReport: {out / 'journey.html'}")
    if journey.stuck:
        print(f"A student would be stuck at: {journey.stuck}", file=sys.stderr)
        return 1
    print(f"Every check held ({len(journey.checks)}).")
    return 0
