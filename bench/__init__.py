"""Benchmarks (minutes each, not tests): ``python3 -m tools bench {training,grading}``.

Their figures go into docs/performance.md with the date and machine they came from.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

# The original notebook's tokenization (every tweet padded to 128 tokens, the default collator),
# as edits of the reference solution: the baseline the reference's dynamic padding is measured against.
PAD_TO_MAX_LENGTH = (
    ("truncation=True, max_length=MAX_LENGTH)", 'truncation=True, padding="max_length", max_length=128)'),
    ("    data_collator=DataCollatorWithPadding(tokenizer),\n", ""),
)


def machine() -> str:
    """One line on where a benchmark ran."""
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{datetime.date.today()}: {cpu}, {os.cpu_count()} cores{memory}, {device}; "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )
