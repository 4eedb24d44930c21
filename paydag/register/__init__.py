"""The payment register: SQLAlchemy models (models), alembic migrations, and the `Register` that
writes them, one module per lifecycle: batches (send), received (poll), settlements (ingest),
exceptions (reconcile), claims (one poll and one send per company)."""

from paydag.register.approvals import ApprovalEvent, Decision
from paydag.register.batches import BatchRecord, EarlierPayment, PayeeHistory, PaymentRecord
from paydag.register.claims import Claim, ClaimBusy, ClaimError, ClaimLost, Claims, Work
from paydag.register.database import RegisterError
from paydag.register.exceptions import ExceptionsUpdate, ReconException
from paydag.register.models import BatchState, FileState, PaymentState, ReportState
from paydag.register.received import IncomingPayment, ReceivedFile
from paydag.register.register import Register
from paydag.register.returns import ApplyResult
from paydag.register.settlements import SettlementRecord

__all__ = [
    "ApplyResult",
    "ApprovalEvent",
    "BatchRecord",
    "BatchState",
    "Claim",
    "ClaimBusy",
    "ClaimError",
    "ClaimLost",
    "Claims",
    "Decision",
    "EarlierPayment",
    "ExceptionsUpdate",
    "FileState",
    "IncomingPayment",
    "PayeeHistory",
    "PaymentRecord",
    "PaymentState",
    "ReceivedFile",
    "ReconException",
    "Register",
    "RegisterError",
    "ReportState",
    "SettlementRecord",
    "Work",
]
