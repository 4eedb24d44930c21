"""Replaying a day from the raw store: every object kept that day, in the order it was kept, through the
same steps that first took it in, into a register of the caller's choosing.

What is replayed, by the `source` each object was kept with:
- the batch journal (`paydag.storage.journal`): a batch built from its payments (its pain.001 beside
  it), approval asked for and decided, the provider's file id and status;
- return files a poll received: stored, classified, parsed and applied as the poll does (a settlement
  report among them is then ingested, as the poll's event triggers it);
- settlement reports from the inbox: parsed, validated and curated (into the replay's own folder);
- the record of each reconciliation run (`paydag.storage.journal.ReconciliationRun`): the settlement
  reports against the captures export it kept, the incoming payments against the bills it kept, the
  statements a poll applied (or that were given by hand) against the register, each as of its day and
  moment, exceptions carried forward. The kept inputs themselves are listed as kept.
Not replayed, and listed as such: Data Docs and quarantined copies (what a step wrote, not read), the
synced PayEx accounts (the register holds none of them).

The live raw store is read and never written: a put of what it holds already returns its object (the
same key: the original time is given), and anything new (this replay's Data Docs) goes to a scratch
store in the replay's folder. Rent-ledger copies are not made again.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from paydag import ingest, poll, reconcile
from paydag.formats.camt053 import parse_camt053
from paydag.payables.batch import AccountType, Payment, PaymentType
from paydag.register import Decision, Register
from paydag.settings import Company
from paydag.storage import Direction, LocalRawStore, RawObject, RawStore, name_in_key
from paydag.storage.journal import RUN_SOURCE, BatchEvent, ReconciliationRun, read_record, read_run
from paydag.storage.journal import SOURCE as JOURNAL
from paydag.storage.raw import describe

SEND_SOURCE = "send-payment-file"  # the raw store's `source` of a built pain.001
INPUT_READERS = {  # a reconciliation's kept input, by its reader: what it is
    reconcile.CAPTURES_READER: "captures export", reconcile.BILLS_READER: "bills",
    reconcile.STATEMENTS_READER: "bank statement given by hand",
}  # fmt: skip
RUN_NAMES = {  # a reconciliation run's record, by its reconciliation
    reconcile.CAPTURES_READER: "settlement reconciliation", reconcile.BILLS_READER: "incoming reconciliation",
    reconcile.STATEMENTS_READER: "statement reconciliation",
}  # fmt: skip
_ORDER = {
    BatchEvent.BUILT: 0,
    BatchEvent.APPROVAL_REQUESTED: 1,
    BatchEvent.DECIDED: 2,
    BatchEvent.SENT: 3,
    BatchEvent.STATUS: 4,
}  # fmt: skip  (within one second, a batch's steps in the order they happen)


class ReplayStore:
    """The live store read, never written; a put it does not hold goes to `scratch`."""

    def __init__(self, live: RawStore, scratch: RawStore) -> None:
        self.live, self.scratch, self.url = live, scratch, live.url

    def put(self, direction: Direction, company: str, name: str, data: bytes, *, source: str,
            content_type: str = "application/octet-stream", provider_id: str | None = None,
            at: datetime | None = None) -> RawObject:  # fmt: skip
        obj = describe(direction, company, name, data, source, content_type, provider_id, at)
        held = self.live.head(obj.key)
        if held is not None:
            return held
        return self.scratch.put(direction, company, name, data, source=source, content_type=content_type,
                                provider_id=provider_id, at=at)  # fmt: skip

    def read(self, key: str) -> bytes:
        return self.scratch.read(key) if self.scratch.exists(key) else self.live.read(key)

    def head(self, key: str) -> RawObject | None:
        return self.live.head(key) or self.scratch.head(key)

    def exists(self, key: str) -> bool:
        return self.live.exists(key) or self.scratch.exists(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        yield from self.live.list(prefix)


@dataclass(frozen=True)
class Replayed:
    """One kept object and what its replay did."""

    key: str
    stored_at: str
    what: str  # batch built, return file, settlement report, captures export, …
    outcome: str  # what the step said (a state, "skipped", "failed")
    detail: str | None = None


def day_objects(store: RawStore, day: date, company: str | None = None) -> list[RawObject]:
    """Every object kept on `day` (UTC, as the keys are dated), quarantined copies aside, in the order
    they were kept."""
    stamp = f"{day:%Y/%m/%d}/"
    found: list[RawObject] = []
    for direction in (Direction.OUTGOING, Direction.INCOMING):
        for key in store.list(f"{direction.value}/"):
            parts = key.split("/")
            if "/".join(parts[2:5]) + "/" != stamp:
                continue
            obj = store.head(key)
            if obj is not None and (company is None or _company_of(obj) in (company, None)):
                found.append(obj)
    return sorted(found, key=lambda o: (_when(o), _rank(o), o.key))


def _when(obj: RawObject) -> datetime:
    return datetime.fromisoformat(obj.stored_at) if obj.stored_at else datetime.min.replace(tzinfo=UTC)


def _rank(obj: RawObject) -> int:
    """Within one millisecond: a batch's steps in order, a run record after what it read."""
    if obj.source == JOURNAL:
        return _ORDER[BatchEvent(obj.key.rsplit(".", 2)[-2])]
    return {SEND_SOURCE: 0, RUN_SOURCE: 10}.get(obj.source, 9)


