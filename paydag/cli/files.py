"""The file commands: build a pain.001, parse a bank file or a settlement report, validate one,
reconcile one. They need neither Prefect nor the repository: an installed wheel runs them anywhere."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from paydag.cli.output import Exit, Invalid, JsonOption, MoveOption, NowOption, Unreadable, emit, failures
from paydag.formats.pain001 import Pain001Version


def open_input(file: Path) -> BinaryIO:
    try:
        return file.open("rb")
    except OSError as exc:
        raise Unreadable(f"{file}: {exc.strerror}") from None


def read_input(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise Unreadable(f"{file}: {exc.strerror}") from None


def build_pain001(
    payables: Annotated[Path, typer.Argument(help="Payables export: CSV (, ; or tab) or JSON Lines.")],
    company: Annotated[str, typer.Option("--company", help="Company id in the configuration.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the pain.001 file.")],
    format_: Annotated[
        Pain001Version, typer.Option("--format", help="pain.001.001.03 or .09.")
    ] = Pain001Version.V03,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Build the valid rows and list the invalid ones.")
    ] = False,
    today: Annotated[
        str | None, typer.Option("--today", help="Check execution dates as of this day (YYYY-MM-DD).")
    ] = None,
    now: NowOption = None,
    move_to_next_bank_day: MoveOption = False,
    as_json: JsonOption = False,
) -> None:
    """Validate a payables batch and build a pain.001 file that Swedish banks accept."""
    from paydag.bankdays import local_moment
    from paydag.send import build_payment_file
    from paydag.settings import ConfigurationError, load_settings

    doc: dict[str, Any] = {"command": "build-pain001", "payables": str(payables), "company": company}
    with failures(doc, as_json, unreadable=(KeyError, ValueError)):
        as_of = date.fromisoformat(today) if today else None
        settings = load_settings()
        moment = local_moment(now, settings.timezone) if now else None
        settings.company(company)  # not configured: unreadable (2), before any row is read
    with failures(doc, as_json, unreadable=(KeyError,), invalid=(ValueError, ConfigurationError)):
        built, report = build_payment_file(
            payables, settings=settings, company_id=company, out=out, version=format_, today=as_of,
            now=moment, allow_partial=allow_partial, move_to_next_bank_day=move_to_next_bank_day,
        )  # fmt: skip
    doc |= {"rows_read": report.rows_read, "errors": [e.as_dict() for e in report.errors],
            "warnings": [w.as_dict() for w in report.warnings], "invalid_payment_ids": report.invalid_payment_ids}  # fmt: skip
    issues = [f"row {e.row} payment {e.payment_id or '-'}: {e.field}: {e.reason}" for e in report.errors]
    warnings = [
        f"warning: row {w.row} payment {w.payment_id}: {w.field}: {w.reason}" for w in report.warnings
    ]
    if built is None:
        head = f"{payables}: {len(report.invalid_payment_ids)} invalid payment(s); nothing was built"
        emit(as_json, {**doc, "status": "invalid"}, [head, *issues, *warnings], Exit.INVALID)
    doc |= _built_document(built) | {"left_out": report.invalid_payment_ids}
    lines = [
        f"{built.path}: pain.001.001.{built.version.value} MsgId {built.msg_id}, "
        f"{built.nb_of_txs} payment(s), control sum {built.ctrl_sum:f}, XSD-valid",
        *(f"  {i['pmt_inf_id']}  {i['execution_date']}  {i['currency']}  {i['payment_type']:<12} "
          f"{i['nb_of_txs']:>6} tx  {i['ctrl_sum']}" for i in doc["payment_infos"]),
    ]  # fmt: skip
    if report.errors:
        lines += [f"left out {len(report.invalid_payment_ids)} invalid payment(s):", *issues]
    emit(as_json, doc, [*lines, *warnings])


def _built_document(built: Any) -> dict[str, Any]:
    return {
        "status": "built", "out": str(built.path), "format": f"pain.001.001.{built.version.value}",
        "msg_id": built.msg_id, "nb_of_txs": built.nb_of_txs, "ctrl_sum": f"{built.ctrl_sum:f}",
        "sha256": built.sha256,
        "payment_infos": [
            {"pmt_inf_id": i.pmt_inf_id, "execution_date": i.execution_date.isoformat(), "currency": i.currency,
             "payment_type": i.payment_type.value, "nb_of_txs": i.nb_of_txs, "ctrl_sum": f"{i.ctrl_sum:f}"}
            for i in built.payment_infos
        ],
    }  # fmt: skip


def parse(
    file: Annotated[Path, typer.Argument(help="A pain.002 or camt.054 file, or a settlement report.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the rows: .csv, .json or .parquet.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Detect a file's kind and version from its content, parse it, summarise it."""
    from paydag.formats.classify import FileKind, classify

    doc: dict[str, Any] = {"command": "parse", "file": str(file)}
    with failures(doc, as_json):
        data = read_input(file)
    kind = classify(data, file.name)
    doc |= {"kind": kind.kind.value, "version": kind.version, "label": kind.label}
    if kind.kind is FileKind.SETTLEMENT or file.suffix.lower() == ".xlsx" or data[:4] == b"PK\x03\x04":
        _parse_settlement(data, file, out, as_json, doc)
    if kind.kind not in (FileKind.PAIN002, FileKind.CAMT054, FileKind.CAMT053):
        reason = kind.reason or f"{file.name}: {kind.label} files are not parsed by this command"
        emit(as_json, {**doc, "status": "unreadable", "error": reason}, [f"error: {reason}"], Exit.UNREADABLE)
    with failures(doc, as_json):
        rows, facts = _bank_file_rows(kind.kind, data, file.name)
    doc |= facts
    counted = "status" if kind.kind is FileKind.PAIN002 else "credit_debit"
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r[counted])] = counts.get(str(r[counted]), 0) + 1
    doc |= {"rows": len(rows), "counts": counts}
    if out:
        write_rows(rows, out)
        doc["out"] = str(out)
    warnings = [*kind.warnings, *(r["warning"] for r in rows if r.get("warning"))]
    doc["warnings"] = warnings
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    lines = [f"{file}: {kind.label}, {len(rows)} row(s): {summary}", *(f"warning: {w}" for w in warnings)]
    lines += [
        f"  statement {s['id']} account {s['account']}: opening {s['opening_minor']} + credits {s['credits_minor']} "
        f"− debits {s['debits_minor']} = closing {s['closing_minor']} ({s['currency']}, minor units)"
        for s in doc.get("statements", [])
    ]
    lines += [_row_line(kind.kind, r) for r in rows[:50]] + ([f"rows written to {out}"] if out else [])
    emit(as_json, {**doc, "row_data": rows if not out else None}, lines)


