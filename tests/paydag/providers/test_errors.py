"""The providers' errors under one root: a caller tells refused from unreachable, whichever provider."""

from __future__ import annotations

import pytest

from paydag.providers import autogiro, channel, payex
from paydag.providers.errors import (
    ConsentInvalid,
    PayExProblem,
    ProviderError,
    ProviderException,
    ProviderUnavailable,
)


def test_every_provider_error_has_the_one_root() -> None:
    assert issubclass(ProviderError, ProviderException)
    assert issubclass(PayExProblem, ProviderError)  # a PayEx refusal is a refusal like Pagero's
    assert issubclass(ProviderUnavailable, ProviderException)
    assert issubclass(ConsentInvalid, ProviderException) and issubclass(ConsentInvalid, ValueError)
    assert not issubclass(ProviderUnavailable, ProviderError)  # unreachable is not refused: run again
    # the modules that raised them before still name the same classes
    assert channel.ProviderError is ProviderError and channel.ProviderUnavailable is ProviderUnavailable
    assert payex.PayExProblem is PayExProblem and autogiro.ConsentInvalid is ConsentInvalid


def test_a_payex_problem_reads_as_before_and_carries_its_status() -> None:
    problem = PayExProblem(
        400, "Bad Request", "amount too high", [("amount", "max 20000")], "/ledgers/1234/accounts"
    )
    assert str(problem) == "/ledgers/1234/accounts: 400 Bad Request: amount too high (amount: max 20000)"
    with pytest.raises(ProviderError) as refused:
        raise problem
    assert refused.value.status == 400 and refused.value.problems == [("amount", "max 20000")]
