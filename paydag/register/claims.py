"""Claims: one poll and one send per company at a time, held as leases in the register.

Why the register and not Prefect's concurrency limits: a Prefect slot's lease lives where the Prefect
server keeps it (in its memory by default); a holder killed together with its temporary server, or a
server restarted while a run holds a slot, leaves the slot taken for good, and every later run of that
company waits for ever. The register is what every worker already shares (PostgreSQL in production),
it outlives any Prefect server, and operators read and clear it with `paydag status` and
`paydag unlock`.

A claim is a lease. Its holder renews it from a background thread (every quarter of the lease) while
it works; a holder that dies (SIGKILL, a lost worker, a host without power) stops renewing, its lease
runs out by itself, and the next run takes it over and says from whom. Every taking gets a new token:
a holder that lost its claim (its lease ran out and another run took it, or an operator cleared it)
learns so at its next renewal, and `HeldClaim.check()` raises before it does what must not happen
twice at once (a poll's acknowledgement, a send's upload).

Times come from the database's clock on PostgreSQL (workers on several hosts may disagree about the
time) and from this host's on SQLite (a file on this host).

    ClaimError          a claim could not be had or was lost
    ├── ClaimBusy       another run holds it and did not let go within the wait
    └── ClaimLost       the lease ran out or an operator cleared it while this run held it
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paydag.register.models import ClaimEventRow, ClaimRow


class Work(StrEnum):
    """The work one run at a time may do for a company."""

    POLL = "poll"
    SEND = "send"


class ClaimAction(StrEnum):
    TAKEN = "TAKEN"
    TAKEN_OVER = "TAKEN_OVER"  # from a holder whose lease had run out
    RELEASED = "RELEASED"
    CLEARED = "CLEARED"  # by an operator


def unlock_command(work: str, company: str) -> str:
    return f"paydag unlock --company {company} --what {work}"


def _at(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass(frozen=True)
class Claim:
    """A claim as the register holds it: free (no holder), held, or held by a lease that ran out."""

    work: str
    company: str
    holder: str | None
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None

    def describe(self, now: datetime | None = None) -> str:
        if self.holder is None:
            return "free"
        ran_out = now is not None and self.expires_at is not None and self.expires_at <= now
        return f"held by {self.holder} since {_at(self.acquired_at)}, renewed {_at(self.renewed_at)}, " + (
            f"lease ran out {_at(self.expires_at)}" if ran_out else f"until {_at(self.expires_at)}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "work": self.work,
            "company": self.company,
            "holder": self.holder,
            "acquired_at": self.acquired_at,
            "renewed_at": self.renewed_at,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class ClaimEvent:
    work: str
    company: str
    action: ClaimAction
    holder: str | None
    by: str | None
    detail: str | None
    at: datetime


@dataclass(frozen=True)
class Taking:
    """The outcome of an attempt to take a claim."""

    claim: Claim  # as it now stands
    token: str | None  # this run's, when it got the claim
    took_over: str | None  # from whom, when a holder's lease had run out


class ClaimError(Exception):
    """A claim could not be had, or was lost while held; the message says whose it is and what to do."""

    def __init__(self, message: str, claim: Claim) -> None:
        super().__init__(message)
        self.claim = claim


class ClaimBusy(ClaimError):
    """Another run holds the claim and did not let go within the wait."""

    def __init__(self, claim: Claim, waited: float) -> None:
        super().__init__(
            f"the {claim.work} claim of company {claim.company} is {claim.describe()}; gave up after "
            f"waiting {waited:.0f} s. A run that died lets go by itself when its lease runs out; if that "
            f"run is stuck, clear its claim with: {unlock_command(claim.work, claim.company)}",
            claim,
        )
        self.waited = waited


class ClaimLost(ClaimError):
    """The claim's lease ran out, or an operator cleared it, while this run held it."""