def _row_line(kind: Any, r: dict[str, Any]) -> str:
    """One row as a person reads it off the file."""
    from paydag.formats.classify import FileKind

    if kind is FileKind.PAIN002:
        reason = f" {r['reason']}: {r['reason_text'] or ''}".rstrip() if r["reason"] else ""
        who = r["original_end_to_end_id"] or r["original_pmt_inf_id"] or r["original_msg_id"]
        return f"  {r['level']:<19} {who}  {r['status']}{reason}"
    source = f" ({r['amount_source']})" if r["amount_source"] != "transaction" else ""
    refs = " ".join(r["references"]) or r["end_to_end_id"] or r["free_text"] or ""
    return (f"  Ntry {r['entry']} TxDtls {r['transaction']}  {r['credit_debit']} {r['amount_minor']} {r['currency']}"
            f"{source}  entry {r['entry_amount_minor']}  {refs}")  # fmt: skip


def _bank_file_rows(kind: Any, data: bytes, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows and headline facts of a pain.002 or camt.054; a file that breaks its format is invalid (1)."""
    from paydag.formats.camt053 import parse_camt053
    from paydag.formats.camt054 import parse_camt054
    from paydag.formats.classify import FileKind
    from paydag.formats.pain002 import parse_pain002
    from paydag.formats.xml import FormatError

    try:
        if kind is FileKind.PAIN002:
            report = parse_pain002(data, name)
            return report.rows(), {
                "original_msg_id": report.original_msg_id, "group_status": report.group_status,
                "payment_infos": len(report.payment_infos), "transactions": report.transaction_count,
            }  # fmt: skip
        if kind is FileKind.CAMT053:
            statement = parse_camt053(data, name)
            facts = {"msg_id": statement.msg_id, "statements": [_statement(s) for s in statement.statements]}
            return [dataclasses.asdict(t) for t in statement.transactions], facts
        camt = parse_camt054(data, name)
    except FormatError as exc:
        raise Invalid(str(exc)) from exc
    facts = {
        "msg_id": camt.header.msg_id,
        "credit_transactions": len(camt.credit),
        "debit_transactions": len(camt.debit),
    }
    return [dataclasses.asdict(t) for t in camt.transactions], facts


def _statement(s: Any) -> dict[str, Any]:
    return {"id": s.id, "account": s.account, "currency": s.currency, "opening_minor": s.opening_minor,
            "credits_minor": s.credits_minor, "debits_minor": s.debits_minor, "closing_minor": s.closing_minor}  # fmt: skip


def _parse_settlement(data: bytes, file: Path, out: Path | None, as_json: bool, doc: dict[str, Any]) -> None:
    from paydag.formats.settlement import parse_settlement, service_totals
    from paydag.money import from_minor

    with failures(doc, as_json):  # a settlement report that cannot be read is unreadable (2)
        report = parse_settlement(data, file.name)
    per_service = service_totals(report.rows)
    sums = {c: f"{from_minor(m, c):f}" for c, m in report.currency_sums_minor.items()}
    doc |= {"kind": "settlement", "version": report.version, "accounting_no": report.accounting_no,
            "rows": len(report.rows), "sums": sums, "services": per_service, "reader": report.reader,
            "notes": list(report.notes)}  # fmt: skip
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        report.rows.to_parquet(out, index=False) if out.suffix == ".parquet" else report.rows.to_csv(
            out, index=False
        )
        doc["out"] = str(out)
    lines = [
        f"{file}: Swedbank Pay transaction list v{report.version}, {report.accounting_no}, "
        f"{len(report.rows)} row(s), " + ", ".join(f"{c} {v}" for c, v in sums.items()),
        *(f"  {s['currency']} {s['service']:<28} {s['rows']:>7} rows {s['sum']:>14}" for s in per_service),
        *(f"  note: {n}" for n in report.notes),
    ] + ([f"rows written to {out}"] if out else [])
    emit(as_json, doc, lines)


def write_rows(rows: list[dict[str, Any]], out: Path) -> None:
    """Rows as CSV, JSON or Parquet, chosen by the file's suffix."""
    import csv

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".json":
        out.write_text(json.dumps(rows, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    elif out.suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(out, index=False)
    else:
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
            writer.writeheader()
            writer.writerows(rows)


def validate(
    file: Annotated[Path, typer.Argument(help="A Swedbank Pay transaction list (XML, v1 or v2).")],
    as_json: JsonOption = False,
) -> None:
    """Check a settlement report with its expectation suite: 0 valid, 1 invalid (every failed check), 2 unreadable."""
    from paydag.formats.settlement import parse_settlement
    from paydag.validation import preload, validate_settlement

    doc: dict[str, Any] = {"command": "validate", "file": str(file)}
    importing = preload()
    with failures(doc, as_json):
        with open_input(file) as f:  # given a file, parse_settlement frees its bytes once read
            report = parse_settlement(f, file.name)
        importing.join()  # its thread gone: the validation may fork (`bulk.side_by_side`)
        result = validate_settlement(report)
    doc |= {"accounting_no": report.accounting_no, "suite": result.suite, "valid": result.success,
            "checks": [c.as_row() for c in result.checks]}  # fmt: skip
    if result.success:
        emit(
            as_json,
            doc,
            [f"{file}: {report.accounting_no} passes all {len(result.checks)} checks of {result.suite}"],
        )
    lines = [
        f"{file}: {report.accounting_no} fails {len(result.failed)} of {len(result.checks)} checks of {result.suite}:"
    ]
    for c in result.failed:
        unexpected = f", {c.unexpected_count} unexpected row(s), first {', '.join(c.first_unexpected)}"
        lines.append(
            f"  {c.expectation} ({c.column or 'table'}): observed {c.observed}"
            + (unexpected if c.unexpected_count else "") + (f" — {c.reason}" if c.reason else "")
        )  # fmt: skip
    emit(as_json, doc, lines, Exit.INVALID)


def reconcile(
    settlement: Annotated[
        list[Path], typer.Option("--settlement", help="Settlement report(s): the XML or curated Parquet.")
    ],
    captures: Annotated[
        Path, typer.Option("--captures", help="Captures export (payments API shape), CSV or Parquet.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory for the report (Parquet and CSV).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day the ages are counted to (YYYY-MM-DD).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Reconcile settlement rows with captured transactions: every state, with counts."""
    from paydag.reconcile import (
        OPEN_SETTLEMENT_STATES,
        read_captures,
        reconcile_settlement,
        settlement_rows,
        state_counts,
        write_report,
    )  # fmt: skip
    from paydag.settings import load_settings

    doc: dict[str, Any] = {
        "command": "reconcile",
        "settlement": [str(p) for p in settlement],
        "captures": str(captures),
    }
    with failures(doc, as_json, unreadable=(OSError, ValueError)):
        rows = settlement_rows(settlement)
        exported = read_captures(captures)
        day = date.fromisoformat(as_of) if as_of else load_settings().today()
    result = reconcile_settlement(rows, exported, as_of=day)
    counts = state_counts(result)
    doc |= {"as_of": day.isoformat(), "rows": len(result), "counts": counts}
    if out:
        doc["out"] = [str(p) for p in write_report(result, out, day)]
    open_items = result[result["state"].isin(OPEN_SETTLEMENT_STATES)].head(1000)
    doc["open"] = open_items.astype(object).where(open_items.notna(), None).to_dict("records")
    lines = [
        f"{len(result)} row(s) reconciled as of {day}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    ]
    lines += [
        f"  {r.state:<25} {r.transaction_no}  settled {r.settled_minor}  captured {r.captured_minor}"
        for r in open_items.head(50).itertuples()
    ]
    emit(as_json, doc, lines + ([f"report written to {out}"] if out else []))
