"""replay-day: a day's raw files re-applied, in the order they came, and compared with the register."""

from __future__ import annotations

from datetime import date

from prefect import flow

from tasks.replay import publish, replay_raw_day


@flow(name="replay-day", flow_run_name="replay {day}")
def replay_day(
    day: date, company: str | None = None, into: str | None = None, verify: bool = False
) -> dict[str, object]:
    """Re-apply every file the raw store kept on a day through the same steps, into a fresh register
    (or `into`), and report every difference from the live register.

    Args:
        day: the day to replay (the raw store's keys are dated in UTC)
        company: only this company's files; every company's when empty
        into: the register to replay into (a database URL); a fresh SQLite under PAYDAG_HOME/replay when empty
        verify: replay into a scratch register that is thrown away: the live register is only read
    """
    if verify and into:
        raise ValueError("verify replays into a scratch register: leave `into` empty")
    report = replay_raw_day(day, company, into, verify)
    publish(report)
    if report.failed:
        raise RuntimeError(f"{len(report.failed)} object(s) could not be replayed: {report.failed[0].detail}")
    return {"day": day.isoformat(), "into": report.into, "counts": report.counts(),
            "differences": len(report.differences)}  # fmt: skip
