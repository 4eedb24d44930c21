"""Bank profiles: what each bank's MIG wants in a pain.001, as data (`bank_profiles.toml`)."""

from __future__ import annotations

import re
import tomllib
from datetime import time
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paydag.settings import package_data

PROFILES_FILE = package_data("paydag.formats", "bank_profiles.toml")


class PartyId(BaseModel):
    """Which company value identifies a party, and under which scheme (a code or a proprietary name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Literal["org_number", "bank_customer_id"]
    code: str | None = None
    proprietary: str | None = None

    @model_validator(mode="after")
    def _one_scheme(self) -> PartyId:
        if (self.code is None) == (self.proprietary is None):
            raise ValueError("a party id needs exactly one of code and proprietary")
        return self


class Cutoffs(BaseModel):
    """Per payment type, the latest time of a bank day (Europe/Stockholm) at which a file can reach
    the bank and still be executed that day. The defaults are typical of Swedish banks' same-day
    cut-offs, not any one bank's: confirm them with the bank, like the rest of a profile."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    domestic: time = time(13, 0)
    sepa: time = time(13, 0)
    cross_border: time = Field(default=time(11, 0), alias="cross-border")

    def of(self, payment_type: str) -> time:
        """The cut-off of a payment type as `PaymentType` names it (domestic, sepa, cross-border)."""
        return {"domestic": self.domestic, "sepa": self.sepa, "cross-border": self.cross_border}[payment_type]


class BankProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    plusgiro_scheme: Literal["BBAN", "PGNR"]
    creditor_agent: Literal["clearing", "bic"]
    domestic_charge_bearer: Literal["SLEV", "SHAR"]
    debtor_account_forms: tuple[Literal["IBAN", "BBAN"], ...]
    initiating_party: PartyId
    debtor_id: PartyId
    bank_customer_id_pattern: str | None = None
    ocr_length_digit: bool = False
    pain002_errors_only: bool = False
    domestic_charset: Literal["swedish", "sepa"] = "swedish"  # SEPA and cross-border text: always "sepa"
    cutoffs: Cutoffs = Cutoffs()

    def check_bank_customer_id(self, value: str | None) -> str | None:
        """Why `value` does not suit this profile, or None."""
        needs = "bank_customer_id" in (self.initiating_party.value, self.debtor_id.value)
        if needs and not value:
            return f"bank profile {self.name!r} needs the company's bank_customer_id"
        if value and self.bank_customer_id_pattern and not re.fullmatch(self.bank_customer_id_pattern, value):
            return f"bank_customer_id does not have the form {self.name!r} uses ({self.bank_customer_id_pattern})"
        return None


@cache
def bank_profiles() -> dict[str, BankProfile]:
    raw = tomllib.loads(PROFILES_FILE.read_text(encoding="utf-8"))
    return {name: BankProfile(name=name, **values) for name, values in raw.items()}


def bank_profile(name: str) -> BankProfile:
    profiles = bank_profiles()
    if name not in profiles:
        raise KeyError(f"unknown bank profile {name!r}; known: {', '.join(sorted(profiles))}")
    return profiles[name]
