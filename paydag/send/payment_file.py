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
    allow_partial: bool = False,
) -> tuple[BuiltPain001 | None, ValidationReport]:
    """A payables file validated and built to `out` without the register or a provider (the
    build-pain001 command); no file when a row is invalid and `allow_partial` is not given."""
    company = settings.company(company_id)
    profile = bank_profile(company.bank_profile)
    batch, report = load_batch(
        payables,
        company=company_id,
        profile=profile,
        today=today or settings.today(),
        allow_partial=allow_partial,
    )
    if batch is None:
        return None, report
    created = datetime.now(ZoneInfo(settings.timezone))
    return build_pain001(
        batch, company=company, profile=profile, out=out, version=version, created_at=created
    ), report
