"""What a command that runs a flow needs: the settings with its company checked, the Prefect project
on sys.path, and the environment of a flow run in this process.

The Prefect project (flows/, tasks/, deployments/) and the sandbox sit beside the library in the
repository and are not in the wheel (docs/ARCHITECTURE.md). Where a checkout is looked for, first
found wins: PAYDAG_PROJECT; the checkout this package was installed from (an editable install, as
`make` makes); the current directory. Without one, such a command exits 2 saying so; the file
commands (build-pain001, parse, validate, reconcile, status) work anywhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import paydag
from paydag.settings import Settings, load_settings

# How paydag's Prefect servers run, the demo's and the temporary ones the commands start: no analytics,
# and concurrency leases kept in files under PREFECT_HOME. A provider tag slot (pagero-api, …) held by a
# task whose process died is freed by the server when its lease runs out; with the default in-memory
# lease storage, a server restarted meanwhile forgets the lease and the slot stays taken for good.
PREFECT_SERVER_SETTINGS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
}


class ProjectMissing(Exception):
    """No checkout of the paydag repository (the Prefect project) could be found."""


def is_project(directory: Path) -> bool:
    return (directory / "flows" / "__init__.py").is_file() and (
        directory / "deployments" / "prefect.yaml"
    ).is_file()


def prefect_project() -> Path:
    """The checkout holding the flows, put first on sys.path so that `flows`, `tasks` and `sandbox` import."""
    named = os.environ.get("PAYDAG_PROJECT")
    candidates = [Path(named)] if named else [Path(paydag.__file__).resolve().parents[1], Path.cwd()]
    for directory in candidates:
        if is_project(directory):
            root = str(directory.resolve())
            if root not in sys.path:
                sys.path.insert(0, root)
            return directory.resolve()
    where = f"PAYDAG_PROJECT={named}" if named else "beside the installed package or in the current directory"
    raise ProjectMissing(
        "this command runs paydag's Prefect flows, which ship with the repository, not the wheel; "
        f"no checkout was found ({where}): run it from a checkout of the paydag repository "
        "(`make demo` sets one up) or set PAYDAG_PROJECT to one"
    )


def settings_for(company: str | None) -> Settings:
    """The settings, with `company` checked to be configured (ConfigurationError says why not)."""
    settings = load_settings()
    if company:
        settings.company(company)
    return settings


def sandbox_credentials(pagero_url: str, payex_url: str, autogiro_url: str) -> dict[str, str]:
    """The sandbox's published test credentials as PAYDAG_* variables, for providers on this machine."""
    from sandbox.credentials import environment

    return environment(pagero_url=pagero_url, payex_url=payex_url, autogiro_url=autogiro_url)


def prepare_flow_run(settings: Settings) -> Path:
    """Before Prefect is imported, for a flow run in this process: the project on sys.path, Prefect's
    state under PAYDAG_HOME and time for a local API to start, the sandbox's test credentials (values
    already in the environment win)."""
    project = prefect_project()
    prefect_home = Path(os.environ.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve())))
    prefect_home.mkdir(parents=True, exist_ok=True)  # its SQLite database cannot be opened otherwise
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    sandbox = sandbox_credentials(
        settings.pagero_base_url, settings.payex_base_url, settings.autogiro_base_url
    )
    for name, value in (PREFECT_SERVER_SETTINGS | sandbox).items():
        os.environ.setdefault(name, value)
    return project
