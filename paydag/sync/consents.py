"""Autogiro consents synced: the desired state from a CSV, only the differences sent, every change
and failure reported with payer numbers masked."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from paydag import identifiers
from paydag.providers.autogiro import AutogiroClient, Consent, ConsentInvalid
from paydag.providers.channel import ProviderError


@dataclass(frozen=True)
class ConsentChange:
    person_id: str
    action: str  # created, modified, unchanged, failed
    consent_id: str | None = None
    reason: str | None = None

    def as_row(self) -> dict[str, object]:
        return {
            "payer": identifiers.mask(self.person_id),
            "action": self.action,
            "consent": self.consent_id,
            "reason": self.reason,
        }


def read_desired_consents(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    missing = {"person_id", "company_id", "clearing_number", "account_number"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path}: the columns {', '.join(sorted(missing))} are missing")
    return rows


def sync_consents(client: AutogiroClient, desired: list[dict[str, str]]) -> list[ConsentChange]:
    """Create or modify only what differs from the API's list; a second run changes nothing."""
    changes: list[ConsentChange] = []
    current: dict[tuple[str, str], Consent] = {}
    for company in sorted({d["company_id"] for d in desired}):
        for consent in client.list(company_id=company):
            if consent.person_id:
                current[(company, consent.person_id)] = consent
    for want in desired:
        person, company = want["person_id"].strip(), want["company_id"].strip()
        try:
            clearing, account = _account_of(want)
            payer = identifiers.personal_number(person)
            have = current.get((company, payer))
            if have is None:
                made = client.create(person_id=payer, company_id=company, clearing_number=clearing, account_number=account,
                                     bgc_action=want.get("bgc_action") or "none")  # fmt: skip
                changes.append(ConsentChange(payer, "created", made.id))
            elif (have.clearing_number, have.account_number) == (clearing, account):
                changes.append(ConsentChange(payer, "unchanged", have.id))
            else:
                made = client.modify(
                    consent_id=have.id, person_id=payer, clearing_number=clearing, account_number=account
                )
                changes.append(ConsentChange(payer, "modified", made.id))
        except (ConsentInvalid, identifiers.InvalidIdentifier, ProviderError) as exc:
            changes.append(ConsentChange(person, "failed", reason=str(exc)))
    return changes


def _account_of(want: dict[str, str]) -> tuple[str, str]:
    from paydag.providers.autogiro import check_account

    return check_account(want["clearing_number"].strip(), want["account_number"].strip())
