"""A payables file to a pain.001 on disk, without the register or a provider: the build-pain001
command. Its own module so that building a file loads no database driver nor object store."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from paydag.formats.bank_profiles import bank_profile
from paydag.formats.pain001 import BuiltPain001, Pain001Version, build_pain001
from paydag.payables import ValidationReport, load_batch
from paydag.settings import Settings


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
        allow_partial=allow_partial,
        move_to_next_bank_day=move_to_next_bank_day,
    )
    if batch is None:
        return None, report
    created = datetime.now(ZoneInfo(settings.timezone))
    return build_pain001(
        batch, company=company, profile=profile, out=out, version=version, created_at=created
    ), report
