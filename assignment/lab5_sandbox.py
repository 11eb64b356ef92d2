"""Where the notebook runs at grading, with which rights, and how everything it started ends.

Shipped in the autograder zip only. The entry point (lab5_autograder.py) runs as the grader: root on
Gradescope, the TA's account in ``python3 -m tools grade``. Everything that runs the student's code
(the otter process and the notebook's kernel) runs on the student's side, made here, one of three ways:

- ``bubblewrap``: a sandbox made with bubblewrap (bwrap): its own process, network, IPC and host-name
  namespaces (no network, every process ends with the sandbox), the system and the Python environment
  read-only, the lab's data read-only, nothing else of the machine (no home folder, no other
  submission), its workspace as the one writable folder on disk and a private, size-limited /tmp. As
  root it also runs as GRADING_USER (a user with no home and no password), otherwise as the caller's
  own account inside a user namespace.
- ``user``: as GRADING_USER, without namespaces (root only; what Gradescope's own security advice
  describes, for images whose container allows no namespaces). That user writes only its workspace
  and the machine's temporary folders; the grader's files, the upload, /autograder/results and the
  Python environment are not writable by it, and what it need not read it cannot read. Everything it
  started is ended by user (kill(-1) as that user), never by something the notebook can drop.
- ``none``: as the grader itself: only when asked for explicitly (``LAB5_SANDBOX=none``; the TA
  command's ``--no-sandbox``).

In every mode the notebook's kernel has no internet sockets (a seccomp filter, lab5_student_side.py),
and the student's side has a memory limit: a memory cgroup of its own where the grader can make one
(root on a machine with cgroups it may write), else an address-space limit on each of its processes.

``auto`` (the default) takes bubblewrap where it works, else ``user`` as root, else refuses with what
to install. The student's side hands back only files in its workspace's report folder; the entry
point reads them with :func:`read_back` (no links followed, size-limited) after everything on the
student's side has ended, and treats them as untrusted.
"""

from __future__ import annotations

import os
import platform
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import lab5_boundary as boundary
import lab5_utils as lab
from lab5_boundary import (
    ADDRESS_SPACE_LIMIT,
    GRADING_USER_ENV,
    ISOLATED_ENV,
    MEMORY_ENV,
    MEMORY_LIMIT,
    SANDBOX_ENV,
    WRITE_LIMIT,
)

MODES = ("auto", "bubblewrap", "user", "none")
GRADING_USER = "lab5-student"
INSIDE = "/grading"  # where the workspace is in a bubblewrap sandbox
TMP_LIMIT = 512 * 2**20  # the private /tmp of a bubblewrap sandbox (memory)
# The environment the student's side gets: nothing of the grader's but these.
PASSED_ENV = (
    lab.PROFILE_ENV,
    lab.DATA_DIR_ENV,
    lab.CHECKPOINT_ENV,
    boundary.CELL_LIMIT_ENV,
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_HOME",
    "TOKENIZERS_PARALLELISM",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS",
    "PYTHONWARNINGS",
    "LANG",
    "LC_ALL",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)
# Folders the data and models are read from (read-only in a sandbox): environment variables naming them.
DATA_ENV = (lab.DATA_DIR_ENV, lab.CHECKPOINT_ENV, "HF_HOME")
# World-writable folders a user without namespaces can write to: watched, and emptied of its files after.
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")


class SandboxError(RuntimeError):
    """No sandbox of the kind asked for can be made here: the message says what to install or pass."""


# --------------------------------------------------------------------------------------------
# Choosing
# --------------------------------------------------------------------------------------------


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def grading_user(name: str | None = None) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name or os.environ.get(GRADING_USER_ENV) or GRADING_USER)
    except KeyError:
        return None


