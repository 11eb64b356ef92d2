"""Gradescope's container as tools/container.py emulates it: what a process inside may and may not do,
and the limits it is held to (what the image tests and the full-profile benchmark grade in)."""

from __future__ import annotations

import sys

import pytest
from conftest import need

from tools import container

PROBE = r"""
import ctypes, json, os, socket, subprocess
found = {"uid": os.geteuid()}
caps = int(next(l for l in open("/proc/self/status") if l.startswith("CapEff")).split()[1], 16)
found["sys_admin"], found["net_admin"] = bool(caps >> 21 & 1), bool(caps >> 12 & 1)
found["bwrap"] = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "true"], capture_output=True).returncode
found["unshare"] = subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode
try:
    os.mkdir("/sys/fs/cgroup/memory/lab5-probe"); found["cgroup"] = "made"
except OSError as e:
    found["cgroup"] = e.strerror
try:
    socket.socket().close(); found["socket"] = "ok"
except OSError as e:
    found["socket"] = e.strerror
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def inside():
    need(container.available() is None, f"Gradescope's container emulated ({container.available()})")
    import json

    outcome = container.run([sys.executable, "-c", PROBE])
    assert outcome.returncode == 0, outcome.stderr
    return json.loads(outcome.stdout.strip().splitlines()[-1]), outcome


def test_root_without_namespaces_or_cgroups_of_its_own(inside):
    found, outcome = inside
    assert found["uid"] == 0 and not found["sys_admin"] and not found["net_admin"]
    assert found["bwrap"] != 0 and found["unshare"] != 0, "namespaces must be refused, as Docker's seccomp profile does"
    assert found["cgroup"] == "Read-only file system"
    assert found["socket"] == "ok", "the network stays open at grading on Gradescope"
    assert outcome.memory_peak and outcome.memory_peak < container.GRADESCOPE_MEMORY and not outcome.out_of_memory


def test_the_memory_limit_holds_and_is_seen():
    need(container.available() is None, f"Gradescope's container emulated ({container.available()})")
    outcome = container.run([sys.executable, "-c", "b = [bytearray(2**20) for _ in range(2000)]"], memory=256 * 2**20)
    assert outcome.returncode != 0 and outcome.out_of_memory
    assert outcome.memory_peak <= 256 * 2**20 + 2**20
