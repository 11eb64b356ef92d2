"""The student's side (assignment/lab5_sandbox.py) without a notebook: a Python process started as the
entry point starts otter, probing what it can reach. Seconds each; the corpus grades whole notebooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import lab5_boundary as boundary
import lab5_sandbox as sandbox
import lab5_student_side as student_side
import pytest
from conftest import need

PROBE = r"""
import json, os, pathlib, socket, subprocess, sys
home, box = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def can_write(path):
    try:
        (path / "probe.txt").write_text("x")
        return True
    except OSError:
        return False
try:
    socket.create_connection(("pypi.org", 443), timeout=5).close()
    network = True
except OSError:
    network = False
try:
    sees_home = any(True for _ in home.iterdir())
except OSError:
    sees_home = False
# a process that empties its environment and leaves its parent's session: it must end with the sandbox
subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(600)"], env={}, start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({
    "uid": os.getuid(),
    "sees_the_graders_home": sees_home,
    "writes_the_graders_home": can_write(home),
    "writes_its_box": can_write(box),
    "writes_the_environment": can_write(pathlib.Path(os.__file__).parent),
    "writes_tmp": can_write(pathlib.Path("/tmp")),
    "network": network,
    "processes": len([p for p in os.listdir("/proc") if p.isdigit()]),
}))
"""


def probe(box: sandbox.Sandbox, home: Path) -> dict:
    ws = box.make_workspace()
    env = box.environment({})
    proc = box.start([sys.executable, "-c", PROBE, str(home), ws.seen("home")], env, stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=120)
    lines = out.decode().strip().splitlines()
    assert lines and lines[-1].startswith("{"), out.decode()
    return json.loads(lines[-1])


@pytest.fixture
def graders_home(tmp_path):
    home = tmp_path / "home-of-the-grader"
    home.mkdir()
    (home / "roster.csv").write_text("alice,bob\n")
    return home


PROBE_USER = "lab5-probe"  # as root: a grading user no grading of the session runs as


def test_bubblewrap_keeps_the_notebook_to_its_box(graders_home):
    need(sandbox.bubblewrap_problem() is None, "bubblewrap")
    box = sandbox.Sandbox("bubblewrap", sandbox.ensure_user(PROBE_USER) if sandbox.is_root() else None)
    try:
        seen = probe(box, graders_home)
        assert box.proc.returncode == 0
        assert seen["writes_its_box"] and seen["writes_tmp"]
        assert not seen["sees_the_graders_home"] and not seen["writes_the_graders_home"]
        assert not seen["writes_the_environment"] and not seen["network"]
        assert seen["processes"] <= 4, "its own process namespace: only the sandbox's processes"
        if sandbox.is_root():
            assert seen["uid"] == box.user.pw_uid
        box.end()
        assert not (graders_home / "probe.txt").exists() and not Path("/tmp/probe.txt").exists()
    finally:
        box.end()
        box.clean_up()
    assert not box.workspace.base.exists()


def test_the_grading_user_ends_with_everything_it_started(graders_home):
    need(sandbox.is_root(), "root (the grading user is Gradescope's way)")
    graders_home.chmod(0o700)
    box = sandbox.Sandbox("user", sandbox.ensure_user(PROBE_USER))
    sandbox.open_to(box.user)  # as the image's setup does for its grading user
    try:
        seen = probe(box, graders_home)
        assert seen["uid"] == box.user.pw_uid and seen["writes_its_box"]
        assert not seen["sees_the_graders_home"] and not seen["writes_the_graders_home"]
        assert not seen["writes_the_environment"]
        time.sleep(0.5)
        assert sandbox.user_processes(box.user.pw_uid), "the probe's own process left behind"
        box.end()
        assert sandbox.user_processes(box.user.pw_uid) == []
    finally:
        box.end()
        box.clean_up()


@pytest.mark.parametrize("mode, says", [("bogus", "is not one of auto, bubblewrap, user, none")])
def test_a_mode_that_does_not_exist_is_refused(mode, says):
    with pytest.raises(sandbox.SandboxError, match=says):
        sandbox.choose(mode)


def test_limits_apply_to_the_student_side():
    code = (
        "import lab5_student_side as side, resource\nside.apply_limits()\n"
        "print([resource.getrlimit(r)[1] for r in (resource.RLIMIT_NPROC, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_AS)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(sandbox.__file__).parent,
        env={**os.environ, boundary.ADDRESS_SPACE_ENV: str(6 * 2**30)},
    ).stdout
    assert json.loads(out) == [
        student_side.PROCESS_LIMIT,
        student_side.FILE_LIMIT,
        student_side.OPEN_FILES_LIMIT,
        6 * 2**30,
    ]


SEND = """
import socket, subprocess, sys
if sys.argv[1] == "filtered":
    import lab5_student_side
    assert lab5_student_side.no_network() is None
