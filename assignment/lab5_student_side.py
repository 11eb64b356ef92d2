"""The student's side at grading: the two processes that run a notebook, and their limits.

Shipped in the autograder zip only; the entry point (lab5_autograder.py) copies it, with the student's
own files and the public tests, into the student's workspace (lab5_sandbox.py), which holds no hidden
test and no answer key. Nothing here decides a grade (docs/design.md, "The trust boundary").

- ``python lab5_student_side.py --otter AG REPORT``: the otter process. It limits itself (processes,
  file sizes, open files, and the address space where the grader made no memory cgroup), waits for the
  entry point's go, then runs otter's run_autograder on AG (the notebook and the public tests) with
  the GradingMode plugin (lab5_otter_plugin.py): a first cell that puts the kernel in grading mode, and a last cell that writes
  the notebook's facts (lab5_facts.py) into REPORT. Its kernel is reached over IPC (ZMQ's unix sockets),
  never TCP. It writes REPORT/kernel.json: the public tests' verdicts as the kernel found them, which
  only tell the TA whether the notebook changed its checks (the grader's own verdicts count).
- ``python -m lab5_student_side --kernel -f CONNECTION_FILE``: the notebook's kernel (its kernelspec).
  Before anything of the notebook runs it loads a seccomp filter that refuses internet sockets (and
  io_uring, ptrace, other processes' memory) to it and everything it starts, then starts ipykernel.
  Without namespaces (Gradescope's container) this is what keeps the notebook off the network.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import struct
import sys
import time
from pathlib import Path

import lab5_boundary as boundary

# Limits of the student's side (each process; its children inherit them, none can raise them again).
# A grading's kernel, otter and their threads are about 60 tasks on 2 cores (torch starts a thread per
# core): the process limit is far above that and far below what would make a machine suffer.
PROCESS_LIMIT = 512
FILE_LIMIT = 256 * 2**20  # one file (a results file is about 0.3 MB)
OPEN_FILES_LIMIT = 4096


def keep_priority(own_session: bool = False) -> None:
    """Carry this process's nice value over to its session's scheduling group. Linux (autogroup) puts
    each new session in a group of its own, weighed against the machine's other groups whatever the nice
    values in it: without this, the entry point, the student's side and the kernel, each a new session,
    would escape a `nice python3 -m tools grade` (a TA keeping their machine usable; the tests' gradings
    beside their other work). Only in a session of this grading's own: where this process leads it, or
    ``own_session`` (the student's side, in bubblewrap's session); never the caller's terminal session.
    Only to lower the priority, which needs no rights."""
    try:
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        if nice > 0 and (own_session or os.getsid(0) == os.getpid()):
            Path("/proc/self/autogroup").write_text(str(nice))
    except (OSError, AttributeError):  # no autogroup (other kernels, other systems): nothing to carry over
        pass


def apply_limits() -> None:
    """Limit this process and what it starts: processes, one file's size, open files, no core dumps,
    the address space when the grader asked for one (no memory cgroup could be made), and make them the
    out-of-memory killer's first choice."""
    import resource

    limits = [
        (resource.RLIMIT_NPROC, PROCESS_LIMIT),
        (resource.RLIMIT_FSIZE, FILE_LIMIT),
        (resource.RLIMIT_NOFILE, OPEN_FILES_LIMIT),
        (resource.RLIMIT_CORE, 0),
    ]
    space = os.environ.get(boundary.ADDRESS_SPACE_ENV, "").strip()
    if space.isdigit():
        limits.append((resource.RLIMIT_AS, int(space)))
    for limit, value in limits:
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))
    try:  # first in line when the machine (Gradescope's container) runs out of memory: never the grader
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# No network for the notebook: a seccomp filter
# --------------------------------------------------------------------------------------------

# machine: (audit arch, socket, io_uring_setup, ptrace, process_vm_readv, process_vm_writev, x32 syscalls exist)
SYSCALLS = {
    "x86_64": (0xC000003E, 41, 425, 101, 310, 311, True),
    "aarch64": (0xC00000B7, 198, 425, 117, 270, 271, False),
}
ALLOWED_FAMILIES = (1, 16)  # AF_UNIX (the kernel's own IPC), AF_NETLINK (the machine's interfaces: ZMQ asks)
_LD, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06  # BPF: load word (absolute), jump if equal / >=, return
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


