"""The payment register: SQLAlchemy models, alembic migrations, and the `Register` that writes them."""

from paydag.register.claims import Claim, ClaimBusy, ClaimError, ClaimLost, Claims, Work
from paydag.register.models import BatchState, PaymentState
from paydag.register.register import (
    BatchRecord,
    ExceptionsUpdate,
    IncomingPayment,
    PaymentRecord,
    ReceivedFile,
    ReconException,
    Register,
    RegisterError,
    SettlementRecord,
)
from paydag.register.returns import ApplyResult

__all__ = [
    "ApplyResult",
    "BatchRecord",
    "BatchState",
    "Claim",
    "ClaimBusy",
    "ClaimError",
    "ClaimLost",
    "Claims",
    "ExceptionsUpdate",
    "IncomingPayment",
    "PaymentRecord",
    "PaymentState",
    "ReceivedFile",
    "ReconException",
    "Register",
    "RegisterError",
    "SettlementRecord",
    "Work",
]
