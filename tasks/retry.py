"""When a task is retried: only for failures that another attempt can fix."""

from __future__ import annotations

from typing import Any

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
