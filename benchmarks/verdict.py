"""What every benchmark prints with: where and when it ran, a process's peak memory, and the one
line each target gets (the peer's figure, ours, the ratio, the target and whether it is met, all
from the same run)."""

from __future__ import annotations

import os
import platform
import resource
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo


def machine() -> str:
    """Where and when: the figures mean nothing without it."""
    when = datetime.now(ZoneInfo("Europe/Stockholm"))
    return f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}), {when:%Y-%m-%d %H:%M %Z}"


def ratio_line(
    work: str,
    peer: str,
    peer_value: float,
    ours: float,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
    unit: str = "s",
    inverse: bool = False,
) -> str:
    """`ours / peer` against `at_most`, or `peer / ours` (how many times faster, `inverse`) against
    `at_least`."""
    ratio = peer_value / ours if inverse else ours / peer_value
    if at_most is not None:
        met, target = ratio <= at_most, f"<= {at_most:g}x"
    else:
        assert at_least is not None
        met, target = ratio >= at_least, f">= {at_least:g}x"
    what = f"{peer} / paydag" if inverse else f"paydag / {peer}"
    return (f"  {work}: {peer} {peer_value:.2f} {unit}, paydag {ours:.2f} {unit}; {what} = {ratio:.2f}x "
            f"(target {target}): {'met' if met else 'not met'}")  # fmt: skip


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's
    size across fork and exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
