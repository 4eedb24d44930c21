"""A payables file to a pain.001 on disk, without a provider: the build-pain001 command. The checks
against earlier payments read the register where there is one (it is never written); its own module
so that building a file without one loads no database driver nor object store."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from paydag.formats.bank_profiles import bank_profile
from paydag.formats.pain001 import BuiltPain001, Pain001Version, build_pain001
from paydag.payables import PaymentBatch, ValidationReport, load_batch
from paydag.send.controls import Controls, apply_controls
from paydag.settings import Settings

if TYPE_CHECKING:
    from paydag.register import PayeeHistory


def build_payment_file(
    payables: Path,
    *,
    settings: Settings,
    company_id: str,
    out: Path,
    version: Pain001Version = Pain001Version.V03,
    today: date | None = None,
    now: datetime | None = None,
    allow_partial: bool = False,
    move_to_next_bank_day: bool = False,
) -> tuple[BuiltPain001 | None, ValidationReport]:
    """A payables file validated and built to `out` without the register or a provider (the
    build-pain001 command); no file when a row is invalid and `allow_partial` is not given.

    Checked as of `now` (with the bank's cut-offs), else as of the day `today` (dates only), else as
    of this moment where the back office is."""
    company = settings.company(company_id)
    profile = bank_profile(company.bank_profile)
    if now is None and today is None:
        now = datetime.now(ZoneInfo(settings.timezone))
    batch, report = load_batch(
        payables,
        company=company_id,
        profile=profile,
        today=now.date() if now else today,
        now=now,
        allow_partial=True,
        move_to_next_bank_day=move_to_next_bank_day,
    )
    if batch is not None and _has_register(settings):
        batch = apply_controls(batch, report, _payee_history(settings, company_id, batch),
                               Controls(company.duplicate_window_days, company.new_payee_accounts))  # fmt: skip
    if batch is None or (report.errors and not allow_partial):
        return None, report
    created = datetime.now(ZoneInfo(settings.timezone))
    return build_pain001(
        batch, company=company, profile=profile, out=out, version=version, created_at=created
    ), report


def _has_register(settings: Settings) -> bool:
    """A register to compare with: a database named, or the default SQLite file already there."""
    return settings.database_url is not None or (settings.home / "register.sqlite3").exists()


def _payee_history(settings: Settings, company_id: str, batch: PaymentBatch) -> PayeeHistory:
    from paydag.resources import open_register

    register = open_register(settings)
    try:
        return register.payee_history(company_id, (p.account for p in batch.payments))
    finally:
        register.close()
