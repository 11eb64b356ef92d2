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


def otter_main(ag_dir: Path, report: Path) -> int:
    """Run otter on the notebook once the entry point says go; report the public tests' verdicts, as
    the kernel found them, in report/kernel.json (otter's own errors there too)."""
    keep_priority(own_session=True)  # Sandbox.start gives it a session of its own
    apply_limits()
    import tempfile

    otter_tmp = report / "otter"  # otter's own temporary files: not in /tmp, which the notebook may fill
    otter_tmp.mkdir(exist_ok=True)
    tempfile.tempdir = str(otter_tmp)
    kernel_spec(report / "jupyter")
    from otter.run.run_autograder import main as run_autograder

    sys.stdin.readline()  # the entry point has loaded what it grades with, and put the upload here
    out = report / boundary.KERNEL_FILE
    try:
        overrides = {"assignment_name": None} if lost_assignment_name(ag_dir / "submission") else {}
        run_autograder(str(ag_dir), plugins=["lab5_otter_plugin.GradingMode"], **overrides)
    except Exception as e:  # otter's own errors (e.g. another assignment's notebook): no verdicts
        out.write_text(json.dumps({"error": str(e).strip() or type(e).__name__}), encoding="utf-8")
        return 1
    import dill

    with open(ag_dir / "results" / "results.pkl", "rb") as f:
        results = dill.load(f)
    failure = results.catastrophic_error
    cases = {
        r.test_case.name: bool(r.passed) for test_file in results.results.values() for r in test_file.test_case_results
    }
    out.write_text(json.dumps({"cases": cases, "failure": str(failure) if failure else None}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--kernel"]:
        kernel_main(sys.argv[2:])
    elif sys.argv[1:2] == ["--otter"]:
        sys.exit(otter_main(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit("usage: lab5_student_side.py --otter AUTOGRADER_DIR REPORT_DIR | --kernel -f CONNECTION_FILE")
