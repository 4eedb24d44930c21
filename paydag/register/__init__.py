"""The payment register: SQLAlchemy models, alembic migrations, and the `Register` that writes them."""

from paydag.register.models import BatchState, PaymentState
from paydag.register.register import (
    BatchRecord,
    IncomingPayment,
    PaymentRecord,
    ReceivedFile,
    Register,
    RegisterError,
    SettlementRecord,
)
from paydag.register.returns import ApplyResult

__all__ = [
    "ApplyResult",
    "BatchRecord",
    "BatchState",
    "IncomingPayment",
    "PaymentRecord",
    "PaymentState",
    "ReceivedFile",
    "Register",
    "RegisterError",
    "SettlementRecord",
]
