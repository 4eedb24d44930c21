"""The payment register: SQLAlchemy models, alembic migrations, and the `Register` that writes them."""

from paydag.register.models import BatchState, PaymentState
from paydag.register.register import BatchRecord, PaymentRecord, Register, RegisterError

__all__ = ["BatchRecord", "BatchState", "PaymentRecord", "PaymentState", "Register", "RegisterError"]
