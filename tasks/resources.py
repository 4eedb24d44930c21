"""What a task needs from outside, built inside the task (clients are not task parameters: they do
not pickle). Pagero credentials come from the Secret block `pagero-credentials` when it exists."""

from __future__ import annotations

import json

from prefect.blocks.system import Secret

from paydag import resources
from paydag.providers.channel import PaymentChannel
from paydag.providers.pagero import PageroCredentials
from paydag.register import Register
from paydag.settings import Settings, load_settings
from paydag.storage import RawStore, RentLedgerDrop

SECRET_BLOCK = "pagero-credentials"  # noqa: S105 (a block name, not a secret). JSON: client_id, client_secret, username, password


def settings() -> Settings:
    return load_settings()


def register() -> Register:
    return resources.open_register(settings())


def raw_store() -> RawStore:
    return resources.open_store(settings())


def ledger() -> RentLedgerDrop:
    return resources.open_ledger(settings())


def _secret_credentials() -> PageroCredentials | None:
    try:
        value = Secret.load(SECRET_BLOCK).get()
    except ValueError:  # no such block
        return None
    data = json.loads(value) if isinstance(value, str) else value
    return PageroCredentials(data["client_id"], data["client_secret"], data["username"], data["password"])


def channel(company_id: str) -> PaymentChannel:
    s = settings()
    return resources.open_channel(s, s.company(company_id), _secret_credentials())
