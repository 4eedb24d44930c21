"""The commands over the payment register: status, unlock, reconcile-incoming."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from paydag.cli.output import Exit, JsonOption, emit, failures


class WorkChoice(StrEnum):
    """The claims a run takes (paydag.register.claims.Work), named again here so that the command
    line starts without loading the register and its database driver (half a second); a test holds
    the two equal."""

    POLL = "poll"
    SEND = "send"


def status(
    company: Annotated[str | None, typer.Option("--company")] = None,
    awaiting: Annotated[
        bool, typer.Option("--awaiting", help="Only payments without a final state.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Batches, their files and payments with their states, from the payment register."""
    from paydag.bankdays import bank_days_before
    from paydag.register.claims import Work
    from paydag.register.page import payments_page
    from paydag.resources import open_register
    from paydag.settings import load_settings

    doc: dict[str, Any] = {"command": "status"}
    with failures(doc, as_json, unreadable=(ValueError,)):
        settings = load_settings()
        register = open_register(settings)
    try:
        now = register.claims.now()
        companies = [company] if company else sorted(settings.companies)
        claims = [register.claims.claim(work, c) for c in companies for work in Work]
        batches = register.batches(company)
        approvals = {b.msg_id: register.approvals(b.msg_id) for b in batches}
        cutoff = bank_days_before(settings.today(), settings.awaiting_bank_days)
        if awaiting:
            payments = register.awaiting_return_report(cutoff, company)
        else:
            payments = register.payments(company_id=company)
        since = datetime.now(UTC) - timedelta(days=settings.payments_page_days)
        pages = [payments_page(c, register.recent_payments(c, since), since=since.date(), awaiting_cutoff=cutoff)
                 for c in companies]  # fmt: skip
    finally:
        register.close()
    shown = [p.as_row() for p in payments]
    doc |= {
        "batches": [
            b.as_row()
            | {
                "approvals": [
                    {"decision": e.decision.value, "by": e.by, "comment": e.comment, "at": e.at.isoformat()}
                    for e in approvals[b.msg_id]
                ]
            }
            for b in batches
        ],
        "payments": shown,
        "claims": [c.as_dict() for c in claims],
        "pages": [{"company": pg.company, "since": pg.since.isoformat(), "totals": pg.totals,
                   "needs_someone": pg.needs_someone} for pg in pages],  # the payments page's summary
    }  # fmt: skip
    lines = [f"{c.company} {c.work} claim: {c.describe(now)}" for c in claims]
    lines += [
        line
        for b in doc["batches"]
        for line in (
            f"{b['msg_id']}  {b['company']:<10} {b['state']:<8} {b['payments'] or 0:>6} payments  {b['ctrl_sum'] or '':>14}"
            f"  file {b['provider_file_id'] or '-'} {b['file_state'] or ''}",
            *(f"  approval: {e.describe()}" for e in approvals[b["msg_id"]]),
        )
    ] or ["no batches"]
    lines += [
        f"  {p['payment_id']:<14} {p['state']:<9} {p['execution_date']} {p['amount']:>12} {p['currency']} "
        f"{p['account']:<22} {p['creditor']}" + (f"  ({p['reason']})" if p["reason"] else "")
        for p in shown
    ]
    for pg in pages:  # what the payments page's summary says
        lines.append(f"{pg.company} since {pg.since}: " + (", ".join(
            f"{t['payments']} {t['state']} {t['amount']} {t['currency']}" for t in pg.totals) or "no batches"))  # fmt: skip
        lines += [f"  needs someone: {n['payment_id']} ({n['batch']}): {n['why']}" for n in pg.needs_someone]
    emit(as_json, doc, lines)