said = []
for family in (socket.AF_INET, socket.AF_INET6):
    try:
        socket.socket(family).close()
        said.append("socket")
    except OSError as error:
        said.append(type(error).__name__)
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5) as connection:
        connection.sendall(b"from the probe")
    said.append("sent")
except OSError as error:
    said.append(type(error).__name__)
child = subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], capture_output=True, text=True)
said.append("child refused" if "PermissionError" in child.stderr else "child socket")
left, right = socket.socketpair(socket.AF_UNIX)  # what the kernel's IPC needs: still there
left.sendall(b"x"); said.append("unix" if right.recv(1) == b"x" else "no unix")
print(" ".join(said))
"""


def test_the_network_filter_keeps_a_process_and_its_children_off_the_network():
    """Without namespaces (Gradescope's container) the kernel's seccomp filter is what keeps a notebook off
    the network: a listener on this machine's loopback gets nothing from a filtered process or its
    children, and what an unfiltered one sends (the probe can fail)."""
    import socket
    import threading

    assert sandbox.network_problem() is None
    server = socket.create_server(("127.0.0.1", 0))
    port, received = server.getsockname()[1], []

    def serve():
        server.settimeout(20)
        try:
            while True:
                connection, _ = server.accept()
                received.append(connection.recv(100))
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()

    def probe(mode):
        return subprocess.run(
            [sys.executable, "-c", SEND, mode, str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(sandbox.__file__).parent,
        ).stdout.split()

    assert probe("filtered") == ["PermissionError", "PermissionError", "PermissionError", "child", "refused", "unix"]
    assert received == []
    assert probe("open") == ["socket", "socket", "sent", "child", "socket", "unix"]
    server.close()
    assert received == [b"from the probe"]


def test_a_memory_cgroup_stops_the_side_that_exceeds_it():
    """As root (CI, Gradescope's own root has no cgroups to write: the address-space limit then), every
    process of the student's side joins a memory cgroup of the grading's own; one that allocates
    beyond it is ended there, and the grader knows it was memory."""
    need(sandbox.is_root(), "root, to make a memory cgroup")
    memory = sandbox.CgroupMemory.make(2**28)
    try:
        proc = subprocess.run(
            [*memory.join(), sys.executable, "-c", "blocks = []\nwhile True:\n    blocks.append(b'x' * 2**24)"],
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == -9 and memory.exceeded() and memory.peak() >= 2**28 * 0.9
    finally:
        memory.clean_up()
    assert not memory.folder.exists()
    quiet = sandbox.CgroupMemory.make(2**28)
    try:
        subprocess.run([*quiet.join(), sys.executable, "-c", "x = b'x' * 2**20"], check=True, timeout=60)
        assert not quiet.exceeded()
    finally:
        quiet.clean_up()


def test_without_cgroups_the_address_space_is_limited():
    memory = sandbox.choose_memory("address-space")
    assert memory.environment() == {boundary.ADDRESS_SPACE_ENV: str(boundary.ADDRESS_SPACE_LIMIT)}
    assert "address space" in memory.describe() and memory.join() == [] and not memory.exceeded()


def test_reading_back_follows_no_link_and_stops_at_its_limit(tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    (tmp_path / "secret").write_text("the grader's")
    (report / "kernel.json").write_text("{}")
    (report / "link.json").symlink_to(tmp_path / "secret")
    (tmp_path / "folder").mkdir()
    (report / "through").symlink_to(tmp_path / "folder")
    (tmp_path / "folder" / "cell.txt").write_text("x")
    os.mkfifo(report / "pipe.json")  # opening it to read would wait for a writer
    (report / "big.json").write_bytes(b"x" * 2000)
    assert sandbox.read_back(report, "kernel.json", 100) == b"{}"
    for name in ("link.json", "through/cell.txt", "pipe.json", "missing.json"):
        assert sandbox.read_back(report, name, 100) is None, name
    with pytest.raises(sandbox.TooLarge):
        sandbox.read_back(report, "big.json", 1000)