def network_filter() -> list[tuple[int, int, int, int]]:
    """The seccomp program (BPF): socket() only for ALLOWED_FAMILIES, no io_uring (which can open
    sockets itself), no ptrace or reading and writing other processes' memory (the otter process above
    the kernel has a TCP socket), nothing of another architecture's system calls; EACCES for each."""
    arch, socket, uring, ptrace, vm_read, vm_write, x32 = SYSCALLS[platform.machine()]
    deny = _ERRNO | errno.EACCES
    program = [(_LD, 0, 0, 4), (_JEQ, 1, 0, arch), (_RET, 0, 0, deny), (_LD, 0, 0, 0)]
    if x32:
        program += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, deny)]
    for number in (uring, ptrace, vm_read, vm_write):
        program += [(_JEQ, 0, 1, number), (_RET, 0, 0, deny)]
    program += [(_JEQ, 1, 0, socket), (_RET, 0, 0, _ALLOW), (_LD, 0, 0, 16)]  # args[0]: the address family
    program += [(_JEQ, len(ALLOWED_FAMILIES) - i, 0, family) for i, family in enumerate(ALLOWED_FAMILIES)]
    program += [(_RET, 0, 0, deny), (_RET, 0, 0, _ALLOW)]
    return program


def load_seccomp(program: list[tuple[int, int, int, int]], no_new_privileges: bool = True) -> str | None:
    """Load a seccomp program (BPF) into this process; None when it is loaded, else why not. Without
    ``no_new_privileges`` only a process with CAP_SYS_ADMIN may load one (tools/container.py, as root)."""
    import ctypes

    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *line) for line in program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    prog = SockFprog(len(program), ctypes.cast(code, ctypes.c_void_p))
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if (no_new_privileges and libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0) or libc.prctl(
        pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0
    ) != 0:
        return f"the seccomp filter did not load ({os.strerror(ctypes.get_errno())})"
    return None


def no_network() -> str | None:
    """Load the network filter into this process (before any thread starts: its children and threads
    inherit it, none can lift it). None when it is loaded, else why not."""
    if platform.system() != "Linux" or platform.machine() not in SYSCALLS:
        return f"no seccomp filter for {platform.system()} on {platform.machine()}"
    return load_seccomp(network_filter())


def kernel_main(argv: list[str]) -> None:
    """The notebook's kernel: the network filter first, then ipykernel (as ipykernel_launcher starts it)."""
    problem = no_network()
    folder = os.environ.get(boundary.REPORT_ENV)
    if folder:
        try:
            Path(folder, boundary.NETWORK_FILE).write_text(problem or "filtered", encoding="utf-8")
        except OSError:
            pass
    from ipykernel import kernelapp  # as ipykernel_launcher starts it (the notebook's folder first on the path)

    kernelapp.launch_new_instance(argv=argv)


def kernel_spec(folder: Path) -> None:
    """Make the kernel the notebook runs in (Jupyter's "python3") start through :func:`kernel_main`,
    over IPC: a kernelspec in ``folder`` (JUPYTER_PATH), the runtime files in the temporary folder."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "lab5_student_side", "--kernel", "-f", "{connection_file}"],
                "display_name": "Python 3 (grading: no network)",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    os.environ["JUPYTER_PATH"] = str(folder)
    os.environ["JUPYTER_RUNTIME_DIR"] = os.environ.get("TMPDIR") or str(folder)
    from jupyter_client.connect import ConnectionFileMixin

    ConnectionFileMixin.class_traits()["transport"].default_value = "ipc"  # unix sockets: no TCP at all


# --------------------------------------------------------------------------------------------
# The otter process
# --------------------------------------------------------------------------------------------


def lost_assignment_name(submission: Path) -> bool:
    """Whether the notebook lost otter's metadata (its cells copied into a new notebook, or an editor
    that drops metadata): otter would refuse it as "assignment 'None'"; it is graded as this lab."""
    import nbformat

    nb = nbformat.read(next(submission.glob("*.ipynb")), as_version=4)
    return not (nb.metadata.get("otter") or {}).get("assignment_name")


# Every cell bounded from this process too (the kernel's own limit runs inside the kernel, which the
# notebook controls, and a long native call holds it off): past its limit and OUTER_MARGIN_S, the kernel is
# interrupted; if it does not answer within INTERRUPT_GRACE_S, it is ended, and the notebook is run again
# from the top without that cell (a cell that ends its own kernel too), at most MAX_SKIPPED times.
OUTER_MARGIN_S = 20
INTERRUPT_GRACE_S = 10
MAX_SKIPPED = 2


def cell_timeout(cell) -> int:
    """This process's limit on ``cell`` (nbclient's timeout_func): the kernel's own limit and a margin."""
    import lab5_grading_mode as mode  # beside this module on the student's side

    if cell.metadata.get(boundary.CELL_KEY) == boundary.FACTS_CELL_KEY:
        return int(mode.FACTS_LIMIT_S + mode.NAME_LIMIT_S + OUTER_MARGIN_S)
    return int(boundary.CELL_LIMIT_S + OUTER_MARGIN_S)