def unlock(
    company: Annotated[str, typer.Option("--company", help="Company id in the configuration.")],
    what: Annotated[WorkChoice, typer.Option("--what", help="The claim: poll or send.")],
    yes: Annotated[bool, typer.Option("--yes", help="Clear without asking.")] = False,
    by: Annotated[
        str, typer.Option("--as", help="Who clears it (recorded); this user on this host if left out.")
    ] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Clear a company's poll or send claim that a stuck run holds (after asking), recorded as an event."""
    import getpass
    import socket

    from paydag.cli.runtime import settings_for
    from paydag.register.claims import Work
    from paydag.resources import open_register

    work = Work(what.value)
    doc: dict[str, Any] = {"command": "unlock", "company": company, "what": work.value}
    with failures(doc, as_json, unreadable=(ValueError,)):
        register = open_register(settings_for(company))
    try:
        shown = register.claims.claim(work, company)
        if shown.holder is None:
            emit(
                as_json,
                {**doc, "status": "free"},
                [f"the {what} claim of {company} is free: nothing to clear"],
            )
        print(f"the {what} claim of {company} is {shown.describe(register.claims.now())}", file=sys.stderr)
        if not (yes or _agreed("Clear it? A run still working would stop before its next step")):
            emit(
                as_json, {**doc, "status": "kept", "claim": shown.as_dict()}, ["left as it is"], Exit.INVALID
            )
        who = by or f"{getpass.getuser()} on {socket.gethostname()}"
        cleared = register.claims.clear(work, company, by=who, reason=reason or None, expected=shown)
    finally:
        register.close()
    if cleared is None:
        emit(as_json, {**doc, "status": "changed"}, [f"the {what} claim of {company} changed hands meanwhile: "
             "nothing cleared; look again with paydag status"], Exit.FAILED)  # fmt: skip
    emit(as_json, {**doc, "status": "cleared", "claim": cleared.as_dict(), "by": who},
         [f"cleared the {what} claim of {company} (held by {cleared.holder}), recorded as done by {who}"])  # fmt: skip


def approve(
    batch: Annotated[str, typer.Argument(help="The batch's MsgId.")],
    by: Annotated[str, typer.Option("--as", help="Who approves (one of the company's approvers).")],
    comment: Annotated[str, typer.Option("--comment", help="Why (recorded).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Approve a batch that waits for approval: its waiting run resumes, or the next send delivers it."""
    _decide(batch, by, approve_it=True, comment=comment, as_json=as_json)


def reject(
    batch: Annotated[str, typer.Argument(help="The batch's MsgId.")],
    by: Annotated[str, typer.Option("--as", help="Who rejects (one of the company's approvers).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    as_json: JsonOption = False,
) -> None:
    """Reject a batch that waits for approval: it is cancelled and never sent."""
    _decide(batch, by, approve_it=False, comment=reason, as_json=as_json)


def _decide(msg_id: str, by: str, *, approve_it: bool, comment: str, as_json: bool) -> None:
    from paydag.register import BatchState, Decision, RegisterError
    from paydag.resources import open_register, open_store
    from paydag.send import approval
    from paydag.settings import load_settings

    doc: dict[str, Any] = {"command": "approve" if approve_it else "reject", "batch": msg_id, "by": by}
    with failures(doc, as_json, unreadable=(ValueError, RegisterError)):
        settings = load_settings()
        register = open_register(settings)
    try:
        with failures(doc, as_json, unreadable=(RegisterError,)):
            record = register.batch(msg_id)
            if record is None:
                raise RegisterError(f"no batch {msg_id} in the register")
            waiting = [e.flow_run_id for e in register.approvals(msg_id) if e.decision is Decision.REQUESTED]
        if record.state is not BatchState.AWAITING_APPROVAL:
            emit(as_json, {**doc, "status": "not-awaiting", "state": record.state.value},
                 [f"batch {msg_id} is {record.state.value}, not awaiting approval: nothing decided"], Exit.INVALID)  # fmt: skip
        company = settings.company(record.company)
        refused = approval.refused(register, company, record.company, msg_id, by)
        if refused:
            emit(
                as_json, {**doc, "status": "refused", "error": refused}, [f"refused: {refused}"], Exit.INVALID
            )
        verb = "approved" if approve_it else "rejected"
        run_id = next((r for r in reversed(waiting) if r), None)
        if run_id and _resume(run_id, by, approve_it, comment):  # the run records it (the same rules)
            emit(as_json, {**doc, "status": verb, "flow_run": run_id},
                 [f"{verb} batch {msg_id} as {by}: its waiting run {run_id} resumes and records it"])  # fmt: skip
        state, _ = approval.decide(register, company, record.company, msg_id, by, approve_it, comment,
                                   raw_store=open_store(settings))  # fmt: skip
    finally:
        register.close()
    lines = [f"batch {msg_id} {verb} by {by}: {state.value}"]
    if state is BatchState.BUILT:
        lines.append(
            f"next: paydag send PAYABLES --company {record.company} delivers it (the same payables file)"
        )
    emit(as_json, {**doc, "status": verb, "state": state.value}, lines)


def _resume(run_id: str, by: str, approve_it: bool, comment: str) -> bool:
    """Resume the run waiting for this decision, through the Prefect API PREFECT_API_URL names; False
    when there is none, or the run no longer waits (the decision is then recorded here)."""
    import os

    if not os.environ.get("PREFECT_API_URL"):
        return False
    from uuid import UUID

    from prefect.exceptions import PrefectException
    from prefect.flow_runs import resume_flow_run

    try:
        resume_flow_run(UUID(run_id), run_input={"approver": by, "approve": approve_it, "comment": comment})
    except (PrefectException, RuntimeError, ValueError):
        return False
    return True


def _agreed(question: str) -> bool:
    """A yes to `question` on the terminal; no answer (no terminal, end of input) is a no."""
    import click

    try:
        return typer.confirm(question, default=False, err=True)
    except click.exceptions.Abort:
        return False


def _keep_bills(store: Any, company: str, given: Path | None, bills: Any, label: str, home: Path) -> str:
    """The bills this run reads, kept in the raw store (a replay of the day reads the same): their key."""
    import tempfile

    from paydag.reconcile import BILLS_READER, bills_csv
    from paydag.storage import keep_input

    if given is not None:
        return keep_input(store, company, given, reader=BILLS_READER, label=label).key
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as workdir:
        path = Path(workdir) / "synced-payex-bills.csv"
        path.write_bytes(bills_csv(bills))
        return keep_input(store, company, path, reader=BILLS_READER, label=label).key


def reconcile_incoming(
    bills: Annotated[
        Path | None,
        typer.Option(
            "--bills",
            help="Open bills: CSV with bill_no, payment_reference, amount; the synced PayEx bills if left out.",
        ),
    ] = None,
    company: Annotated[str, typer.Option("--company")] = "demo",
    as_json: JsonOption = False,
) -> None:
    """Incoming payments in the register (camt.054 credit) against open bills by OCR."""
    from paydag.cli.runtime import settings_for
    from paydag.reconcile import read_bills, reconcile_incoming_recorded
    from paydag.resources import open_register, open_store
    from paydag.sync import bills_for_reconciliation

    doc: dict[str, Any] = {
        "command": "reconcile-incoming",
        "bills": str(bills or "synced"),
        "company": company,
    }
    with failures(doc, as_json, unreadable=(ValueError,)):
        settings = settings_for(company)
        open_bills = read_bills(bills) if bills else bills_for_reconciliation(settings.curated_dir)
        source = bills.name if bills else "the synced PayEx bills"
        store = open_store(settings)
        kept = _keep_bills(store, company, bills, open_bills, source, settings.home)
        register = open_register(settings)
    try:
        done = reconcile_incoming_recorded(
            register, store, open_bills, company_id=company, bills_source=source, now=datetime.now(UTC),
            bills_key=kept,
        )  # fmt: skip
    finally:
        register.close()
    update, result = done.update, done.report
    doc["exceptions"] = {
        "opened": update.opened,
        "still_open": update.still_open,
        "resolved": update.resolved,
    }
    counts = {str(k): int(v) for k, v in result["state"].value_counts().sort_index().items()}
    rows = result[["ocr", "bill_no", "amount_minor", "booking_date", "state", "outstanding_minor"]]
    doc |= {"counts": counts, "rows": rows.astype(object).where(rows.notna(), None).to_dict("records")}
    lines = [
        f"{len(result)} incoming payment(s): " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none")
    ]
    lines += [f"  {r.ocr}  {r.amount_minor:>10}  {r.state:<18} bill {r.bill_no}" for r in rows.itertuples()]
    emit(as_json, doc, lines)


def replay(
    day: Annotated[
        str,
        typer.Option("--date", help="The day to replay, YYYY-MM-DD (the raw store's keys are dated in UTC)."),
    ],
    company: Annotated[str | None, typer.Option("--company", help="Only this company's files.")] = None,
    into: Annotated[
        str | None,
        typer.Option(
            "--into", help="The register to replay into (a database URL); a fresh SQLite when left out."
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Replay into a scratch register and report every difference from the live one; nothing is written.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Re-apply every file the raw store kept on a day, in the order they came, through the same steps."""
    from datetime import date

    from paydag.replay import replay as replay_day
    from paydag.settings import load_settings

    doc: dict[str, Any] = {"command": "replay", "date": day, "company": company, "verify": verify}
    with failures(doc, as_json, unreadable=(ValueError,)):
        if verify and into:
            raise ValueError("--verify replays into a scratch register: leave out --into")
        when = date.fromisoformat(day)
        report = replay_day(load_settings(), when, company=company, into=into, verify=verify)
    doc |= {
        "into": report.into,
        "counts": report.counts(),
        "steps": [vars(s) for s in report.steps],
        "differences": [d.shown() for d in report.differences],
    }
    lines = [f"replayed {len(report.steps)} object(s) kept on {day} into {report.into}: "
             + (", ".join(f"{n} {w}" for w, n in report.counts().items()) or "nothing kept that day")]  # fmt: skip
    lines += [f"  {s.stored_at}  {s.what:<28} {s.outcome:<12} {s.detail or ''}" for s in report.steps]
    lines += [f"{len(report.differences)} difference(s) from the live register"]
    lines += [f"  {d.describe()}" for d in report.differences[:200]]
    bad = report.failed or (verify and report.differences)
    doc["status"] = "differences" if report.differences else ("failed" if report.failed else "ok")
    emit(as_json, doc, lines, Exit.INVALID if bad else Exit.OK)


def reconcile_statement(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="camt.053 files; the statements the register has received when left out."),
    ] = None,
    company: Annotated[str, typer.Option("--company")] = "demo",
    as_json: JsonOption = False,
) -> None:
    """Bank statements (camt.053) against the register: entries to payments, incoming payments and
    settlement payouts; booked payments missing from them; balance continuity. Exceptions carried forward."""
    from paydag.formats.camt053 import parse_camt053
    from paydag.formats.xml import FormatError
    from paydag.reconcile import STATEMENTS_READER, KeptStatement, received_statements, reconcile_recorded
    from paydag.resources import open_register, open_store
    from paydag.settings import load_settings
    from paydag.storage import keep_input

    doc: dict[str, Any] = {"command": "reconcile-statement", "company": company,
                           "files": [str(f) for f in files or []]}  # fmt: skip
    with failures(doc, as_json, unreadable=(ValueError, OSError), invalid=(FormatError,)):
        settings = load_settings()
        given = [
            KeptStatement(f.name, st)
            for f in files or []
            for st in parse_camt053(f.read_bytes(), f.name).statements
        ]
        store = open_store(settings)
        inputs = tuple(keep_input(store, company, f, reader=STATEMENTS_READER).key for f in files or [])
        register = open_register(settings)
    try:
        register.ensure_company(company, settings.company(company))
        if files:
            register.record_statements(company, [k.statement for k in given])
            statements = given
        else:
            statements, inputs = received_statements(register, store, company)
        result, update = reconcile_recorded(
            register, store, company, statements, inputs, now=datetime.now(UTC), label="by hand"
        )
    finally:
        register.close()
    counts = result.counts()
    doc |= {
        "statements": [k.name for k in statements],
        "counts": counts,
        "entries": [e.as_row() for e in result.entries],
        "missing_payments": [p.as_row() for p in result.missing_payments],
        "balance_breaks": [b.describe() for b in result.breaks],
        "exceptions": {kind: vars(u) for kind, u in vars(update).items()},
    }
    lines = [f"{len(result.entries)} statement row(s) in {len(statements)} statement(s): "
             + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none")]  # fmt: skip
    lines += [f"  {e.booking_date}  {e.credit_debit}  {e.amount_minor:>12}  {e.state.value:<27} {e.matched or ''}"
              f"{f' ({e.how})' if e.how else ''}" for e in result.entries]  # fmt: skip
    lines += [f"  booked, not on the statement: {p.payment_id} {p.amount_minor} {p.currency} {p.execution_date}"
              for p in result.missing_payments]  # fmt: skip
    lines += [f"  balance break: {b.describe()}" for b in result.breaks]
    emit(as_json, doc, lines)
