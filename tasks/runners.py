"""Where a flow's per-file tasks run: threads in the flow run's own process by default, or the Dask
cluster named by PAYDAG_DASK_ADDRESS, so that one poll's files are downloaded, parsed and applied on
several hosts. Every Dask worker needs the checkout and the same PAYDAG_ settings and PREFECT_API_URL
as the Prefect worker: the register and the raw store are shared (PostgreSQL, S3), nothing local."""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from paydag.settings import load_settings


def per_file(max_workers: int = 4) -> TaskRunner:
    """The task runner for one task per file, chosen when the flow module is loaded."""
    address = load_settings().dask_address
    if address:
        from prefect_dask import DaskTaskRunner  # only where a cluster is configured

        return DaskTaskRunner(address=address)
    return ThreadPoolTaskRunner(max_workers=max_workers)
