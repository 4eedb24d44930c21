"""Every error a provider client raises, under one root, so that a caller can tell "refused, do not
retry" from "unreachable, run again" whichever provider it was:

    ProviderException           anything a provider client raises about a provider
    ├── ProviderError           the provider refused a request; retrying will not fix it (a 4xx)
    │   └── PayExProblem        PayEx's application/problem+json: title, detail, field problems
    ├── ProviderUnavailable     not reached, or kept failing (transport errors, 429, 5xx) after retries
    └── ConsentInvalid          an autogiro consent failed a check before any call was made
"""

from __future__ import annotations


class ProviderException(Exception):
    """Anything a provider client raises about a provider."""


class ProviderError(ProviderException):
    """The provider answered with an error that retrying will not fix (a 4xx)."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path}: {status} {message}".strip())
        self.status = status
        self.message = message


class PayExProblem(ProviderError):
    """The PayEx API refused a request (application/problem+json): status, title, detail and field problems."""

    def __init__(
        self, status: int, title: str, detail: str | None, problems: list[tuple[str, str]], path: str
    ) -> None:
        fields = "; ".join(f"{f}: {m}" for f, m in problems)
        super().__init__(
            status, title + (f": {detail}" if detail else "") + (f" ({fields})" if fields else ""), path=path
        )
        self.title, self.detail, self.problems = title, detail, problems


class ProviderUnavailable(ProviderException):
    """The provider could not be reached or kept failing (transport errors, 429, 5xx) after retries.

    After an upload this means: the file may or may not have arrived. Look it up by senderReference
    before uploading again.
    """


class ConsentInvalid(ProviderException, ValueError):
    """A consent request failed a check before it was sent; the message says which value and why."""
