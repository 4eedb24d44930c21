"""One poll and one send per company at a time: the register's claims (paydag/register/claims.py) held
around a flow's steps, the flow run named as the holder, the waiting said in the run's log.

Not Prefect's concurrency limits: their leases live in the Prefect server, so a holder that died with
its server, or a server restart, left a company's slot taken for good. A claim in the register runs
out by itself when its holder stops renewing it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import closing, contextmanager

from prefect import get_run_logger
from prefect.runtime import deployment, flow_run

from paydag.register import Work
from paydag.register.claims import HeldClaim, hold
from tasks import resources


def holder() -> str:
    """Who holds a claim, as an operator finds it: deployment, flow run, process and host."""
    where = f"pid {os.getpid()} on {socket.gethostname()}"
    run = f"flow run {flow_run.name!r} ({flow_run.id})" if flow_run.id else "a run outside Prefect"
    return f"deployment {deployment.name!r}, {run}, {where}" if deployment.id else f"{run}, {where}"


@contextmanager
def one_per_company(work: Work, company: str) -> Iterator[HeldClaim]:
    """Hold the company's claim for `work` for the block (waiting for it as the settings say)."""
    s = resources.settings()
    with (
        closing(resources.register()) as register,
        hold(
            register.claims,
            work,
            company,
            holder(),
            lease_seconds=s.claim_lease_seconds,
            wait_seconds=s.claim_wait_seconds,
            log=get_run_logger(),
        ) as held,
    ):
        yield held