def ensure_user(name: str | None = None) -> pwd.struct_passwd:
    """The grading user (``name``, else $LAB5_GRADING_USER, else GRADING_USER), created (a system user:
    no home, no password, no login shell) when it is missing."""
    name = name or os.environ.get(GRADING_USER_ENV) or GRADING_USER
    user = grading_user(name)
    if user is None:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=True,
            capture_output=True,
        )
        print(f"[lab5] created the user {name} that notebooks run as at grading", flush=True)
        user = grading_user(name)
    return user


@cache
def bubblewrap_problem() -> str | None:
    """Why no bubblewrap sandbox can be made here (None: it can): tried with a real one."""
    if platform.system() != "Linux":
        return f"bubblewrap sandboxes need Linux (this is {platform.system()})"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap)"
    if is_root() and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed: as root, the sandbox needs it to run as another user"
    # A sandbox made the way grading makes one (every option this bubblewrap must know), running `true`.
    base = Path(tempfile.mkdtemp(prefix="lab5-probe-"))
    (base / "box").mkdir()
    drop = Sandbox("bubblewrap", grading_user())._drop() if is_root() and grading_user() else []
    probe = _bwrap_args(Workspace(base, base / "box", Path(INSIDE))) + ["--", *drop, "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap could not start ({e})"
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if proc.returncode != 0:
        error = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return f"bubblewrap cannot make a sandbox here ({error}; unprivileged user namespaces may be off)"
    return None


@cache
def network_problem() -> str | None:
    """Why the kernel's network filter cannot work here (None: it loads, and refuses an internet socket)."""
    code = (
        "import socket, lab5_student_side as side\nproblem = side.no_network()\nif problem:\n    raise SystemExit(problem)\n"
        "try:\n    socket.socket()\nexcept PermissionError:\n    raise SystemExit(0)\nraise SystemExit('an internet socket was made')"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"the probe did not run ({e})"
    return None if proc.returncode == 0 else ((proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1])


def choose(requested: str | None = None) -> Sandbox:
    """The sandbox to grade in: ``requested`` (default: $LAB5_SANDBOX, else auto), or SandboxError."""
    mode = (requested or os.environ.get(SANDBOX_ENV) or "auto").strip().lower()
    if mode not in MODES:
        raise SandboxError(f"{SANDBOX_ENV}={mode!r} is not one of {', '.join(MODES)}")
    if mode == "none":
        return Sandbox("none")
    user = ensure_user() if is_root() and platform.system() == "Linux" else None  # as root: never the notebook as root
    if mode in ("auto", "bubblewrap"):
        problem = bubblewrap_problem()
        if problem is None:
            return Sandbox("bubblewrap", user)
        if mode == "bubblewrap" or not is_root():
            raise SandboxError(problem)
    if not is_root():
        raise SandboxError("running notebooks as another user needs root (use bubblewrap instead)")
    if platform.system() != "Linux":
        raise SandboxError(f"the grading user is made for Linux only (this is {platform.system()})")
    blocked = unreachable(user)
    if blocked:
        raise SandboxError(
            f"the grading user {user.pw_name} cannot reach {', '.join(blocked)} (the Python environment "
            "or the lab's data): the image's setup (lab5_autograder.py --image-setup) opens them"
        )
    return Sandbox("user", user)


# --------------------------------------------------------------------------------------------
# The image: what the user must be able to reach
# --------------------------------------------------------------------------------------------


def python_folders() -> list[Path]:
    """The folders the Python environment runs from (prefixes and package folders), each once."""
    found = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    found.add(Path(sys.executable).resolve().parent.parent)
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if path.name in ("site-packages", "dist-packages") and path.is_dir():
            found.add(path)
    return _outermost(found)


def data_folders(as_named: bool = False) -> list[Path]:
    """The lab's data and model folders named by the environment (read-only for the student's side):
    where they are (symbolic links resolved), or ``as_named`` by the environment, which the notebook reads."""
    found = set()
    for name in DATA_ENV:
        value = os.environ.get(name, "").strip()
        if value and Path(value).expanduser().exists():
            path = Path(value).expanduser()
            found.add(Path(os.path.abspath(path)) if as_named else path.resolve())
    return _outermost(found)


def _outermost(paths) -> list[Path]:
    kept = []
    for path in sorted(paths, key=lambda p: len(p.parts)):
        if not any(path == k or k in path.parents for k in kept) and path != Path("/"):
            kept.append(path)
    return kept


def unreachable(user: pwd.struct_passwd) -> list[str]:
    """The folders of the Python environment and the data that ``user`` cannot reach (a parent it
    cannot traverse, or the folder itself it cannot read)."""

    def allowed(st: os.stat_result, bits: int) -> bool:
        if st.st_uid == user.pw_uid:
            return bool(st.st_mode & (bits << 6))
        if st.st_gid == user.pw_gid:
            return bool(st.st_mode & (bits << 3))
        return bool(st.st_mode & bits)

    problems = []
    for folder in python_folders() + data_folders():
        for parent in [*reversed(folder.parents), folder]:
            if not allowed(os.stat(parent), 1 if parent != folder else 5):
                problems.append(str(parent))
                break
    return problems


def open_to(user: pwd.struct_passwd) -> None:
    """Make the Python environment and the data reachable by ``user``: every folder above them
    traversable (o+x; nothing listed), as the image's setup does (e.g. /root above /root/miniforge3)."""
    for folder in python_folders() + data_folders():
        for parent in reversed(folder.parents):
            mode = os.stat(parent).st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
                print(f"[lab5] {parent}: traversable by others (o+x), so that {user.pw_name} reaches {folder}")
    left = unreachable(user)
    if left:
        raise SandboxError(f"{user.pw_name} still cannot read {', '.join(left)}: make them world-readable")


def open_to_grading_user() -> None:
    open_to(ensure_user())


# --------------------------------------------------------------------------------------------
# The workspace
# --------------------------------------------------------------------------------------------


@dataclass
class Workspace:
    """``base`` (the grader's, not writable by the student's side) holds ``box``, the one folder on disk
    the student's side writes: autograder/ (otter's tree: source/, submission/, results/), home/, tmp/,
    report/ (what the student's side hands back). ``inside`` is where the student's side sees ``box``."""

    base: Path
    box: Path
    inside: Path

    def path(self, *parts: str) -> Path:
        return self.box.joinpath(*parts)

    def seen(self, *parts: str) -> str:
        """A path of the box as the student's side sees it."""
        return str(self.inside.joinpath(*parts))


# --------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------


class Sandbox:
    def __init__(self, mode: str, user: pwd.struct_passwd | None = None, memory: Memory | None = None):
        self.mode = mode
        self.user = user
        self._memory = memory
        self.workspace: Workspace | None = None
        self.proc: subprocess.Popen | None = None
        self.survivors: list[int] = []  # processes still ending when grading ended (see end_user_processes)

    @property
    def memory(self) -> Memory:
        """The student's side's memory limit (chosen, and its cgroup made, on first use)."""
        if self._memory is None:
            self._memory = choose_memory()
        return self._memory

    @property
    def isolated(self) -> bool:
        """Whether every process the notebook can see of its own uid is this grading's."""
        return self.mode != "none"

    def describe(self) -> str:
        if self.mode == "none":
            return "no sandbox: the notebook ran with the grader's own rights"
        who = "as an unprivileged user" if self.user else "as the grader's account in a user namespace"
        if self.mode == "bubblewrap":
            return f"bubblewrap sandbox ({who}; no network, no home folder, the system read-only)"
        return f"unprivileged user {self.user.pw_name} (no namespaces)"

    def describe_network(self, said: str | None = None) -> str:
        """How the notebook is kept off the network: the sandbox's own network namespace, and the
        kernel's seccomp filter as its launcher ``said`` ("filtered", or why not; None: before it ran)."""
        if said is None:
            filtered = "no internet sockets for the kernel (a seccomp filter)"
        elif said == "filtered":
            filtered = "no internet sockets for the kernel (its seccomp filter loaded)"
        else:
            filtered = f"no seccomp filter on the kernel ({said[:120] or 'its launcher did not say'})"
        if self.mode == "bubblewrap":
            return f"none but its own loopback (a network namespace of its own); {filtered}"
        return filtered if (said in (None, "filtered")) else f"reachable: {filtered}"

    # -- workspace ------------------------------------------------------------------------------

    def make_workspace(self) -> Workspace:
        base = Path(tempfile.mkdtemp(prefix="lab5-sandbox-"))
        box = base / "box"
        for sub in ("", "autograder", "autograder/submission", "autograder/results", "home", "tmp", "report"):
            (box / sub).mkdir(exist_ok=True)
        if self.user is not None:
            os.chmod(base, 0o711)  # the user reaches its box, lists nothing
            for path in [box, *box.rglob("*")]:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.workspace = Workspace(base, box, Path(INSIDE) if self.mode == "bubblewrap" else box)
        return self.workspace

    def give(self, path: Path) -> None:
        """Hand ``path`` (a file or folder the grader put in the box) to the student's side."""
        if self.user is None:
            return
        for p in [path, *(path.rglob("*") if path.is_dir() else [])]:
            os.chown(p, self.user.pw_uid, self.user.pw_gid, follow_symlinks=False)

    # -- starting -------------------------------------------------------------------------------

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        ws = self.workspace
        home = ws.seen("home")
        tmp = "/tmp" if self.mode == "bubblewrap" else ws.seen("tmp")
        env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        env.update(
            PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            HOME=home,
            TMPDIR=tmp,
            MPLCONFIGDIR=f"{home}/.matplotlib",
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONNOUSERSITE="1",
            LANG=env.get("LANG", "C.UTF-8"),
        )
        if self.isolated:
            env[ISOLATED_ENV] = "1"
        if self.mode == "none":  # the grader's own environment, as before there were sandboxes
            env = {**os.environ, **env}
        return {**env, **extra}

    def start(self, argv: list[str], env: dict[str, str], stdout) -> subprocess.Popen:
        """Start ``argv`` (a python command) on the student's side, in the workspace's autograder/."""
        ws = self.workspace
        cwd = ws.seen("autograder")
        env = {**env, **self.memory.environment()}
        if self.mode == "bubblewrap":
            command = _bwrap_args(ws) + ["--chdir", cwd, "--clearenv"]
            for key, value in env.items():
                command += ["--setenv", key, value]
            command += ["--", *self._drop(), *argv]
            self.proc = subprocess.Popen(
                [*self.memory.join(), *command],
                stdin=subprocess.PIPE,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        else:
            self.proc = subprocess.Popen(
                [*self.memory.join(), *self._drop(), *argv],
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.proc

    def _drop(self) -> list[str]:
        """The command prefix that gives up root for the grading user (nothing without one)."""
        if self.user is None:
            return []
        return [
            "setpriv",
            f"--reuid={self.user.pw_uid}",
            f"--regid={self.user.pw_gid}",
            "--clear-groups",
            "--no-new-privs",
            "--bounding-set=-all",
            "--inh-caps=-all",
            "--",
        ]

    # -- while it runs --------------------------------------------------------------------------

    def written(self) -> tuple[int, str]:
        """How much the student's side has written to disk (bytes, and where): its box and, without
        namespaces, its own files in the machine's shared temporary folders (walked, no links followed;
        too many files count as too much)."""
        places = [(self.workspace.box, "its folder", None)]
        places += [(Path(entry.path), folder, entry) for folder, entry in self._shared_files()]
        sizes: dict[str, int] = {}
        count = 0
        for path, where, entry in places:
            if entry is not None and not entry.is_dir(follow_symlinks=False):
                sizes[where] = sizes.get(where, 0) + entry.stat(follow_symlinks=False).st_blocks * 512
                continue
            for _, _, files, dir_fd in os.fwalk(path, follow_symlinks=False):
                for name in files:
                    count += 1
                    if count > 50_000:
                        return WRITE_LIMIT + 1, f"more than 50,000 files ({where})"
                    try:
                        sizes[where] = (
                            sizes.get(where, 0) + os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_blocks * 512
                        )
                    except OSError:
                        continue
        where = max(sizes, key=sizes.get, default="its folder")
        return sum(sizes.values()), where

    # -- ending ---------------------------------------------------------------------------------

    def end(self) -> None:
        """End every process of the student's side (and wait for them), however they were started."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap (and with it its pid namespace), or otter's session
            except OSError:
                pass
            try:
                proc.kill()
            except OSError:
                pass
        if proc is not None:
            proc.wait()
        if self.mode == "user":
            self.survivors = end_user_processes(self.user.pw_uid)

    def clean_up(self) -> None:
        """Remove the workspace, the memory cgroup and, without namespaces, what the user left in the
        shared temporary folders."""
        if self._memory is not None:
            self._memory.clean_up()
        if self.workspace is not None:
            shutil.rmtree(self.workspace.base, ignore_errors=True)
        for _, entry in self._shared_files():
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue

    def _shared_files(self) -> list[tuple[str, os.DirEntry]]:
        """Without namespaces: what the grading user made in the machine's shared temporary folders
        (each folder, and the entry at its top)."""
        found = []
        for folder in SHARED_TMP if self.mode == "user" else ():
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid == self.user.pw_uid:
                        found.append((folder, entry))
                except OSError:
                    continue
        return found


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------


class Memory:
    """The memory limit of the student's side: ``join()`` prefixes its command, ``environment()`` is
    what it is told, ``exceeded()`` says afterwards whether it ran out (and was stopped)."""

    kind = "none"
    machine_limit: int | None = None  # the memory of the container the grader runs in, where it has one
    machine_ran_out = False  # that container's memory, not this limit, stopped the student's side

    def __init__(self, limit: int):
        self.limit = limit

    def join(self) -> list[str]:
        return []

    def environment(self) -> dict[str, str]:
        return {}

    def exceeded(self) -> bool:
        return False

    def peak(self) -> int | None:
        """The most memory the student's side used at once (bytes), where it can be known."""
        return None

    def describe(self) -> str:
        return "no memory limit"

    def clean_up(self) -> None:
        pass


def _own_cgroups() -> dict[str, str]:
    """controller -> the cgroup this process is in, as /proc/self/cgroup says ("" for cgroup v2's)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path.strip("/")
    return own


def _oom_kills(events: Path) -> int:
    """How many processes the out-of-memory killer ended in a cgroup, from its memory.oom_control (v1) or
    memory.events (v2)."""
    for line in events.read_text().splitlines():
        if line.split()[:1] == ["oom_kill"]:
            return int(line.split()[1])
    return 0


def machine_memory() -> tuple[int | None, int]:
    """The memory limit of the cgroup this process runs in (a container's: Gradescope's 768 MB; None
    where there is none), and how many processes the out-of-memory killer has ended in it so far."""
    try:
        own = _own_cgroups()
    except (OSError, ValueError):
        return None, 0
    if "memory" in own:  # cgroup v1: the own folder where it is visible, else the mount's root (a namespace)
        base = Path("/sys/fs/cgroup/memory")
        folder = next((f for f in (base / own["memory"], base) if (f / "memory.oom_control").is_file()), None)
        limit_file, events = "memory.limit_in_bytes", "memory.oom_control"
    else:  # cgroup v2
        base = Path("/sys/fs/cgroup")
        folder = next((f for f in (base / own.get("", ""), base) if (f / "memory.events").is_file()), None)
        limit_file, events = "memory.max", "memory.events"
    if folder is None:
        return None, 0
    limit, kills = None, 0
    try:
        text = (folder / limit_file).read_text().strip()
        if text.isdigit() and int(text) < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"):
            limit = int(text)
        kills = _oom_kills(folder / events)
    except (OSError, ValueError, IndexError):
        pass
    return limit, kills


class AddressSpace(Memory):
    """Each process of the student's side may map at most ``limit`` bytes (RLIMIT_AS): an allocation
    beyond it fails in that process (Python: MemoryError, which the grading mode tells as memory).
    Where the grader itself runs in a memory-limited container (Gradescope's), the student's side is
    the out-of-memory killer's first choice (lab5_student_side.apply_limits), and a kill in the
    container while it ran is its memory too."""

    kind = "address-space"

    def __init__(self, limit: int):
        super().__init__(limit)
        self.machine_limit, self._kills = machine_memory()

    def exceeded(self) -> bool:
        limit, kills = machine_memory()
        self.machine_ran_out = kills > self._kills and limit is not None
        return self.machine_ran_out

    def environment(self) -> dict[str, str]:
        return {boundary.ADDRESS_SPACE_ENV: str(self.limit)}

    def describe(self) -> str:
        said = f"at most {self.limit / 2**30:.1f} GB of address space per process (no memory cgroup here)"
        if self.machine_limit is not None:
            said += f", within the machine's {self.machine_limit / 2**20:.0f} MB"
        return said


class CgroupMemory(Memory):
    """A memory cgroup of the grading's own (cgroup v1, below the grader's own cgroup), which every
    process of the student's side joins before it starts: all of them together may use ``limit``
    bytes (swap included); beyond it the kernel's out-of-memory killer ends one of them, and only one
    of theirs."""

    kind = "cgroup"

    def __init__(self, limit: int, folder: Path):
        super().__init__(limit)
        self.folder = folder

    @classmethod
    def make(cls, limit: int) -> CgroupMemory:
        own = _own_cgroups().get("memory")
        root = Path("/sys/fs/cgroup/memory")
        if own is None or not (root / "memory.limit_in_bytes").is_file():
            raise OSError("no cgroup v1 memory controller")
        folder = Path(tempfile.mkdtemp(prefix="lab5-", dir=root / own))
        try:
            (folder / "memory.limit_in_bytes").write_text(str(limit))
            if (folder / "memory.memsw.limit_in_bytes").is_file():
                (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))
        except OSError:
            folder.rmdir()
            raise
        return cls(limit, folder)

    def join(self) -> list[str]:
        # the command joins the cgroup itself, before it runs anything: whatever it starts is in it too
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.folder / "cgroup.procs")]

    def exceeded(self) -> bool:
        try:
            return _oom_kills(self.folder / "memory.oom_control") > 0
        except (OSError, ValueError, IndexError):
            return False

    def peak(self) -> int | None:
        try:  # the limit holds memory and swap together: so does the peak, where the kernel counts swap
            return max(
                int((self.folder / name).read_text())
                for name in ("memory.max_usage_in_bytes", "memory.memsw.max_usage_in_bytes")
                if (self.folder / name).is_file()
            )
        except (OSError, ValueError):
            return None

    def describe(self) -> str:
        return f"at most {self.limit / 2**30:.1f} GB for all its processes together (a memory cgroup)"

    def clean_up(self) -> None:
        remove_cgroup(self.folder)


def remove_cgroup(folder: Path) -> None:
    """Remove a cgroup whose processes have ended (the kernel may take a moment to let go of them)."""
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def choose_memory(requested: str | None = None) -> Memory:
    """The memory limit to grade with (``requested``: default $LAB5_MEMORY, else auto): a memory cgroup
    where one can be made here, else an address-space limit."""
    mode = (requested or os.environ.get(MEMORY_ENV) or "auto").strip().lower()
    if mode not in ("auto", "cgroup", "address-space"):
        raise SandboxError(f"{MEMORY_ENV}={mode!r} is not one of auto, cgroup, address-space")
    if mode in ("auto", "cgroup") and platform.system() == "Linux":
        try:
            return CgroupMemory.make(MEMORY_LIMIT)
        except (OSError, StopIteration, IndexError) as e:
            if mode == "cgroup":
                raise SandboxError(f"no memory cgroup can be made here ({e})") from None
    return AddressSpace(ADDRESS_SPACE_LIMIT)


def user_processes(uid: int) -> list[int]:
    """The processes whose real user is ``uid`` (from /proc)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(int(entry.name))
                        break
                    if line.startswith("State:") and line.split()[1] == "Z":
                        break  # a zombie is gone already
        except (OSError, ValueError, IndexError):
            continue
    return found


def end_user_processes(uid: int, patience: float = 60) -> list[int]:
    """End every process of ``uid``: kill(-1, SIGKILL) as that user, which the kernel sends to all of
    them at once (no fork escapes it), until none is left (a loaded machine takes seconds to tear down
    hundreds of processes). Returns those still there after ``patience`` seconds (none, but in D state)."""
    end = time.monotonic() + patience
    while time.monotonic() < end:
        if not user_processes(uid):
            return []
        subprocess.run(
            [sys.executable, "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"],
            user=uid,
            group=pwd.getpwuid(uid).pw_gid,
            extra_groups=[],
            env={},
            check=False,
        )
        time.sleep(0.1)
    return user_processes(uid)


# --------------------------------------------------------------------------------------------
# bubblewrap
# --------------------------------------------------------------------------------------------


def _bwrap_args(ws: Workspace) -> list[str]:
    args = [
        "bwrap",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    if not is_root():
        args.append("--unshare-user")  # the caller's own account, mapped; no capabilities
    for top in ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # the private /tmp before the Python environment and the data: a venv or a data folder under /tmp
    # (a TA's checkout there) is bound on top of it, not hidden by it
    args += [
        "--perms",
        "1777",
        "--size",
        str(TMP_LIMIT),
        "--tmpfs",
        "/tmp",
        "--perms",
        "1777",
        "--size",
        str(64 * 2**20),
        "--tmpfs",
        "/dev/shm",
    ]
    made = {Path("/"), Path("/usr"), Path("/etc"), Path("/tmp")}
    # the data also where the environment names it, through a symbolic link (../shared linked beside a checkout)
    named = [folder for folder in data_folders(as_named=True) if folder.resolve() != folder]
    for folder in python_folders() + data_folders() + named:
        if folder == Path("/usr") or Path("/usr") in folder.parents:
            continue
        for parent in reversed(folder.parents):  # readable parents (as root bwrap makes them 0700)
            if parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(folder.resolve()), str(folder)]
    args += ["--bind", str(ws.box), INSIDE]
    return args


# --------------------------------------------------------------------------------------------
# Reading what the student's side handed back
# --------------------------------------------------------------------------------------------


class TooLarge(ValueError):
    pass


def read_back(root: Path, relative: str, limit: int) -> bytes | None:
    """The bytes of ``root``/``relative`` if it is a regular file of at most ``limit`` bytes reached
    without following any link (None: missing, a link, a folder, a pipe...); TooLarge beyond ``limit``."""
    parts = [p for p in relative.split("/") if p]
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(root, flags | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = next_fd
        try:
            file_fd = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
        except OSError:
            return None
        try:
            st = os.fstat(file_fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            if st.st_size > limit:
                raise TooLarge(f"{relative} is {st.st_size:,} bytes (at most {limit:,})")
            with os.fdopen(file_fd, "rb", closefd=False) as f:
                data = f.read(limit + 1)
            if len(data) > limit:
                raise TooLarge(f"{relative} is more than {limit:,} bytes")
            return data
        finally:
            os.close(file_fd)
    finally:
        os.close(fd)
