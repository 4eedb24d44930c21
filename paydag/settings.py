"""Configuration, in one place: a TOML file named by PAYDAG_CONFIG, overridden by PAYDAG_* variables.

Precedence, highest first: values passed in code, environment (`PAYDAG_HOME`, nested company fields as
`PAYDAG_COMPANIES__DEMO__BIC`), the TOML file, the defaults below. When PAYDAG_CONFIG is not set and
`./paydag.toml` does not exist, the committed example (`config/paydag.example.toml`, company `demo`)
is used, so that a fresh clone runs on embedded defaults.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paydag import identifiers


def package_data(package: str, *parts: str) -> Path:
    """A data file shipped inside the package (suites, example config, XSDs, bank profiles), found
    with importlib.resources: the same in a checkout, an editable install and an installed wheel.
    paydag is installed unzipped (no zipimport), so the resource is a file on disk lxml and GX can open."""
    resource = files(package).joinpath(*parts)
    return Path(str(resource))


EXAMPLE_CONFIG = package_data("paydag.config", "paydag.example.toml")
DEFAULT_CONFIG = Path("paydag.toml")


class ConfigurationError(Exception):
    """The configuration is missing something a command needs; the message says what."""


class SftpChannelSettings(BaseModel):
    """A company's payment files over SFTP instead of the Pagero API: the server and its folders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(
        pattern=r"^sftp://[^:@/]+@[^/]+(/.*)?$", description="sftp://user@host[:port]/base folder"
    )
    outbox: str = "outbox"
    inbox: str = "inbox"
    archive: str = "archive"


