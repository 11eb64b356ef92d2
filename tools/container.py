"""Gradescope's container, emulated on this machine: a command run with the limits and the rights an
autograder most likely has there (docs/design.md, "The full profile, run here").

- memory: a cgroup v1 memory limit on everything the command starts (Gradescope's default: 768 MB),
  swap included; its peak and whether the kernel's out-of-memory killer struck are read back;
- CPU: a CFS quota (Gradescope's default: half a vCPU);
- rights: root without CAP_SYS_ADMIN and CAP_NET_ADMIN, under a seccomp filter that refuses what Docker's
  default profile refuses to such a root (new namespaces, mount, setns; clone3 answers ENOSYS, so that
  callers fall back to clone), and with the cgroup file systems read-only (a container may not make
  cgroups of its own): bubblewrap cannot start, the grader cannot make a memory cgroup;
- the network stays open, as at grading on Gradescope.

What it cannot show: Gradescope's kernel, its CPU model and neighbours, Docker's whole seccomp
profile (only the calls above are filtered), the image's own file system (tests/gradescope_image.py
lays out the image's paths in a folder).
"""

from __future__ import annotations

import errno
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GRADESCOPE_MEMORY = 768 * 2**20  # bytes (Gradescope's default container)
GRADESCOPE_CPUS = 0.5
CGROUPS = Path("/sys/fs/cgroup")
PERIOD_US = 100_000
# x86_64 system calls that Docker's default seccomp profile allows only with CAP_SYS_ADMIN
SYS_ADMIN_CALLS = {"unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155}
CLONE, CLONE3 = 56, 435
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
AUDIT_ARCH_X86_64 = 0xC000003E
_LD, _JEQ, _JSET, _RET = 0x20, 0x15, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


def available() -> str | None:
    """None when this machine can emulate the container, else why not."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return f"the emulation is written for Linux on x86_64, not {platform.system()} on {platform.machine()}"
    if os.geteuid() != 0:
        return "the emulation makes cgroups and drops root's rights: it needs root"
    for controller in ("memory", "cpu"):
        if not (CGROUPS / controller / "cgroup.procs").is_file():
            return f"no cgroup v1 {controller} controller at {CGROUPS / controller}"
    for tool in ("unshare", "capsh", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def seccomp_program() -> list[tuple[int, int, int, int]]:
    """The BPF program: EPERM for the CAP_SYS_ADMIN calls and for clone with a namespace flag,
    ENOSYS for clone3 (whose flags a filter cannot read), everything else allowed."""
    eperm, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    program = [(_LD, 0, 0, 4), (_JEQ, 1, 0, AUDIT_ARCH_X86_64), (_RET, 0, 0, eperm), (_LD, 0, 0, 0)]
    for number in SYS_ADMIN_CALLS.values():
        program += [(_JEQ, 0, 1, number), (_RET, 0, 0, eperm)]
    program += [(_JEQ, 0, 1, CLONE3), (_RET, 0, 0, enosys)]
    program += [(_JEQ, 1, 0, CLONE), (_RET, 0, 0, _ALLOW), (_LD, 0, 0, 16)]  # clone's flags (low word)
    program += [(_JSET, 0, 1, NAMESPACE_FLAGS), (_RET, 0, 0, eperm), (_RET, 0, 0, _ALLOW)]
    return program


def _load_filter() -> None:
    from tools.autograder import checkout_module

    # root may still setuid: no no_new_privileges
    problem = checkout_module("lab5_student_side").load_seccomp(seccomp_program(), no_new_privileges=False)
    if problem:
        raise OSError(problem)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    memory_peak: int | None  # bytes, all processes together (the cgroup's high-water mark)
    out_of_memory: bool  # the kernel's out-of-memory killer ended a process of the container
    memory_limit: int
    cpus: float
    processes: dict[str, int]  # the most memory (resident, bytes) each kind of process held, sampled

    def where(self) -> str:
        """Where the memory went: each kind of process at its own peak, largest first."""
        return ", ".join(
            f"{name} {rss / 2**20:.0f} MB" for name, rss in sorted(self.processes.items(), key=lambda kv: -kv[1])
        )

    def describe(self) -> str:
        peak = f"{self.memory_peak / 2**20:.0f} MB" if self.memory_peak is not None else "unknown"
        oom = ", out of memory" if self.out_of_memory else ""
        return (
            f"{self.seconds:.0f} s, peak {peak} of {self.memory_limit / 2**20:.0f} MB{oom}, "
            f"{self.cpus:g} CPU, exit {self.returncode}"
        )


def run(
    command: list[str],
    *,
    memory: int = GRADESCOPE_MEMORY,
    cpus: float = GRADESCOPE_CPUS,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Outcome:
    """Run ``command`` in the emulated container; its output is captured."""
    why_not = available()
    if why_not:
        raise RuntimeError(f"Gradescope's container cannot be emulated here: {why_not}")
    from tools.autograder import checkout_module

    sandbox = checkout_module("lab5_sandbox")  # the grader's own memory cgroup: the same limit, peak and kills
    CgroupMemory, remove_cgroup = sandbox.CgroupMemory, sandbox.remove_cgroup

    cgroup = CgroupMemory.make(memory)
    mem, cpu = cgroup.folder, CGROUPS / "cpu" / cgroup.folder.name
    cpu.mkdir()
    try:
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * PERIOD_US)))
        # Inside: its own mount namespace with the cgroup file systems read-only, then the filter
        # (loaded by this module's --inside), then root without CAP_SYS_ADMIN and CAP_NET_ADMIN.
        remount = " && ".join(f"mount -o remount,bind,ro {p}" for p in _cgroup_mounts())
        inner = [
            sys.executable,
            "-m",
            "tools.container",
            "--inside",
            "--",
            "capsh",
            "--drop=cap_sys_admin,cap_net_admin",
            "--",
            "-c",
            'exec "$0" "$@"',
            *command,
        ]
        script = f'echo $$ > {mem}/cgroup.procs && echo $$ > {cpu}/cgroup.procs && {remount} && exec "$@"'
        wrapped = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "container", *inner]
        child_env = dict(env if env is not None else os.environ)
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parent.parent), child_env.get("PYTHONPATH", "")) if p
        )
        started = time.monotonic()
        sampled: dict[str, int] = {}
        done = threading.Event()
        sampler = threading.Thread(target=_sample, args=(mem, sampled, done), daemon=True)
        sampler.start()
        try:
            proc = subprocess.run(wrapped, cwd=cwd, env=child_env, capture_output=True, text=True, timeout=timeout)
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            code, out, err = 124, _text(e.stdout), _text(e.stderr) + f"\n(stopped after {timeout:.0f} s)"
            _kill_all(mem)
        seconds = time.monotonic() - started
        done.set()
        sampler.join()
        return Outcome(code, out, err, seconds, cgroup.peak(), cgroup.exceeded(), memory, cpus, sampled)
    finally:
        _kill_all(mem)
        cgroup.clean_up()
        remove_cgroup(cpu)


# What a process is, from its command line (the grading's processes; anything else by its program's name).
ROLES = (
    ("ipykernel", "the notebook's kernel"),
    ("lab5_student_side --kernel", "the notebook's kernel"),
    ("lab5_student_side", "otter (the student's side)"),
    ("lab5_autograder", "the entry point"),
    ("run_otter", "otter (the student's side)"),
)


def _role(pid: str) -> str:
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    for marker, role in ROLES:
        if marker in command:
            return role
    return Path(command.split(" ", 1)[0]).name or "?"


def _sample(cgroup: Path, peaks: dict[str, int], done: threading.Event) -> None:
    """Every quarter second: the resident memory of each process in ``cgroup``, by role (its largest)."""
    while not done.wait(0.25):
        try:
            pids = (cgroup / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:
            try:
                rss = next(
                    int(line.split()[1]) * 1024
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS:")
                )
                role = _role(pid)
            except (OSError, StopIteration, ValueError, IndexError):
                continue
            peaks[role] = max(peaks.get(role, 0), rss)


def _text(data) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def _cgroup_mounts() -> list[str]:
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point, kind = line.split()[1], line.split()[2]
        if kind in ("cgroup", "cgroup2") and point.startswith(str(CGROUPS)):
            mounts.append(point)
    return mounts


def _kill_all(cgroup: Path) -> None:
    for _ in range(100):
        pids = (
            [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
            if (cgroup / "cgroup.procs").is_file()
            else []
        )
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


if __name__ == "__main__":
    # python -m tools.container --inside -- COMMAND...: load the filter, then become COMMAND
    if sys.argv[1:3] != ["--inside", "--"] or len(sys.argv) < 4:
        print("usage: python -m tools.container --inside -- COMMAND... (used by tools.container.run)", file=sys.stderr)
        sys.exit(2)
    _load_filter()
    os.execvp(sys.argv[3], sys.argv[3:])
