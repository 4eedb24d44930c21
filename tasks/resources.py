"""What a task needs from outside, built inside the task (clients are not task parameters: they do
not pickle). Provider credentials come from Prefect Secret blocks when they exist (`pagero-credentials`,
`payex-token`, `autogiro-api-key`, `sftp-credentials`), else from the environment (PAGERO_*,
PAYEX_TOKEN, AUTOGIRO_API_KEY, PAYDAG_SFTP_KEY_FILE and PAYDAG_SFTP_KNOWN_HOSTS)."""

from __future__ import annotations

import json
from typing import Any

from prefect.blocks.system import Secret

from paydag import resources
from paydag.providers.autogiro import AutogiroClient
from paydag.providers.channel import PaymentChannel
from paydag.providers.pagero import PageroCredentials
from paydag.providers.payex import CreditAccountClient
from paydag.register import Register
from paydag.settings import Settings, load_settings
from paydag.storage import RawStore, RentLedgerDrop
from paydag.storage.sftp import SftpCredentials

# Block names, not secrets.
SECRET_BLOCK = "pagero-credentials"  # noqa: S105 JSON: client_id, client_secret, username, password
PAYEX_TOKEN_BLOCK = "payex-token"  # noqa: S105 the bearer token of the PayEx credit-account API
AUTOGIRO_KEY_BLOCK = "autogiro-api-key"  # the autogiro consent API's key
SFTP_BLOCK = "sftp-credentials"  # JSON: private_key (the key's text), known_hosts (the server's line(s))


def settings() -> Settings:
    return load_settings()


def register() -> Register:
    return resources.open_register(settings())


def raw_store() -> RawStore:
    return resources.open_store(settings())


def ledger() -> RentLedgerDrop:
    return resources.open_ledger(settings())


def _secret(name: str) -> Any:
    """The value of a Secret block; None when there is no such block."""
    try:
        return Secret.load(name).get()
    except ValueError:  # no such block
        return None


def _secret_credentials() -> PageroCredentials | None:
    value = _secret(SECRET_BLOCK)
    if value is None:
        return None
    data = json.loads(value) if isinstance(value, str) else value
    return PageroCredentials(data["client_id"], data["client_secret"], data["username"], data["password"])


def sftp_credentials() -> SftpCredentials | None:
    """The SFTP key and known hosts from the Secret block; None: the library reads the environment."""
    value = _secret(SFTP_BLOCK)
    if value is None:
        return None
    data = json.loads(value) if isinstance(value, str) else value
    return SftpCredentials(data["private_key"], data["known_hosts"])


def channel(company_id: str) -> PaymentChannel:
    s = settings()
    company = s.company(company_id)
    sftp = sftp_credentials() if company.channel == "sftp" else None
    return resources.open_channel(s, company, _secret_credentials(), sftp)


def payex() -> CreditAccountClient:
    return resources.open_payex(settings(), _secret(PAYEX_TOKEN_BLOCK))


def autogiro() -> AutogiroClient:
    return resources.open_autogiro(settings(), _secret(AUTOGIRO_KEY_BLOCK))
