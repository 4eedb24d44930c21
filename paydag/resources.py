"""The outside systems a run talks to, built from the settings: register, raw store, payment channel.

Business code receives these; it never builds them. The Prefect layer (`tasks/resources.py`) adds
credentials from Secret blocks; the CLI and tests call this directly.
"""

from __future__ import annotations

from urllib.parse import urlparse

from paydag.ledger import RentLedgerDrop
from paydag.providers.autogiro import AutogiroClient
from paydag.providers.channel import PaymentChannel, ProviderError
from paydag.providers.pagero import PageroChannel, PageroCredentials, TokenStore
from paydag.providers.payex import CreditAccountClient
from paydag.register import Register
from paydag.settings import Company, Settings
from paydag.storage import RawStore, open_raw_store

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def open_ledger(settings: Settings) -> RentLedgerDrop:
    return RentLedgerDrop(settings.effective_rent_ledger)


def open_register(settings: Settings) -> Register:
    return Register(settings.effective_database_url)


def open_store(settings: Settings) -> RawStore:
    return open_raw_store(settings.effective_raw_store)


def pagero_credentials(settings: Settings, given: PageroCredentials | None = None) -> PageroCredentials:
    """Given credentials (a Secret block), else the environment; against a sandbox on this machine,
    the sandbox's published test credentials."""
    if given is not None:
        return given
    try:
        return PageroCredentials.from_env()
    except ProviderError:
        if urlparse(settings.pagero_base_url).hostname in LOOPBACK:
            from sandbox.app import SandboxCredentials

            c = SandboxCredentials()
            return PageroCredentials(c.client_id, c.client_secret, c.username, c.password)
        raise


def open_channel(
    settings: Settings, company: Company, credentials: PageroCredentials | None = None
) -> PaymentChannel:
    return PageroChannel(
        settings.pagero_base_url,
        pagero_credentials(settings, credentials),
        TokenStore(settings.home / "pagero" / f"{company.provider_company_id}.json"),
        token_url=settings.pagero_token_url,
        timeout=settings.pagero_timeout_seconds,
    )


def _sandbox_default(settings_url: str, env_name: str, sandbox_value: str, given: str | None) -> str:
    """A credential: given (a Secret block), else the environment, else the sandbox's own when the URL
    is on this machine."""
    import os

    if given:
        return given
    if os.environ.get(env_name):
        return os.environ[env_name]
    if urlparse(settings_url).hostname in LOOPBACK:
        return sandbox_value
    raise ProviderError(0, f"{env_name} is not set (nor a Secret block) for {settings_url}")


def open_payex(settings: Settings, token: str | None = None) -> CreditAccountClient:
    from sandbox.payex import TOKEN

    token = _sandbox_default(settings.payex_base_url, "PAYEX_TOKEN", TOKEN, token)
    return CreditAccountClient(settings.payex_base_url, settings.payex_ledger, token)


def open_autogiro(settings: Settings, api_key: str | None = None) -> AutogiroClient:
    from sandbox.autogiro import API_KEY

    return AutogiroClient(
        settings.autogiro_base_url,
        _sandbox_default(settings.autogiro_base_url, "AUTOGIRO_API_KEY", API_KEY, api_key),
    )
