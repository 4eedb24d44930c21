"""The one retry loop every provider client uses, and the base client that owns the connection: a
timeout on each call, retries with exponential backoff only for what another attempt can fix (transport
errors, 429 honouring Retry-After, and the 5xx the provider marks as passing), and everything else
handed back to the client to interpret."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

from paydag.providers.errors import ProviderUnavailable

RETRYABLE = frozenset({429, 500, 502, 503, 504})  # 501 "not implemented/configured" never passes


@dataclass(frozen=True)
class Retry:
    attempts: int  # 1: no retries (an upload that may have arrived is looked up, not repeated)
    backoff_seconds: float
    sleep: Callable[[float], None]
    statuses: frozenset[int] = field(default=RETRYABLE)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return min(float(value), 300.0) if value is not None else None
    except ValueError:
        return None


def request(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    retry: Retry,
    log: logging.Logger,
    describe: Callable[[httpx.Response], str] = lambda r: r.reason_phrase,
    **kwargs: Any,
) -> httpx.Response:
    """The response of the first attempt that is not a passing failure; ProviderUnavailable when every
    attempt failed so. Only the path is ever logged: query strings may carry keys and personal data."""
    path = httpx.URL(url).path if "://" in url else url.split("?", 1)[0]
    for attempt in range(1, retry.attempts + 1):
        last = attempt == retry.attempts
        try:
            response = http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            log.warning(
                "%s %s: %s (attempt %d of %d)", method, path, type(exc).__name__, attempt, retry.attempts
            )
            if last:
                raise ProviderUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
            retry.sleep(retry.backoff_seconds * 2 ** (attempt - 1))
            continue
        if response.status_code not in retry.statuses:
            return response
        log.warning(
            "%s %s: %d (attempt %d of %d)", method, path, response.status_code, attempt, retry.attempts
        )
        if last:
            raise ProviderUnavailable(f"{method} {path}: {response.status_code} {describe(response)}")
        retry.sleep(retry_after(response) or retry.backoff_seconds * 2 ** (attempt - 1))
    raise ProviderUnavailable(f"{method} {path}: no attempt was made")


class ProviderClient:
    """What every provider client is built on: it owns the httpx.Client (base URL, timeout, headers),
    the retry policy and closing; subclasses are thin resources over `_send`.

    `retries` is the number of attempts after the first; `transport` and `sleep` are there for tests.
    """

    log = logging.getLogger("paydag.providers")

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers=headers,
            transport=transport,
            verify=True,
        )
        self._retries, self._backoff, self._sleep = retries, backoff_seconds, sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        url: str,
        *,
        retried: bool = True,
        describe: Callable[[httpx.Response], str] = lambda r: r.reason_phrase,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call through the retry loop; `retried=False` for a call another attempt must not repeat
        (an upload that may have arrived)."""
        policy = Retry(self._retries + 1 if retried else 1, self._backoff, self._sleep)
        return request(self._http, method, url, retry=policy, log=self.log, describe=describe, **kwargs)
