"""One run at a time per company: a Prefect global concurrency limit of one slot per (flow, company),
created on first use, so polls of different companies run side by side while two polls of the same
company queue (the register would keep them correct anyway; the limit keeps them from doing work twice)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound


def limit_name(flow_name: str, company: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", f"{flow_name}-{company}".lower())


@contextmanager
def one_per_company(flow_name: str, company: str, timeout_seconds: float = 900) -> Iterator[None]:
    """Hold the company's slot for the block; TimeoutError after `timeout_seconds` of waiting for it."""
    name = limit_name(flow_name, company)
    with get_client(sync_client=True) as client:
        try:  # an existing limit (an operator may have changed it) is left as it is
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it just now
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    with concurrency(name, occupy=1, timeout_seconds=timeout_seconds, strict=True):
        yield
