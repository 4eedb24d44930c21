"""Any day replayed from the raw store (`day`: the steps; `paydag.register.snapshot`: the comparison).

`replay` runs a day into a register (a fresh SQLite under `PAYDAG_HOME/replay/` unless told which) and
compares what it holds about the day's files with the live register, field by field; `verify=True`
replays into a scratch register that is thrown away, so the live register is only read.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from paydag.register import Register
from paydag.register.snapshot import Difference, differences
from paydag.replay.day import DayReplay, Replayed, ReplayStore, day_objects, replay_day, start_of
from paydag.settings import Settings
from paydag.storage import open_raw_store

__all__ = [
    "DayReplay",
    "DayReport",
    "Difference",
    "ReplayStore",
    "Replayed",
    "day_objects",
    "replay",
    "replay_day",
]


@dataclass(frozen=True)
class DayReport:
    day: date
    into: str  # the register replayed into ("scratch" for a verification)
    steps: list[Replayed]
    differences: list[Difference] = field(default_factory=list)  # the replayed register against the live one

    @property
    def failed(self) -> list[Replayed]:
        return [s for s in self.steps if s.outcome == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.what] = out.get(s.what, 0) + 1
        return dict(sorted(out.items()))


def replay(
    settings: Settings,
    day: date,
    *,
    company: str | None = None,
    into: str | None = None,
    verify: bool = False,
) -> DayReport:
    """Replay `day` from the settings' raw store into `into` (a fresh register when None), and compare."""
    live_store = open_raw_store(settings.effective_raw_store)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = settings.home / "replay"
    root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=root, prefix=f"{day}-{stamp}-"))
    target = into or f"sqlite:///{workdir / 'register.db'}"
    register = Register(target)
    try:
        objects, steps = replay_day(
            day, live=live_store, register=register, companies=settings.companies, workdir=workdir,
            company=company, timezone=settings.timezone,
        )  # fmt: skip
        keys = [o.key for o in objects]
        replayed = register.snapshot(keys, exceptions_since=start_of(day))
    finally:
        register.close()
    live = Register(settings.effective_database_url)
    try:
        found = differences(live.snapshot(keys, exceptions_since=start_of(day)), replayed)
    finally:
        live.close()
    if verify:
        shutil.rmtree(workdir, ignore_errors=True)
    return DayReport(day, "scratch" if verify else _shown(target), steps, found)


def _shown(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
