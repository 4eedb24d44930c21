"""The outside systems a run talks to, built from the settings: register, raw store, payment channel.

Business code receives these; it never builds them. Credentials are given (the Prefect layer,
`tasks/resources.py`, reads Secret blocks) or come from the environment; against the sandbox, the
composition roots (the `paydag` command, the demo's worker, the tests) put the sandbox's published
test credentials there (`sandbox/credentials.py`). The library never imports the sandbox.
"""

from __future__ import annotations

import os

from paydag.providers.autogiro import AutogiroClient
from paydag.providers.channel import PaymentChannel, ProviderError
from paydag.providers.pagero import PageroChannel, PageroCredentials, TokenStore
from paydag.providers.payex import CreditAccountClient
from paydag.register import Register
from paydag.settings import Company, ConfigurationError, Settings
from paydag.storage import RawStore, RentLedgerDrop, open_raw_store
from paydag.storage.sftp import SftpCredentials, SftpLocation


def open_ledger(settings: Settings) -> RentLedgerDrop:
    return RentLedgerDrop(settings.effective_rent_ledger)


def open_register(settings: Settings) -> Register:
    return Register(settings.effective_database_url)


def open_store(settings: Settings) -> RawStore:
    return open_raw_store(settings.effective_raw_store)


def pagero_credentials(given: PageroCredentials | None = None) -> PageroCredentials:
    """Given credentials (a Secret block), else the environment's PAGERO_* variables."""
    return given if given is not None else PageroCredentials.from_env()


def open_channel(
    settings: Settings,
    company: Company,
    credentials: PageroCredentials | None = None,
    sftp: SftpCredentials | None = None,
) -> PaymentChannel:
    """The company's channel: Pagero's API, or SFTP where the company says so (`channel = "sftp"`)."""
    if company.channel == "sftp":
        if company.sftp is None:
            raise ConfigurationError(
                f"{company.legal_name}: channel is sftp but [companies.*.sftp] is missing"
            )
        from paydag.providers.sftp import SftpChannel  # paramiko only where SFTP is used

        c = company.sftp
        return SftpChannel(SftpLocation.parse(c.url), sftp or SftpCredentials.from_env(), outbox=c.outbox,
                           inbox=c.inbox, archive=c.archive)  # fmt: skip
    return PageroChannel(
        settings.pagero_base_url,
        pagero_credentials(credentials),
        TokenStore(settings.home / "pagero" / f"{company.provider_company_id}.json"),
        token_url=settings.pagero_token_url,
        timeout=settings.pagero_timeout_seconds,
    )


def _credential(env_name: str, given: str | None, url: str) -> str:
    """A credential: given (a Secret block), else the environment."""
    value = given or os.environ.get(env_name)
    if not value:
        raise ProviderError(0, f"{env_name} is not set (nor a Secret block) for {url}")
    return value


def open_payex(settings: Settings, token: str | None = None) -> CreditAccountClient:
    return CreditAccountClient(
        settings.payex_base_url,
        settings.payex_ledger,
        _credential("PAYEX_TOKEN", token, settings.payex_base_url),
    )


def open_autogiro(settings: Settings, api_key: str | None = None) -> AutogiroClient:
    return AutogiroClient(
        settings.autogiro_base_url, _credential("AUTOGIRO_API_KEY", api_key, settings.autogiro_base_url)
    )