class Driver:
    """What this process (it drives the kernel through otter's nbclient) saw of the cells: the one that
    was running, and the one whose kernel it ended."""

    def __init__(self):
        self.running = None  # the notebook's index of the cell that runs (None: one the autograder added)
        self.ended: int | None = None

    def bound_cells(self) -> None:
        """Make otter's executor (nbconvert's ExecutePreprocessor, an nbclient NotebookClient) bound every
        cell with :func:`cell_timeout`, interrupt the kernel past it, and end the kernel when it does not answer."""
        from queue import Empty

        from nbclient.util import ensure_async
        from nbconvert.preprocessors import ExecutePreprocessor

        driver = self
        setup = ExecutePreprocessor.__init__

        def started(cell, cell_index, **kwargs):
            found = cell.metadata.get(boundary.CELL_KEY)
            driver.running = found if isinstance(found, int) else None

        def bounded(self, *args, **kwargs):  # otter makes one per pass, with a configuration of its own
            setup(self, *args, **kwargs)
            self.timeout_func, self.interrupt_on_timeout, self.on_cell_execute = cell_timeout, True, started

        ExecutePreprocessor.__init__ = bounded

        async def timed_out(self, timeout, cell=None):
            await ensure_async(self.km.interrupt_kernel())
            deadline = time.monotonic() + INTERRUPT_GRACE_S
            while time.monotonic() < deadline:  # a kernel that stops answers the cell's request
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
                except Empty:
                    continue
                if msg.get("msg_type") == "execute_reply":
                    return msg
            driver.ended = driver.running
            await ensure_async(self.km.shutdown_kernel(now=True))
            return {"content": {"status": "error", "ename": "CellTimeLimit", "evalue": "ended", "traceback": []}}

        ExecutePreprocessor._async_handle_timeout = timed_out


def first_line(source: str) -> str:
    """The first line of code of a cell's ``source``, as messages name the cell."""
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    return (lines[0][:80] + (" ..." if len(lines) > 1 or len(lines[0]) > 80 else "")) if lines else "(empty)"


def otter_main(ag_dir: Path, report: Path) -> int:
    """Run otter on the notebook once the entry point says go; report the public tests' verdicts, as
    the kernel found them, in report/kernel.json (otter's own errors there too), and how this side ended
    in report/side.json (the passes, the cells skipped and why)."""
    keep_priority(own_session=True)  # Sandbox.start gives it a session of its own
    apply_limits()
    import tempfile

    otter_tmp = report / "otter"  # otter's own temporary files: not in /tmp, which the notebook may fill
    otter_tmp.mkdir(exist_ok=True)
    tempfile.tempdir = str(otter_tmp)
    kernel_spec(report / "jupyter")
    import otter.run.run_autograder  # noqa: F401  (loaded before the go, while the grader loads its own)

    driver = Driver()
    driver.bound_cells()
    sys.stdin.readline()  # the entry point has loaded what it grades with, and put the upload here
    out = report / boundary.KERNEL_FILE
    try:
        import nbformat

        cells = nbformat.read(next((ag_dir / "submission").glob("*.ipynb")), as_version=4).cells
        overrides = {"assignment_name": None} if lost_assignment_name(ag_dir / "submission") else {}
    except Exception as e:  # noqa: BLE001 (a notebook otter cannot read either: no verdicts)
        out.write_text(json.dumps({"error": str(e).strip() or type(e).__name__}), encoding="utf-8")
        return 1
    error = run_passes(ag_dir, report, driver, cells, overrides)
    if error is not None:
        out.write_text(json.dumps({"error": error}), encoding="utf-8")
        return 1
    out.write_text(json.dumps(kernel_verdicts(ag_dir)), encoding="utf-8")
    return 0