class Company(BaseModel):
    """A paying company: who it is, which account pays, and how its bank wants the files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    legal_name: str = Field(min_length=1, max_length=70)
    org_number: str
    debtor_account: str = Field(description="IBAN, or a Swedish BBAN (clearing number + account number)")
    bic: str
    bank_profile: str = "generic"
    provider_company_id: str = Field(min_length=1)
    bank_customer_id: str | None = Field(
        default=None, description="the bank's agreement or customer id, where the bank profile needs one"
    )
    duplicate_window_days: int = Field(
        default=30,
        ge=0,
        description="a payment of the same amount to the same account within so many days is a duplicate",
    )
    approvers: tuple[str, ...] = Field(default=(), description="who may approve a batch before it is sent")
    approval_threshold: Decimal | None = Field(
        default=None,
        ge=0,
        description="a batch whose total in any currency reaches this waits for approval; 0 always; unset never",
    )
    requester_may_approve: bool = False
    approval_timeout_hours: float | None = Field(
        default=None,
        gt=0,
        description="how long a batch waits for approval; unset: until the end of the day (Stockholm)",
    )
    new_payee_accounts: Literal["warn", "hold"] = Field(
        default="warn",
        description="a first payment to an account, a payee paid to a new account, an account under several names",
    )
    channel: Literal["pagero", "sftp"] = Field(
        default="pagero", description="how payment and return files travel"
    )
    sftp: SftpChannelSettings | None = Field(
        default=None, description="the SFTP server, when channel is sftp"
    )

    @field_validator("org_number")
    @classmethod
    def _org_number(cls, value: str) -> str:
        return identifiers.organisation_number(value)

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str) -> str:
        return str(identifiers.bic(value))

    @field_validator("debtor_account")
    @classmethod
    def _debtor_account(cls, value: str) -> str:
        if value.strip()[:2].isalpha():
            return identifiers.iban(value).compact
        return identifiers.bank_account(value).bban

    @property
    def debtor_account_form(self) -> Literal["IBAN", "BBAN"]:
        return "IBAN" if self.debtor_account[:2].isalpha() else "BBAN"


def config_path() -> Path:
    """The TOML file in force: PAYDAG_CONFIG, else ./paydag.toml, else the committed example."""
    named = os.environ.get("PAYDAG_CONFIG")
    if named:
        return Path(named)
    if DEFAULT_CONFIG.exists() or not EXAMPLE_CONFIG.exists():
        return DEFAULT_CONFIG
    return EXAMPLE_CONFIG


class Settings(BaseSettings):
    """Everything paydag reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="PAYDAG_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    home: Path = Path(".paydag")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under home when unset")
    raw_store: str | None = Field(
        default=None, description="file://… or s3://bucket/prefix; home/raw when unset"
    )
    pagero_base_url: str = "http://127.0.0.1:8900"
    pagero_token_url: str | None = Field(
        default=None, description="OAuth2 token endpoint; under the base URL when unset"
    )
    pagero_pain001_document_type: str = Field(
        default="pain.001.001.03", description="documentType of uploaded payment files (ask Pagero for yours)"
    )
    send_mode: Literal["Production", "Test", "Certification"] = "Production"
    pagero_timeout_seconds: float = 30.0
    awaiting_bank_days: int = Field(
        default=2, description="bank days after execution before a payment without a return report is flagged"
    )
    approval_poll_seconds: int = Field(
        default=10, ge=1, description="how often a run waiting for approval looks"
    )
    payments_page_days: int = Field(
        default=30, ge=1, description="days of batches the payments page shows (payments-<company>)"
    )
    curated: str | None = Field(default=None, description="directory of the curated Parquet tables")
    payex_base_url: str = Field(
        default="http://127.0.0.1:8900", description="PayEx API; the sandbox by default"
    )
    payex_ledger: str = "1234"
    payex_accounts: list[str] = Field(default_factory=lambda: ["900001", "900002", "900003"])
    autogiro_base_url: str = Field(
        default="http://127.0.0.1:8900", description="autogiro consent API; the sandbox by default"
    )
    settlement_inbox: str | None = Field(
        default=None,
        description="where settlement reports arrive (directory, s3:// prefix or sftp://user@host:port/path); new ones are ingested",
    )
    captures_export: str | None = Field(
        default=None,
        description="the captures export (payments API shape) reconciliation reads when given none",
    )
    dask_address: str | None = Field(
        default=None,
        description="a Dask scheduler (tcp://host:8786) the poll flow fans its files out to; threads when empty",
    )
    rent_ledger: str | None = Field(
        default=None,
        description="where incoming-payment files go for the rent system: a directory or s3:// prefix",
    )
    claim_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="lease of a poll's or send's claim: a holder that dies lets go within this time",
    )
    claim_wait_seconds: float = Field(
        default=300.0,
        ge=0,
        description="how long a poll or send waits for its company's claim before it fails naming the holder",
    )
    timezone: str = "Europe/Stockholm"
    companies: dict[str, Company] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_path()
        if os.environ.get("PAYDAG_CONFIG") and not path.exists():
            raise ConfigurationError(f"PAYDAG_CONFIG names {path}, which does not exist")
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path)

    def company(self, company_id: str) -> Company:
        try:
            return self.companies[company_id]
        except KeyError:
            known = ", ".join(sorted(self.companies)) or "none"
            raise ConfigurationError(
                f"company {company_id!r} is not in the configuration ({config_path()}); known: {known}"
            ) from None

    def today(self) -> date:
        """Today where the back office is (Europe/Stockholm): bank days and cut-offs are local."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'register.sqlite3'}"

    @property
    def effective_settlement_inbox(self) -> str:
        return self.settlement_inbox or str((self.home / "settlement-inbox").resolve())

    @property
    def curated_dir(self) -> Path:
        """Curated tables (Parquet): `{home}/curated` unless PAYDAG_CURATED names another directory."""
        return Path(self.curated or self.home / "curated")

    @property
    def effective_rent_ledger(self) -> str:
        return self.rent_ledger or str((self.home / "inbetalningar").resolve())

    @property
    def effective_raw_store(self) -> str:
        return self.raw_store or (self.home / "raw").resolve().as_uri()


def load_settings(**overrides: object) -> Settings:
    """Read the configuration now (the environment may have changed since the last call)."""
    return Settings(**overrides)
