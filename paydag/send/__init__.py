"""Sending a payables batch exactly once: the steps the send-payment-file flow runs (steps), and a
payables file built to a pain.001 on its own (payment_file).

Names are loaded when first used (PEP 562), so that `paydag build-pain001` and other users of
payment_file alone do not load the register's database driver and the object store's client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paydag.send.controls import Controls, check_payments
    from paydag.send.payment_file import build_payment_file
    from paydag.send.steps import (
        BatchInvalid,
        BatchNotApproved,
        SendOutcome,
        archive_file,
        build_batch_file,
        deliver,
        follow_status,
        register_built,
        validated_batch,
    )

_MODULE_OF = {
    "Controls": "controls",
    "check_payments": "controls",
    "BatchInvalid": "steps",
    "BatchNotApproved": "steps",
    "SendOutcome": "steps",
    "archive_file": "steps",
    "build_batch_file": "steps",
    "build_payment_file": "payment_file",
    "deliver": "steps",
    "follow_status": "steps",
    "register_built": "steps",
    "validated_batch": "steps",
}

__all__ = [
    "BatchInvalid",
    "BatchNotApproved",
    "Controls",
    "SendOutcome",
    "archive_file",
    "build_batch_file",
    "build_payment_file",
    "check_payments",
    "deliver",
    "follow_status",
    "register_built",
    "validated_batch",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"paydag.send.{_MODULE_OF[name]}"), name)