class Claims:
    """The claims table: take, renew, release and clear; every change is a claim event."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Session]]) -> None:
        self._tx = transaction

    @staticmethod
    def _now(s: Session) -> datetime:
        if s.get_bind().dialect.name == "postgresql":  # the time now, not the transaction's start
            return s.scalar(select(func.clock_timestamp())).astimezone(UTC)
        return datetime.now(UTC)

    @staticmethod
    def _record(row: ClaimRow) -> Claim:
        return Claim(row.work, row.company_id, row.holder, row.acquired_at, row.renewed_at, row.expires_at)

    @staticmethod
    def _event(s: Session, row: ClaimRow, action: ClaimAction, holder: str | None, now: datetime,
               *, by: str | None = None, detail: str | None = None) -> None:  # fmt: skip
        s.add(ClaimEventRow(work=row.work, company_id=row.company_id, action=action, holder=holder, by=by,
                            detail=detail, at=now))  # fmt: skip

    def take(self, work: str, company: str, holder: str, lease_seconds: float) -> Taking:
        """Take the claim when it is free or its lease ran out; when another holder has it, say whose."""
        holder = holder[:255]
        for _attempt in range(3):
            try:
                with self._tx() as s:
                    row = s.get(ClaimRow, (work, company), with_for_update=True)
                    if row is None:  # first use; two first takers race on the primary key
                        row = ClaimRow(work=work, company_id=company)
                        s.add(row)
                    now = self._now(s)
                    if row.holder is not None and row.expires_at is not None and row.expires_at > now:
                        return Taking(self._record(row), None, None)
                    detail = None
                    if row.holder is not None:
                        detail = f"from {row.holder}, whose lease ran out at {_at(row.expires_at)}"
                    action = ClaimAction.TAKEN if detail is None else ClaimAction.TAKEN_OVER
                    row.holder, row.token = holder, uuid.uuid4().hex
                    row.acquired_at = row.renewed_at = now
                    row.expires_at = now + timedelta(seconds=lease_seconds)
                    self._event(s, row, action, holder, now, detail=detail)
                    return Taking(self._record(row), row.token, detail)
            except IntegrityError:
                continue  # the other first taker inserted the row: read theirs
        raise RuntimeError(f"the {work} claim of {company} could not be read")  # pragma: no cover

    def renew(self, work: str, company: str, token: str, lease_seconds: float) -> Claim | None:
        """Extend the lease of the holder with `token`; None when the claim is no longer theirs."""
        with self._tx() as s:
            row = s.get(ClaimRow, (work, company), with_for_update=True)
            if row is None or row.token != token:
                return None
            now = self._now(s)
            row.renewed_at, row.expires_at = now, now + timedelta(seconds=lease_seconds)
            return self._record(row)

    def release(self, work: str, company: str, token: str) -> bool:
        """Let go of the claim; False when it was no longer this holder's."""
        with self._tx() as s:
            row = s.get(ClaimRow, (work, company), with_for_update=True)
            if row is None or row.token != token:
                return False
            self._event(s, row, ClaimAction.RELEASED, row.holder, self._now(s))
            row.holder = row.token = row.acquired_at = row.renewed_at = row.expires_at = None
            return True

    def clear(
        self, work: str, company: str, *, by: str, reason: str | None = None, expected: Claim | None = None
    ) -> Claim | None:
        """An operator frees a claim (a stuck holder); the claim as it was, or None when it was free or,
        given the `expected` claim the operator was shown, when it has changed hands since."""
        with self._tx() as s:
            row = s.get(ClaimRow, (work, company), with_for_update=True)
            if row is None or row.holder is None:
                return None
            if expected is not None and (row.holder, row.acquired_at) != (
                expected.holder,
                expected.acquired_at,
            ):
                return None
            before = self._record(row)
            self._event(s, row, ClaimAction.CLEARED, row.holder, self._now(s), by=by[:255], detail=reason)
            row.holder = row.token = row.acquired_at = row.renewed_at = row.expires_at = None
            return before

    def claim(self, work: str, company: str) -> Claim:
        with self._tx() as s:
            row = s.get(ClaimRow, (work, company))
            return Claim(work, company, None, None, None, None) if row is None else self._record(row)

    def now(self) -> datetime:
        """The clock the leases are measured by."""
        with self._tx() as s:
            return self._now(s)

    def events(self, work: str | None = None, company: str | None = None) -> list[ClaimEvent]:
        """Claim events, oldest first."""
        with self._tx() as s:
            query = select(ClaimEventRow).order_by(ClaimEventRow.id)
            if work:
                query = query.where(ClaimEventRow.work == work)
            if company:
                query = query.where(ClaimEventRow.company_id == company)
            return [
                ClaimEvent(e.work, e.company_id, ClaimAction(e.action), e.holder, e.by, e.detail, e.at)
                for e in s.scalars(query)
            ]