def run_passes(ag_dir: Path, report: Path, driver: Driver, cells: list, overrides: dict) -> str | None:
    """Run otter over the notebook until a pass needs no cell skipped (at most MAX_SKIPPED are): a cell
    the driver ended, or one that ended the kernel (not out of memory), is left out of the next pass.
    Writes report/side.json; gives otter's error of the last pass (None: it graded)."""
    from otter.run.run_autograder import main as run_autograder

    skipped: dict[int, str] = {}
    passes = []
    while True:
        driver.running = driver.ended = None
        os.environ[boundary.SKIPPED_ENV] = json.dumps(sorted(skipped))
        (report / boundary.FACTS_FILE).unlink(missing_ok=True)
        error = None
        try:
            run_autograder(str(ag_dir), plugins=["lab5_otter_plugin.GradingMode"], **overrides)
        except Exception as e:  # otter's own errors (e.g. another assignment's notebook), a kernel that died
            error = str(e).strip() or type(e).__name__
        died = error is not None and "kernel died" in error.lower()
        culprit = driver.ended if driver.ended is not None else driver.running if died else None
        if driver.ended is None and memory_told(report):  # out of memory: the notebook's, told as such
            culprit = None
        passes.append({"error": error, "ended_kernel": driver.ended is not None, "cell": culprit})
        if culprit is None or culprit in skipped or len(skipped) >= MAX_SKIPPED or culprit >= len(cells):
            break
        why = "did not stop at its time limit" if driver.ended is not None else "ended the notebook's kernel"
        skipped[culprit] = why
        write_note(
            report,
            boundary.NoteKind.CELL_TIME_LIMIT if driver.ended is not None else boundary.NoteKind.KERNEL_DIED,
            f"the cell that starts with `{first_line(cells[culprit].source)}` {why} (a long call that does not "
            "stop, or a cell that ends its own process); the notebook was graded again without it, so only what "
            "depends on that cell was lost. Make it finish, then submit again.",
        )
    (report / boundary.SIDE_FILE).write_text(
        json.dumps({"passes": passes, "skipped": {first_line(cells[i].source): w for i, w in skipped.items()}}),
        encoding="utf-8",
    )
    return error


def kernel_verdicts(ag_dir: Path) -> dict:
    """The public tests' verdicts as the kernel found them (otter's results.pkl of the last pass)."""
    import dill

    with open(ag_dir / "results" / "results.pkl", "rb") as f:
        results = dill.load(f)
    failure = results.catastrophic_error
    cases = {
        r.test_case.name: bool(r.passed) for test_file in results.results.values() for r in test_file.test_case_results
    }
    return {"cases": cases, "failure": str(failure) if failure else None}


def memory_told(report: Path) -> bool:
    """Whether the kernel told that a cell ran out of memory (lab5_grading_mode): a kernel that died
    then is not run again without the cell (the next pass would most often run out too)."""
    try:
        return f'"kind": "{boundary.NoteKind.MEMORY.value}"' in (report / boundary.NOTES_FILE).read_text("utf-8")
    except OSError:
        return False


def write_note(report: Path, kind: boundary.NoteKind, message: str) -> None:
    """A grading note for the entry point (lab5_boundary.NOTES_FILE): this process's, and the kernel's."""
    with open(report / boundary.NOTES_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps({"kind": kind.value, "message": message}) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--kernel"]:
        kernel_main(sys.argv[2:])
    elif sys.argv[1:2] == ["--otter"]:
        sys.exit(otter_main(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit("usage: lab5_student_side.py --otter AUTOGRADER_DIR REPORT_DIR | --kernel -f CONNECTION_FILE")
