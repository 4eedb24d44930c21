"""Tasks of the settlement ingest: archive first, then parse + validate + curate in one task."""

from __future__ import annotations

import tempfile
from contextlib import closing
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag import ingest
from paydag.ingest import IngestState
from paydag.storage import done_with, fetch_input, safe_name
from paydag.storage.sftp import SftpCredentials
from tasks import events, resources
from tasks.retry import io_task


@task(name="find-new-settlement-reports", cache_policy=NO_CACHE)
def new_reports() -> list[str]:
    """The reports in the inbox that were never ingested (by their sha256)."""
    s = resources.settings()
    inbox = s.effective_settlement_inbox
    with closing(resources.register()) as register:
        found = ingest.new_inbox_files(inbox, register, _sftp(inbox))
    get_run_logger().info("%d new report(s) in %s", len(found), s.effective_settlement_inbox)
    return found


@task(name="find-waiting-settlement-reports", cache_policy=NO_CACHE)
def waiting_reports(company: str) -> list[str]:
    """Reports kept but never curated or quarantined (a run that died, a trigger event that was lost)."""
    with closing(resources.register()) as register:
        found = ingest.waiting_reports(company, register)
    if found:
        get_run_logger().info("%d kept report(s) still to ingest", len(found))
    return found


@io_task("archive-settlement-report")
def archive_report(source: str, company: str) -> ingest.Archived:
    """Keep the raw report before anything else reads it."""
    s = resources.settings()
    s.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=s.home) as workdir, closing(resources.register()) as register:
        register.ensure_company(company, s.company(company))
        path = fetch_input(source, Path(workdir), _sftp(source))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileNotFoundError(f"{source}: cannot be read: {exc.strerror}") from None
        archived = ingest.archive(
            data, safe_name(path.name), company_id=company, raw_store=resources.raw_store(), register=register
        )
    moved = done_with(source, _sftp(source))  # an SFTP inbox's file, now durable here, to its archive/
    get_run_logger().info(
        "archived %s as %s%s", source, archived.raw.key, f"; moved to {moved}" if moved else ""
    )
    return archived


def _sftp(uri: str) -> SftpCredentials | None:
    """The SFTP credentials (Secret block, else the environment) where `uri` is on SFTP."""
    return resources.sftp_credentials() if uri.startswith("sftp://") else None


@task(name="take-kept-settlement-report", cache_policy=NO_CACHE)
def kept_report(raw_key: str, company: str) -> ingest.Archived:
    """A report a poll already stored (its `paydag.file.stored` event names the key)."""
    s = resources.settings()
    with closing(resources.register()) as register:
        register.ensure_company(company, s.company(company))
        return ingest.kept(raw_key, company_id=company, raw_store=resources.raw_store(), register=register)


@task(name="validate-and-curate", cache_policy=NO_CACHE)
def validate_and_curate(archived: ingest.Archived, company: str, force: bool) -> ingest.IngestOutcome:
    """Parse, check with the GX suite, publish the results; curate on success, quarantine otherwise.
    A curated report (now or before: events are at-least-once) is announced with `paydag.settlement.curated`."""
    s = resources.settings()
    store = resources.raw_store()
    data = store.read(archived.raw.key)
    with closing(resources.register()) as register:
        try:
            outcome = ingest.curate_once(
                data, archived, raw_store=store, register=register, curated_dir=s.curated_dir,
                docs_dir=s.home / "data-docs", force=force,
            )  # fmt: skip
        except ingest.SettlementInvalid as exc:
            _publish(exc.accounting_no, exc.validation)
            raise
    if outcome.state is IngestState.ALREADY:
        get_run_logger().info(
            "%s was ingested before (%s); nothing to do", outcome.accounting_no, outcome.curated_path
        )
    else:
        _publish(outcome.accounting_no, outcome.validation)
    events.settlement_curated(company, outcome.accounting_no, outcome.rows, outcome.raw_key)
    return outcome


def _publish(accounting_no: str, validation) -> None:
    create_table_artifact(
        key=f"settlement-validation-{accounting_no}".lower().replace("_", "-"),
        table=[c.as_row() for c in validation.checks],
        description=f"Expectations of {validation.suite} on settlement report {accounting_no}: "
        + ("all passed" if validation.success else f"{len(validation.failed)} failed"),
    )
