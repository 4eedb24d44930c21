"""When a task is retried (only for failures that another attempt can fix), and the one decorator of I/O tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import OperationalError

from paydag.providers.errors import ProviderUnavailable

RETRY_DELAYS = [10, 30, 90, 270, 600]  # seconds; the provider may be down for minutes

TRANSIENT = (ProviderUnavailable, OperationalError, ConnectionError, TimeoutError)


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a provider that could not be reached, a database that went away, a dropped connection;
    never a validation error, a 4xx or a bug."""
    try:
        state.result()
    except TRANSIENT:
        return True
    except Exception:
        return False
    return False


def io_task(
    name: str, *, retries: int = 3, provider: str | None = None, **options: Any
) -> Callable[..., Any]:
    """The task decorator of one unit of I/O: retried on transient failures only, never cached (what it
    does must happen each run). `provider` names the tag whose concurrency limit caps the calls to that
    provider (pagero-api, payex-api, autogiro-api)."""
    if provider is not None:
        options["tags"] = [provider]
    return task(name=name, retries=retries, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=transient,
                cache_policy=NO_CACHE, **options)  # fmt: skip
