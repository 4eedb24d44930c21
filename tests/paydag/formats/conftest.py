"""What the format tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paydag.formats import columnar


@pytest.fixture(autouse=True)
def _no_read_left_ahead() -> Iterator[None]:
    """Each format test starts and ends with no read ahead waiting (one left by a failing test, say)."""
    columnar._AHEAD.clear()
    yield
    columnar._AHEAD.clear()
