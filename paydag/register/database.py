"""The register's database: the engine (SQLite or PostgreSQL), its migrations, and the one
transaction every write runs in. The lifecycles (batches, received, settlements, exceptions) build on it.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from paydag.settings import package_data

MIGRATIONS = package_data("paydag.register.migrations")
_UPGRADE_LOCK = threading.Lock()


class RegisterError(Exception):
    """The register refused a write; the message says why."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
            # Take the write lock at the start: a deferred transaction that reads and then writes
            # fails at once ("database is locked") when another writer got in between, instead of
            # waiting. The register is small; serialising its transactions costs nothing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


MIGRATION_LOCK = 0x70617964  # "payd": the advisory lock PostgreSQL migrations of the register take
COMPANY_LOCK = 0x636F6D70  # "comp": with the company's number, the lock a change to its payments takes


def serialise_company(session: Session, company_id: str) -> None:
    """Hold the company's payments for the rest of the transaction.

    A poll applies its files on several threads, so a pain.002 and a camt.054 for the same payments can
    apply at once. PostgreSQL's READ COMMITTED would let both read SENT, and the later commit would
    overwrite the earlier (ACCEPTED over BOOKED): a lost update. One lock per company, taken after the
    file's row lock and before any payment is read, makes the second wait and then read what the first
    wrote. SQLite needs nothing: BEGIN IMMEDIATE already serialises every write.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(company_id.encode()) - 2**31  # pg_advisory_xact_lock(int4, int4): signed
        session.execute(text("SELECT pg_advisory_xact_lock(:lock, :key)"), {"lock": COMPANY_LOCK, "key": key})


class RegisterBase:
    """The engine and the transaction; every write is one transaction and idempotent."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration (alembic)."""
        # Alembic's command API keeps its context in module globals: two threads upgrading at once (a
        # poll's parallel file tasks each open the register) break each other's ("KeyError: 'script'").
        with _UPGRADE_LOCK:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            sqlite = self.engine.dialect.name == "sqlite"
            with self.engine.connect() as conn:
                # SQLite changes a column by rebuilding its table, which its foreign keys forbid while
                # they are enforced: SQLite's own procedure turns them off outside the transaction,
                # migrates, checks every reference before the commit, and turns them on again.
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
                try:
                    with conn.begin():
                        if conn.dialect.name == "postgresql":  # other processes opening a new register
                            # at once (two workers' first runs) wait here, then find it migrated
                            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                        cfg.attributes["connection"] = conn
                        command.upgrade(cfg, revision)
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() if sqlite else []
                        if broken:
                            raise RegisterError(
                                f"the migration left rows that refer to nothing: {broken[:5]}"
                            )
                finally:
                    if sqlite:
                        conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session
