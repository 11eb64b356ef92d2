"""What reading a facts file costs the grader at most: the peak memory and the time of a process that
reads (lab5_facts.read) the worst facts files that fit under lab5_facts.FILE_LIMIT (the most values the
syntax can hold, of each kind of smallest value), in Gradescope's emulated container (tools/container.py)
at 768 MB, its default, and at 1.5 GB.

    python3 -m tools bench facts

Needs root and cgroup v1 (tools/container.py); a minute. Figures: docs/performance.md, "Facts".
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path

from bench import machine
from tools import container, project
from tools.autograder import checkout_module

ITEMS = (b"[]", b"{}", b'""', b"0.5", b"[{}]")  # the smallest values JSON has, each of its own kind
READER = """\
import json, sys, time
sys.path.insert(0, sys.argv[1])
import lab5_facts
data = open(sys.argv[2], "rb").read()
started = time.perf_counter()
env = lab5_facts.read(data)
seconds = time.perf_counter() - started
refused = sum(isinstance(v, lab5_facts.Unreadable) for v in env.values())
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
peak = int(status["VmHWM"].split()[0]) * 1024  # this process's resident peak (ru_maxrss counts what exec'd it)
print(json.dumps({"seconds": seconds, "maxrss": peak, "names": len(env), "refused": refused}))
"""


def line_of(facts, name: str, value_json: bytes) -> bytes:
    """One name's line of a facts file whose value is the raw JSON ``value_json`` (not checked)."""
    return b'{"name": "' + name.encode() + b'", "facts": {"kind": "value", "value": ' + value_json + b"}}"


def worst_file(facts, item: bytes) -> bytes:
    """A facts file as large as the grader reads, every line a list of as many ``item`` as one name may
    hold, the graded names over and over."""
    many = b"[" + (item + b",") * (facts.SYNTAX_LIMIT // 2 - 10) + item + b"]"
    data = facts.header()
    for name in itertools.cycle(facts.GRADED):
        if len(data) + len(many) + 100 > facts.FILE_LIMIT:
            return data
        data += line_of(facts, name, many) + b"\n"


def main(argv: list[str] | None = None) -> int:
    why_not = container.available()
    if why_not:
        print(f"bench facts needs Gradescope's emulated container: {why_not}", file=sys.stderr)
        return 2
    facts = checkout_module("lab5_facts")

    print(
        f"# {machine()}\n# FILE_LIMIT {facts.FILE_LIMIT:,} bytes, SYNTAX_LIMIT {facts.SYNTAX_LIMIT:,} per name, "
        f"SYNTAX_TOTAL_LIMIT {facts.SYNTAX_TOTAL_LIMIT:,}"
    )
    print("| item | file | container | peak (cgroup) | the reader's own peak | read in | names refused |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for item in ITEMS:
            path = Path(folder) / "facts.json"
            path.write_bytes(worst_file(facts, item))
            for memory in (container.GRADESCOPE_MEMORY, 1536 * 2**20):
                outcome = container.run(
                    [sys.executable, "-c", READER, str(project.ASSIGNMENT), str(path)], memory=memory, cpus=1.0
                )
                found = json.loads(outcome.stdout.strip().splitlines()[-1]) if outcome.returncode == 0 else {}
                peak = f"{outcome.memory_peak / 2**20:.0f} MB" if outcome.memory_peak else "?"
                print(
                    f"| `{item.decode()}` | {path.stat().st_size / 2**20:.1f} MB | {memory / 2**20:.0f} MB"
                    f"{' (out of memory)' if outcome.out_of_memory else ''} | {peak} | "
                    f"{found.get('maxrss', 0) / 2**20:.0f} MB | {found.get('seconds', float('nan')):.2f} s | "
                    f"{found.get('refused', '?')} of {found.get('names', '?')} |",
                    flush=True,
                )
    return 0
