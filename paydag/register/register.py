"""The payment register: what was built, archived and sent, where every payment stands, what was
received, settled and left to reconcile. One class over one database, one module per lifecycle.

Every write is one transaction and idempotent: recording the same fact twice changes nothing, so any
step of a flow can be run again after a crash.
"""

from __future__ import annotations

from paydag.register.approvals import Approvals
from paydag.register.batches import Batches
from paydag.register.claims import Claims
from paydag.register.exceptions import ReconExceptions
from paydag.register.received import ReceivedFiles
from paydag.register.settlements import SettlementReports
from paydag.register.snapshot import Snapshots
from paydag.register.statements import Statements


class Register(Batches, Approvals, ReceivedFiles, SettlementReports, ReconExceptions, Snapshots, Statements):
    """The register at `url` (SQLite or PostgreSQL), migrated to the newest schema unless `migrate` is False."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        super().__init__(url, migrate=migrate)
        self.claims = Claims(self._tx)  # one poll and one send per company at a time
