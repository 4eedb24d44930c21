"""Claims on SQLite and on the machine's PostgreSQL: one holder at a time, leases that run out by
themselves, renewal from a heartbeat, a lost claim noticed, an operator's clearing recorded."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from paydag.register import ClaimBusy, ClaimLost, Register
from paydag.register.claims import ClaimAction, hold

LOG = logging.getLogger("test-claims")


@pytest.fixture
def register(database_url: str) -> Register:
    reg = Register(database_url)
    yield reg
    reg.close()


def test_one_holder_at_a_time_per_work_and_company(register: Register) -> None:
    claims = register.claims
    first = claims.take("poll", "demo", "run A", lease_seconds=60)
    assert first.token and first.claim.holder == "run A" and first.took_over is None
    second = claims.take("poll", "demo", "run B", lease_seconds=60)
    assert second.token is None and second.claim.holder == "run A"
    # Another company's poll, and the same company's send, are other claims.
    assert claims.take("poll", "other-ab", "run C", lease_seconds=60).token
    assert claims.take("send", "demo", "run D", lease_seconds=60).token

    assert claims.release("poll", "demo", first.token)
    assert not claims.release("poll", "demo", first.token)  # a second release is not the holder's
    assert claims.claim("poll", "demo").holder is None
    assert claims.take("poll", "demo", "run B", lease_seconds=60).token
    actions = [(e.action, e.holder) for e in claims.events("poll", "demo")]
    assert actions == [
        (ClaimAction.TAKEN, "run A"),
        (ClaimAction.RELEASED, "run A"),
        (ClaimAction.TAKEN, "run B"),
    ]


def test_a_lease_that_runs_out_is_taken_over_and_its_holder_finds_out(register: Register) -> None:
    claims = register.claims
    dead = claims.take("poll", "demo", "run that died", lease_seconds=1)
    assert claims.take("poll", "demo", "next run", lease_seconds=60).token is None  # still in its lease
    time.sleep(1.2)
    after = claims.take("poll", "demo", "next run", lease_seconds=60)
    assert after.token and after.claim.holder == "next run"
    assert after.took_over.startswith("from run that died, whose lease ran out at ")
    assert claims.renew("poll", "demo", dead.token, lease_seconds=60) is None  # no longer its claim
    assert not claims.release("poll", "demo", dead.token)  # and it cannot free the new holder's
    assert claims.claim("poll", "demo").holder == "next run"
    assert claims.events("poll", "demo")[-1].action is ClaimAction.TAKEN_OVER


def test_renewal_keeps_a_claim_past_its_first_lease(register: Register) -> None:
    claims = register.claims
    with hold(claims, "poll", "demo", "long run", lease_seconds=1, wait_seconds=0, log=LOG) as held:
        time.sleep(2.5)  # more than two leases: the heartbeat renewed it
        assert claims.take("poll", "demo", "other", lease_seconds=1).token is None
        held.check()
    assert claims.claim("poll", "demo").holder is None  # released when the block ended
    assert [e.action for e in claims.events("poll", "demo")] == [ClaimAction.TAKEN, ClaimAction.RELEASED]


def test_two_holders_started_together_never_overlap(register: Register) -> None:
    claims = register.claims
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        with hold(claims, "poll", "demo", name, lease_seconds=30, wait_seconds=30, log=LOG, retry_every=0.05):
            with lock:
                inside.append(name)
                if len(inside) > 1:
                    overlaps.append(tuple(inside))
            time.sleep(0.3)
            with lock:
                inside.remove(name)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, [f"run {i}" for i in range(4)]))
    assert overlaps == []
    taken = [e.holder for e in claims.events("poll", "demo") if e.action is ClaimAction.TAKEN]
    assert sorted(taken) == [f"run {i}" for i in range(4)]


def test_a_waiter_says_whom_it_waits_for_and_gives_up_naming_the_command(
    register: Register, caplog: pytest.LogCaptureFixture
) -> None:
    claims = register.claims
    claims.take("poll", "demo", "poll demo (flow run 1234) pid 99 on host a", lease_seconds=60)
    caplog.set_level(logging.INFO, logger="test-claims")
    started = time.monotonic()
    with (
        pytest.raises(ClaimBusy) as busy,
        hold(claims, "poll", "demo", "me", lease_seconds=60, wait_seconds=2.2, log=LOG, report_every=0.5),
    ):
        pass
    assert 2.0 <= time.monotonic() - started < 4
    message = str(busy.value)
    assert "the poll claim of company demo is held by poll demo (flow run 1234) pid 99 on host a" in message
    assert "paydag unlock --company demo --what poll" in message
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting since")]
    assert len(waits) >= 3  # every half second, as asked
    assert all("held by poll demo (flow run 1234)" in w for w in waits)
    assert claims.claim("poll", "demo").holder.startswith("poll demo")  # the waiter took nothing


def test_a_cleared_claim_is_recorded_and_its_holder_stops_before_it_acts(register: Register) -> None:
    claims = register.claims
    with hold(claims, "send", "demo", "stuck run", lease_seconds=0.8, wait_seconds=0, log=LOG) as held:
        before = claims.clear("send", "demo", by="operator anna", reason="run hung")
        assert before.holder == "stuck run"
        assert claims.clear("send", "demo", by="operator anna") is None  # nothing left to clear
        time.sleep(0.6)  # the holder's next heartbeat finds the claim gone
        with pytest.raises(ClaimLost, match="cleared by an operator"):
            held.check()
        assert claims.take("send", "demo", "next run", lease_seconds=60).token
    assert claims.claim("send", "demo").holder == "next run"  # the lost holder released nothing
    cleared = [e for e in claims.events("send", "demo") if e.action is ClaimAction.CLEARED]
    assert [(e.holder, e.by, e.detail) for e in cleared] == [("stuck run", "operator anna", "run hung")]


def test_a_holder_that_cannot_renew_counts_its_claim_lost(register: Register) -> None:
    claims = register.claims
    with hold(claims, "poll", "demo", "cut off", lease_seconds=0.8, wait_seconds=0, log=LOG) as held:
        held._stop.set()  # as if every renewal failed (the register unreachable)
        time.sleep(1.0)
        with pytest.raises(ClaimLost, match="could not be renewed"):
            held.check()
