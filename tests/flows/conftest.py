"""Flows run under Prefect: one temporary Prefect API for the session, results kept out of ~/.prefect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    store = tmp_path_factory.mktemp("prefect-results")
    with (
        temporary_settings(updates={PREFECT_RESULTS_LOCAL_STORAGE_PATH: store}),
        prefect_test_harness(server_startup_timeout=120),
    ):
        yield
