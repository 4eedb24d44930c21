"""The sandbox's published test credentials, as the environment variables paydag reads its real ones
from. The composition roots (the `paydag` command, the demo's worker, the tests) hand them in when the
providers are the sandbox on this machine; the library never imports the sandbox."""

from __future__ import annotations

from urllib.parse import urlparse

from sandbox.app import SandboxCredentials
from sandbox.autogiro import API_KEY
from sandbox.payex import TOKEN

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def pagero_environment() -> dict[str, str]:
    c = SandboxCredentials()
    return {
        "PAGERO_CLIENT_ID": c.client_id,
        "PAGERO_CLIENT_SECRET": c.client_secret,
        "PAGERO_USERNAME": c.username,
        "PAGERO_PASSWORD": c.password,
    }


def environment(*, pagero_url: str, payex_url: str, autogiro_url: str) -> dict[str, str]:
    """The sandbox's credentials for each provider whose URL is on this machine (a real provider's
    URL gets nothing: its credentials must come from a Secret block or the environment)."""
    on_loopback = {url: urlparse(url).hostname in LOOPBACK for url in (pagero_url, payex_url, autogiro_url)}
    env: dict[str, str] = {}
    if on_loopback[pagero_url]:
        env |= pagero_environment()
    if on_loopback[payex_url]:
        env["PAYEX_TOKEN"] = TOKEN
    if on_loopback[autogiro_url]:
        env["AUTOGIRO_API_KEY"] = API_KEY
    return env