def _company_of(obj: RawObject) -> str | None:
    """The company an object belongs to; None where the key does not say (a captures export)."""
    owner = obj.key.split("/")[1]
    if obj.source.startswith(f"{ingest.SOURCE} ("):
        return obj.source.removeprefix(f"{ingest.SOURCE} (").rstrip(")")
    return None if owner == "captures" else owner


@dataclass
class DayReplay:
    """The steps of a day, applied to `register`; the live store read through `store` (a ReplayStore)."""

    store: RawStore
    register: Register
    companies: Mapping[str, Company]
    workdir: Path
    timezone: str = "Europe/Stockholm"
    default_company: str = "demo"
    curated: dict[str, Path] = dataclasses.field(default_factory=dict)  # the day's reports, where curated

    def run(self, objects: list[RawObject]) -> list[Replayed]:
        done: list[Replayed] = []
        built: set[str] = set()
        for obj in objects:
            try:
                done.append(self._one(obj, built))
            except Exception as exc:  # noted with the object; the rest of the day goes on
                done.append(
                    Replayed(obj.key, obj.stored_at, _what(obj), "failed", f"{type(exc).__name__}: {exc}")
                )
        unregistered = "no batch record beside it (kept before batches were journalled): not registered"
        return [
            dataclasses.replace(r, outcome="skipped", detail=unregistered)
            if r.what == "pain.001" and r.key not in built
            else r
            for r in done
        ]

    def _one(self, obj: RawObject, built: set[str]) -> Replayed:
        at = datetime.fromisoformat(obj.stored_at)
        what = _what(obj)
        if obj.source == JOURNAL:
            return self._journal(obj, built)
        if obj.source == SEND_SOURCE:
            return Replayed(obj.key, obj.stored_at, what, "kept")
        if obj.source == poll.SOURCE:
            company = obj.key.split("/")[1]
            self._ensure(company)
            outcome = poll.take_in(
                self.store.read(obj.key), name_in_key(obj.key), provider_id=obj.provider_id, company_id=company,
                raw_store=self.store, register=self.register, ledger=None, at=at,
            )  # fmt: skip
            settlement = outcome.kind == ingest.KIND
            if (
                outcome.state is poll.DocumentState.HANDED_OVER or settlement
            ):  # the poll's event starts the ingest
                return self._settlement(obj, company, what=f"{what} → settlement report")
            detail = f"{outcome.changed} payment(s) changed, {outcome.incoming} incoming" + (
                f"; {outcome.reason}" if outcome.reason else ""
            )
            return Replayed(obj.key, obj.stored_at, what, outcome.state.value, detail)
        if obj.source.startswith(ingest.SOURCE) and obj.source != ingest.DOCS_SOURCE:
            return self._settlement(obj, _company_of(obj) or self.default_company, what=what)
        if obj.source == RUN_SOURCE:
            return self._reconciliation(obj)
        if obj.source.startswith(tuple(f"{reader}: " for reader in INPUT_READERS)):
            return Replayed(obj.key, obj.stored_at, what, "kept", "reconciled at each run recorded after it")
        return Replayed(obj.key, obj.stored_at, what, "skipped", f"kept by {obj.source}: nothing to replay")

    def _ensure(self, company: str) -> None:
        if company in self.companies:
            self.register.ensure_company(company, self.companies[company])

    def _journal(self, obj: RawObject, built: set[str]) -> Replayed:
        rec = read_record(self.store, obj)
        body, msg_id, r = rec.body, rec.msg_id, self.register
        if rec.event is BatchEvent.BUILT:
            self._ensure(rec.company_id)
            r.begin_batch(msg_id, rec.company_id, body["source"], datetime.fromisoformat(body["created_at"]))
            file = self.store.head(body["file_key"])
            if file is None:
                raise FileNotFoundError(f"{body['file_key']}: the batch's file is not in the raw store")
            payments = [_payment(p) for p in body["payments"]]
            state = r.record_built(
                msg_id, raw=file, name=body["name"], file_format=body["file_format"], nb_of_txs=body["nb_of_txs"],
                ctrl_sum=body["ctrl_sum"],
                payments=((p, d["end_to_end_id"], d["pmt_inf_id"]) for p, d in zip(payments, body["payments"], strict=True)),
            ).state  # fmt: skip
            built.add(body["file_key"])
            return Replayed(
                obj.key, obj.stored_at, "batch built", state.value, f"{msg_id}: {len(payments)} payment(s)"
            )
        if rec.event is BatchEvent.APPROVAL_REQUESTED:
            r.request_approval(msg_id, body["by"], flow_run_id=body.get("flow_run_id"))
        elif rec.event is BatchEvent.DECIDED:
            r.decide(msg_id, Decision(body["decision"]), body["by"], body.get("comment"))
        elif rec.event is BatchEvent.SENT:
            r.record_sent(msg_id, body["provider_file_id"], detail=body.get("detail"))
        else:
            r.record_file_status(msg_id, body["state"], body.get("detail"))
        state = r.batch(msg_id)
        return Replayed(
            obj.key, obj.stored_at, f"batch {rec.event.value}", state.state.value if state else "?", msg_id
        )

    def _settlement(self, obj: RawObject, company: str, *, what: str) -> Replayed:
        self._ensure(company)
        archived = ingest.kept(obj.key, company_id=company, raw_store=self.store, register=self.register)
        try:
            outcome = ingest.curate_once(
                self.store.read(obj.key), archived, raw_store=self.store, register=self.register,
                curated_dir=self.workdir / "curated", docs_dir=self.workdir / "data-docs",
            )  # fmt: skip
        except ingest.SettlementInvalid as exc:
            return Replayed(obj.key, obj.stored_at, what, "QUARANTINED", str(exc))
        if outcome.curated_path:
            self.curated[outcome.accounting_no] = Path(outcome.curated_path)
        return Replayed(
            obj.key,
            obj.stored_at,
            what,
            outcome.state.value,
            f"{outcome.accounting_no}: {outcome.rows} row(s)",
        )

    def _reconciliation(self, obj: RawObject) -> Replayed:
        """A reconciliation run as it was recorded: its inputs, its day and its moment."""
        run = read_run(self.store, obj)
        replay = {
            reconcile.BILLS_READER: self._incoming_run,
            reconcile.STATEMENTS_READER: self._statement_run,
        }
        outcome, detail = replay.get(run.reconciliation, self._settlement_run)(run, obj.key.split("/")[1])
        return Replayed(obj.key, obj.stored_at, _what(obj), outcome, detail)

    def _incoming_run(self, run: ReconciliationRun, company: str) -> tuple[str, str]:
        bills = reconcile.read_bills(self._as_file(run.inputs[0]))
        done = reconcile.reconcile_incoming_payments(
            self.register, bills, company_id=company, bills_source=run.label, now=run.at
        )
        return (
            "reconciled",
            f"{len(done.report)} incoming payment(s); {done.update.opened} exception(s) opened",
        )

    def _statement_run(self, run: ReconciliationRun, company: str) -> tuple[str, str]:
        self._ensure(company)
        result, _update = reconcile.reconcile_statements(
            self.register, company, self._statements(company, run.inputs), now=run.at
        )
        return "reconciled", f"{len(run.inputs)} file(s): {result.counts()}"

    def _settlement_run(self, run: ReconciliationRun, _owner: str) -> tuple[str, str]:
        # the reports this replay curated, of those the run reconciled (another day's are not replayed)
        folder = next(iter(self.curated.values())).parent.parent if self.curated else self.workdir / "curated"
        wanted = sorted(run.reports) if run.reports is not None else sorted(self.curated)
        here = [n for n in wanted if n in self.curated]
        if not here:
            return "skipped", f"{', '.join(wanted) or 'no report'}: not ingested this day"
        rows, earlier, names = reconcile.curated_settlement(folder, here)
        captures = reconcile.read_captures(self._as_file(run.inputs[0]))
        day = run.as_of or run.at.astimezone(ZoneInfo(self.timezone)).date()
        report = reconcile.reconcile_settlement(rows, captures, as_of=day, earlier_settlement=earlier)
        update = reconcile.carry_exceptions_forward(self.register, report, run.label, run.at)
        missing = sorted(set(wanted) - set(here))
        return "reconciled", (
            f"{', '.join(names)} as of {day}: {reconcile.state_counts(report)}; {update.opened} exception(s) opened"
            + (f"; not ingested this day, left out: {', '.join(missing)}" if missing else "")
        )

    def _statements(self, company: str, keys: tuple[str, ...]) -> list[reconcile.KeptStatement]:
        """The statements a run read: received camt.053 files, or files given by hand (kept as read)."""
        received = {f.raw_key: f for f in self.register.files_of_kind(company, "camt.053")}
        out: list[reconcile.KeptStatement] = []
        for key in keys:
            if key in received:
                out += reconcile.kept_statements(self.store, [received[key]])
                continue
            name = name_in_key(key)
            statements = parse_camt053(self.store.read(key), name).statements
            self.register.record_statements(company, statements)
            out += [reconcile.KeptStatement(name, st) for st in statements]
        return out

    def _as_file(self, key: str) -> Path:
        folder = Path(tempfile.mkdtemp(dir=self.workdir))
        path = folder / name_in_key(key)
        path.write_bytes(self.store.read(key))
        return path


