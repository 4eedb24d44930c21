"""Tasks of the replay: replay the day (one task: its steps share one scratch register), publish."""

from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag import replay
from tasks import resources


@task(name="replay-raw-day", cache_policy=NO_CACHE)
def replay_raw_day(day: date, company: str | None, into: str | None, verify: bool) -> replay.DayReport:
    """Every object the raw store kept on `day`, through the steps that took it in, then compared."""
    report = replay.replay(resources.settings(), day, company=company, into=into, verify=verify)
    log = get_run_logger()
    log.info("replayed %d object(s) into %s: %s", len(report.steps), report.into, report.counts())
    for step in report.failed:
        log.error("%s (%s) failed: %s", step.key, step.what, step.detail)
    return report


@task(name="publish-replay", cache_policy=NO_CACHE)
def publish(report: replay.DayReport) -> None:
    key = f"replay-{report.day}"
    create_table_artifact(
        key=f"{key}-steps",
        table=[vars(s) for s in report.steps],
        description=f"{report.day} replayed into {report.into}: each object the raw store kept, and what it did",
    )
    create_table_artifact(
        key=f"{key}-differences",
        table=[d.shown() for d in report.differences],
        description=f"{report.day}: {len(report.differences)} difference(s) between the replay and the live register "
        "(accounts masked)",
    )