class HeldClaim:
    """A claim this run holds, renewed from a background thread until the block ends."""

    def __init__(self, claims: Claims, claim: Claim, token: str, lease_seconds: float,
                 log: logging.Logger | logging.LoggerAdapter) -> None:  # fmt: skip
        self.claim, self.token, self.lease_seconds = claim, token, lease_seconds
        self._claims, self._log = claims, log
        self._renewed = time.monotonic()
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._heartbeat, name=f"claim-{claim.work}-{claim.company}", daemon=True
        )

    @property
    def lost(self) -> str | None:
        """Why the claim is no longer this run's, or None while it is."""
        if self._lost is None and time.monotonic() - self._renewed > self.lease_seconds:
            return f"its lease could not be renewed for {self.lease_seconds:.0f} s, and another run may have taken it"
        return self._lost

    def check(self) -> None:
        """Raise ClaimLost when the claim is no longer this run's: do nothing that must not be done twice."""
        reason = self.lost
        if reason:
            c = self.claim
            raise ClaimLost(
                f"this run lost the {c.work} claim of company {c.company}: {reason}; it stops here, and the "
                f"next run takes up what it left (nothing it did is lost or done twice)",
                c,
            )

    def _heartbeat(self) -> None:
        interval = max(self.lease_seconds / 4, 0.2)
        c = self.claim
        while not self._stop.wait(interval):
            try:
                renewed = self._claims.renew(c.work, c.company, self.token, self.lease_seconds)
            except Exception as exc:  # the register is away for a moment: try again at the next beat
                self._log.warning("could not renew the %s claim of %s: %s", c.work, c.company, exc)
                continue
            if renewed is None:
                self._lost = "it was cleared by an operator or taken over by another run"
                self._log.error(
                    "the %s claim of %s is no longer this run's: %s", c.work, c.company, self._lost
                )
                return
            self._renewed = time.monotonic()

    def _start(self) -> None:
        self._thread.start()

    def _end(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._lost is not None:
            return
        c = self.claim
        try:
            self._claims.release(c.work, c.company, self.token)
        except Exception as exc:  # its lease runs out by itself
            self._log.warning("could not release the %s claim of %s (%s): it frees itself by %s",
                              c.work, c.company, exc, _at(c.expires_at))  # fmt: skip


@contextmanager
def hold(
    claims: Claims,
    work: str,
    company: str,
    holder: str,
    *,
    lease_seconds: float,
    wait_seconds: float,
    log: logging.Logger | logging.LoggerAdapter,
    report_every: float = 5.0,
    retry_every: float = 1.0,
) -> Iterator[HeldClaim]:
    """Hold the claim for the block, renewing its lease; wait up to `wait_seconds` for it, saying every
    `report_every` seconds whom it waits for and since when. ClaimBusy when the wait runs out.

    While waiting, nothing is held: Ctrl-C or SIGTERM (Prefect raises it as an exception) ends the wait
    at once.
    """
    started = time.monotonic()
    since = datetime.now(UTC)
    next_report = started  # say at once what it waits for, then every `report_every` seconds
    while True:
        taking = claims.take(work, company, holder, lease_seconds)
        claim = taking.claim
        if taking.token is not None:
            break
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise ClaimBusy(claim, waited)
        if time.monotonic() >= next_report:
            log.info("waiting since %s for the %s claim of company %s: %s (waiting %.0f s of %.0f s)",
                     _at(since), work, company, claim.describe(), waited, wait_seconds)  # fmt: skip
            next_report += report_every
        now = time.monotonic()
        time.sleep(max(min(retry_every, next_report - now, started + wait_seconds - now), 0.05))
    if taking.took_over:
        log.warning("took over the %s claim of company %s %s", work, company, taking.took_over)
    held = HeldClaim(claims, claim, taking.token, lease_seconds, log)
    held._start()
    try:
        yield held
    finally:
        held._end()