def _what(obj: RawObject) -> str:
    if obj.source == JOURNAL:
        return f"batch {obj.key.rsplit('.', 2)[-2]}"
    if obj.source == RUN_SOURCE:
        return RUN_NAMES.get(name_in_key(obj.key).removesuffix(".run.json"), "reconciliation")
    named = {SEND_SOURCE: "pain.001", poll.SOURCE: "return file", ingest.DOCS_SOURCE: "data docs"}
    if obj.source in named:
        return named[obj.source]
    if obj.source.startswith(ingest.SOURCE):
        return "settlement report"
    for reader, what in INPUT_READERS.items():
        if obj.source.startswith(f"{reader}: "):
            return what
    return obj.source


def _payment(d: Mapping[str, object]) -> Payment:
    """A payment as the batch record keeps it (`journal.as_body`)."""
    names = set(Payment._fields)
    values = {k: v for k, v in d.items() if k in names}
    values |= {
        "account_type": AccountType(values["account_type"]), "payment_type": PaymentType(values["payment_type"]),
        "amount": Decimal(str(values["amount"])), "execution_date": date.fromisoformat(str(values["execution_date"])),
        "flags": tuple(values.get("flags") or ()),
    }  # fmt: skip
    return Payment(**values)  # type: ignore[arg-type]


def replay_day(
    day: date,
    *,
    live: RawStore,
    register: Register,
    companies: Mapping[str, Company],
    workdir: Path,
    company: str | None = None,
    timezone: str = "Europe/Stockholm",
) -> tuple[list[RawObject], list[Replayed]]:
    """Replay `day` into `register`: the objects read, and what each did."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    store = ReplayStore(live, LocalRawStore(workdir / "raw"))
    objects = day_objects(live, day, company)
    replay = DayReplay(store, register, companies, workdir, timezone, company or "demo")
    return objects, replay.run(objects)


def start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
