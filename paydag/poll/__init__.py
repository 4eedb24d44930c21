"""Receiving bank files exactly once: the steps the poll-return-files flow runs (steps)."""

from paydag.poll.steps import (
    FINISHED,
    SETTLEMENT_READER,
    SOURCE,
    DocumentOutcome,
    DocumentState,
    acknowledge,
    new_documents,
    receive_document,
    take_in,
)

__all__ = [
    "FINISHED",
    "SETTLEMENT_READER",
    "SOURCE",
    "DocumentOutcome",
    "DocumentState",
    "acknowledge",
    "new_documents",
    "receive_document",
    "take_in",
]
