"""Sending a payables batch exactly once: the steps the send-payment-file flow runs (steps)."""

from paydag.send.steps import (
    BatchInvalid,
    SendOutcome,
    archive_file,
    build_batch_file,
    build_payment_file,
    deliver,
    follow_status,
    register_built,
    validated_batch,
)

__all__ = [
    "BatchInvalid",
    "SendOutcome",
    "archive_file",
    "build_batch_file",
    "build_payment_file",
    "deliver",
    "follow_status",
    "register_built",
    "validated_batch",
]
