"""Test fixtures: the project's own sample files (tests/fixtures/), the outside corpus of genuine files
when it is beside the checkout, a configured company, valid rows, real services."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"  # the conformance corpus, outside the repository
FIXTURES = REPO / "tests" / "fixtures"  # written for this project: see tests/fixtures/README.md
SETTLEMENT_V1 = FIXTURES / "settlement" / "paydag_v1_R9001-0001.xml"  # 10 rows, 45 264.00 SEK, CRLF
SETTLEMENT_V2 = FIXTURES / "settlement" / "paydag_v2_R9002-0001.xml"  # 12 rows, 18 978.00 SEK
BUNDLED_XSD = REPO / "paydag" / "formats" / "xsd"  # the schemas the pain.001 builder checks with

# A Friday; the next bank days are Monday 2026-11-23 onwards. Tests pin "today" so that they mean
# the same thing on any day they run.
TODAY = date(2026, 11, 20)
BANK_DAY = "2026-11-24"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reads the outside corpus of genuine bank and Swedbank Pay files is `conformance`."""
    for item in items:
        if "shared_fixtures" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.conformance)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line saying how many conformance tests did not run, when the corpus is not there."""
    left_out = [
        r for r in terminalreporter.stats.get("skipped", []) if "conformance" in getattr(r, "keywords", {})
    ]
    if left_out:
        terminalreporter.write_line(
            f"{len(left_out)} conformance test(s) did not run: the corpus of genuine files is not at "
            f"{SHARED_FIXTURES}"
        )


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"the shared fixtures are not beside the checkout ({SHARED_FIXTURES})")
    return SHARED_FIXTURES


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads the committed example config and keeps its state in a temporary home."""
    for name in [n for n in os.environ if n.startswith("PAYDAG_") and n != "PAYDAG_TEST_DATABASE_URL"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PAYDAG_CONFIG", str(REPO / "config" / "paydag.example.toml"))
    # The providers are the sandbox: the tests hand in its published test credentials, as the
    # `paydag` command and the demo's worker do (the library never imports the sandbox).
    from sandbox.credentials import environment

    here = "http://127.0.0.1:8900"
    for name, value in environment(pagero_url=here, payex_url=here, autogiro_url=here).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYDAG_HOME", str(tmp_path_factory.mktemp("paydag-home")))


def spy_on_children(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`bulk.side_by_side` watched: the pid each call's second half ran in, one per call that ended.
    It forks here as in a process of its own: a test worker's threads (servers, clients other tests
    left) would make it run both halves here, and its halves take no lock those threads hold."""
    import threading

    from paydag import bulk

    monkeypatch.setattr(threading, "active_count", lambda: 1)

    pids: list[int] = []
    side_by_side = bulk.side_by_side

    def spied(here, there):
        mine, (pid, theirs) = side_by_side(here, lambda: (os.getpid(), there()))
        pids.append(pid)
        return mine, theirs

    monkeypatch.setattr(bulk, "side_by_side", spied)
    return pids


def row(**overrides: str) -> dict[str, str]:
    """A valid payables row (bankgiro with OCR) with some values replaced."""
    values = {
        "payment_id": "INV-1",
        "company": "demo",
        "creditor_name": "Sågverk Öster AB",
        "account_type": "BG",
        "account": "5050-1055",
        "bic": "",
        "amount": "18450.00",
        "currency": "SEK",
        "execution_date": BANK_DAY,
        "ocr": "20260911000000316",
        "message": "",
        "creditor_country": "",
        "creditor_address": "",
        "creditor_street": "",
        "creditor_building": "",
        "creditor_postcode": "",
        "creditor_town": "",
    }
    values.update(overrides)
    return values


# One valid row of each kind the done-when names: bankgiro + OCR, plusgiro, BBAN, SEK IBAN, EUR IBAN.
MIXED_ROWS = [
    row(payment_id="INV-1001"),
    row(
        payment_id="INV-1002",
        account_type="PG",
        account="12345-5",
        amount="7125.50",
        ocr="",
        message="Faktura 2026-0512",
    ),
    row(
        payment_id="INV-1003",
        account_type="BBAN",
        account="5000 1234560",
        amount="2990.00",
        ocr="",
        message="Faktura 88",
    ),
    row(
        payment_id="INV-1004",
        creditor_name="Städbolaget i Umeå AB",
        account_type="IBAN",
        account="SE45 5000 0000 0583 9825 7466",
        amount="1200.10",
        ocr="",
        message="Städning november",
    ),
    row(
        payment_id="INV-1005",
        creditor_name="Müller & Söhne GmbH",
        account_type="IBAN",
        account="DE89370400440532013000",
        amount="950.00",
        currency="EUR",
        ocr="",
        message="Rechnung 4711 für Oktober",
        creditor_street="Mainzer Landstraße",
        creditor_building="16",
        creditor_postcode="60325",
        creditor_town="Frankfurt am Main",
    ),
]


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    """Payables rows as the ERP would export them."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- real services: S3 over HTTP (moto's server) and PostgreSQL ----------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a loopback port: the S3 store is tested over HTTP, not patched in-process."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-north-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"paydag-raw-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
    )
    return bucket


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The machine's PostgreSQL (PAYDAG_TEST_DATABASE_URL); tests that need it skip when it is absent."""
    url = os.environ.get("PAYDAG_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any reason it cannot be reached is a reason to skip
        pytest.skip(f"PostgreSQL not reachable at {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    return url


@contextmanager
def fresh_database(server_url: str, prefix: str = "paydag_test") -> Iterator[str]:
    """A new database on the PostgreSQL server, dropped afterwards (its URL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database on the PostgreSQL server, dropped afterwards."""
    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The register's database: SQLite in a temporary home, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'register.sqlite3'}"
    return request.getfixturevalue("postgres_url")


# --- a Prefect server for `paydag` commands run as processes ----------------------------------------


@pytest.fixture(scope="session")
def prefect_server_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Prefect server (SQLite) for the session's `paydag send`/`poll` processes, which would each
    start a temporary server of their own otherwise (about 20 s apiece). Its PREFECT_API_URL."""
    from paydag.cli.demo.stack import Stack, free_port

    home = tmp_path_factory.mktemp("prefect-server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    stack = Stack(home)
    try:
        yield f"{stack.prefect_server(free_port(), env)}/api"
    finally:
        stack.stop()


# --- the provider sandbox, over HTTP on a loopback port -----------------------------------------


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    from sandbox.server import running_sandbox

    with running_sandbox(tmp_path / "sandbox") as url:
        yield url


@pytest.fixture
def pagero(sandbox_url: str, tmp_path: Path):
    """A PageroChannel on the sandbox with the sandbox's test credentials; no real waiting on retries."""
    from paydag.providers.pagero import PageroChannel, PageroCredentials, TokenStore
    from sandbox.app import SandboxCredentials

    c = SandboxCredentials()
    channel = PageroChannel(
        sandbox_url,
        PageroCredentials(c.client_id, c.client_secret, c.username, c.password),
        TokenStore(tmp_path / "pagero-token.json"),
        timeout=5,
        backoff_seconds=0.01,
    )
    yield channel
    channel.close()


def sandbox_call(url: str, method: str, path: str, body: object = None) -> object:
    import httpx

    response = httpx.request(method, f"{url}{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[object]:
    """Debian's OpenSSH server on a loopback port (tests/sftp_server.py); skipped where it is not installed."""
    from tests.sftp_server import SSHD, start_sftp_server

    if not SSHD.exists():
        pytest.skip(f"{SSHD} not found: install Debian's openssh-server (.ci/run does)")
    yield from start_sftp_server(tmp_path)
