"""The register on SQLite and on the machine's PostgreSQL: migrations, idempotent writes, constraints."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from paydag.formats.bank_profiles import bank_profile
from paydag.payables import Payment, validate_payables
from paydag.register import BatchState, PaymentState, Register, RegisterError
from paydag.settings import load_settings
from paydag.storage import Direction, LocalRawStore, RawObject
from tests.conftest import MIXED_ROWS, TODAY

CREATED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def register(database_url: str) -> Register:
    reg = Register(database_url)
    reg.ensure_company("demo", load_settings().company("demo"))
    yield reg
    reg.close()


def payments() -> list[Payment]:
    valid, report = validate_payables(
        enumerate(MIXED_ROWS, start=2),
        company="demo",
        profile=bank_profile("generic"),
        today=TODAY,
        source="t",
    )
    assert report.ok
    return valid


def archived(tmp_path: Path, data: bytes = b"<Document/>") -> RawObject:
    return LocalRawStore(tmp_path / "raw").put(Direction.OUTGOING, "demo", "pain001.xml", data, source="test")


def build_batch(register: Register, raw: RawObject, msg_id: str = "PDTEST0001") -> None:
    register.begin_batch(msg_id, "demo", "payables.csv", CREATED)
    register.record_built(
        msg_id,
        raw=raw,
        name="pain001.xml",
        file_format="pain.001.001.03",
        nb_of_txs=5,
        ctrl_sum="30715.60",
        payments=((p, p.payment_id, f"{msg_id}-001") for p in payments()),
    )


def test_migrations_create_the_tables(register: Register) -> None:
    tables = set(inspect(register.engine).get_table_names())
    assert {"companies", "batches", "payments", "files", "status_events", "alembic_version"} <= tables
    register.upgrade()  # a second upgrade is a no-op


def test_batch_lifecycle_is_idempotent(register: Register, tmp_path: Path) -> None:
    raw = archived(tmp_path)
    first = register.begin_batch("PDTEST0001", "demo", "payables.csv", CREATED)
    again = register.begin_batch("PDTEST0001", "demo", "payables.csv", datetime.now(UTC))
    assert first.state is BatchState.PENDING
    assert again.created_at == CREATED  # a rebuild after a crash reuses the first creation time

    build_batch(register, raw)
    build_batch(register, raw)
    record = register.batch("PDTEST0001")
    assert (record.state, record.raw_key, record.nb_of_txs, record.ctrl_sum) == (
        BatchState.BUILT,
        raw.key,
        5,
        "30715.60",
    )
    stored = register.payments("PDTEST0001")
    assert [p.payment_id for p in stored] == [r["payment_id"] for r in MIXED_ROWS]
    assert {p.state for p in stored} == {PaymentState.BUILT}
    assert stored[1].amount_minor == 712550 and stored[4].currency == "EUR"

    register.record_sent("PDTEST0001", "file-123")
    register.record_sent("PDTEST0001", "file-123")
    record = register.batch("PDTEST0001")
    assert (record.state, record.provider_file_id) == (BatchState.SENT, "file-123")
    assert {p.state for p in register.payments("PDTEST0001")} == {PaymentState.SENT}
    with pytest.raises(RegisterError, match="was sent as provider file file-123"):
        register.record_sent("PDTEST0001", "file-999")

    history = register.events("PDTEST0001")
    assert history.count(("PENDING", "BUILT", None)) == 1
    assert history.count(("BUILT", "SENT", None)) == 6  # the batch and its five payments, once each


def test_a_payment_id_belongs_to_one_batch(register: Register, tmp_path: Path) -> None:
    build_batch(register, archived(tmp_path))
    assert register.payments_already_registered("demo", ["INV-1001", "NEW-1"], "PDOTHER") == {
        "INV-1001": "PDTEST0001"
    }
    assert register.payments_already_registered("demo", ["INV-1001"], "PDTEST0001") == {}
    with pytest.raises(RegisterError, match="already registered"):
        build_batch(register, archived(tmp_path, b"<Other/>"), msg_id="PDOTHER")


def test_file_status_history(register: Register, tmp_path: Path) -> None:
    build_batch(register, archived(tmp_path))
    register.record_sent("PDTEST0001", "file-1")
    register.record_file_status("PDTEST0001", "PROCESSING")
    register.record_file_status("PDTEST0001", "PROCESSING")
    register.record_file_status("PDTEST0001", "PROCESSED")
    assert register.batch("PDTEST0001").file_state == "PROCESSED"
    file_events = [e for e in register.events("PDTEST0001") if e[1] in ("PROCESSING", "PROCESSED")]
    assert file_events == [("SENT", "PROCESSING", None), ("PROCESSING", "PROCESSED", None)]


def test_recording_an_unknown_batch_is_an_error(register: Register, tmp_path: Path) -> None:
    with pytest.raises(RegisterError, match="never begun"):
        register.record_built(
            "PDNONE",
            raw=archived(tmp_path),
            name="x",
            file_format="f",
            nb_of_txs=0,
            ctrl_sum="0",
            payments=[],
        )
    with pytest.raises(RegisterError, match="not built"):
        register.record_sent("PDNONE", "file-1")


def test_upgrading_a_register_that_holds_data(database_url: str, tmp_path: Path) -> None:
    """Every migration runs on a register in use, not only on an empty one."""
    old = Register(database_url, migrate=False)
    old.upgrade("0001")
    old.ensure_company("demo", load_settings().company("demo"))
    build_batch(old, archived(tmp_path))
    old.record_sent("PDTEST0001", "file-1")
    old.close()

    upgraded = Register(database_url)
    try:
        assert upgraded.batch("PDTEST0001").state is BatchState.SENT
        assert len(upgraded.payments("PDTEST0001")) == 5
        assert "incoming_payments" in inspect(upgraded.engine).get_table_names()
    finally:
        upgraded.close()


def test_the_migrations_build_exactly_the_models(register: Register) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from paydag.register.models import Base

    with register.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_processes_opening_a_new_register_at_once_all_find_it_migrated(database_url: str) -> None:
    """Two workers' first runs open a fresh register together: each process migrates or waits for the
    other (an advisory lock on PostgreSQL, SQLite's write lock), none fails."""
    import subprocess
    import sys

    code = "import sys; from paydag.register import Register; Register(sys.argv[1]).close()"
    started = [subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE, text=True)
               for _ in range(4)]  # fmt: skip
    errors = [p.communicate(timeout=120)[1] for p in started]
    assert [p.returncode for p in started] == [0, 0, 0, 0], errors
    register = Register(database_url)
    try:
        assert "statements" in inspect(register.engine).get_table_names()
    finally:
        register.close()


def test_tasks_making_the_same_company_at_once_all_succeed(database_url: str) -> None:
    """A first poll's file tasks each make sure the company is in the register, at the same moment."""
    import threading

    register = Register(database_url)
    company = load_settings().company("demo")
    start, failures = threading.Barrier(8), []

    def make() -> None:
        start.wait()
        try:
            register.ensure_company("demo", company)
        except Exception as exc:  # what the test looks for
            failures.append(exc)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert failures == []
        with register.engine.connect() as conn:
            assert conn.exec_driver_sql("select count(*) from companies").scalar() == 1
    finally:
        register.close()
