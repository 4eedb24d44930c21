"""The two syncs under Prefect against the sandbox: idempotent, the watermark moving only after success,
and the synced bills feeding incoming-payment reconciliation."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flows.sync_credit_accounts import sync_credit_accounts
from flows.sync_eft_consents import sync_eft_consents
from paydag import resources, sync
from paydag.reconcile import IncomingState, reconcile_incoming
from paydag.samples import ocr_reference
from paydag.settings import load_settings


@pytest.fixture
def sandbox_env(sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PAYDAG_PAYEX_BASE_URL", sandbox_url)
    monkeypatch.setenv("PAYDAG_AUTOGIRO_BASE_URL", sandbox_url)
    return sandbox_url


def test_credit_accounts_sync_is_idempotent_and_feeds_reconciliation(sandbox_env: str) -> None:
    first = sync_credit_accounts()
    assert (first["accounts"], first["bills"], first["transactions"]) == (3, 9, 135)
    settings = load_settings()
    watermark = json.loads((settings.home / "watermarks" / "payex.json").read_text())
    assert set(watermark) == {"900001", "900002", "900003"}
    second = sync_credit_accounts()
    assert second["transactions"] == 0  # nothing after the watermark
    curated = settings.curated_dir / "credit_accounts"
    assert len(pd.read_parquet(curated / "transactions.parquet")) == 135  # not doubled
    store = resources.open_store(settings)
    assert all(store.exists(k) for k in first["raw_keys"])

    bills = sync.bills_for_reconciliation(settings.curated_dir)
    incoming = pd.DataFrame({"ocr": [ocr_reference(4711000), ocr_reference(4711001)], "amount_minor": [845000, 100],
                             "booking_date": ["2026-11-25", "2026-11-25"], "payer_name": ["A", "B"]})  # fmt: skip
    states = reconcile_incoming(incoming, bills).set_index("payer_name")["state"].to_dict()
    assert states == {"A": IncomingState.MATCHED, "B": IncomingState.PARTIAL}


def test_the_watermark_stays_when_the_bills_fail_their_checks(
    sandbox_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sync.fetch_credit_accounts

    def broken(*args, **kwargs):
        snapshot = real(*args, **kwargs)
        snapshot.bills.loc[0, "payment_reference_valid"] = False  # an open bill whose OCR fails its check
        return snapshot

    monkeypatch.setattr(sync, "fetch_credit_accounts", broken)
    with pytest.raises(ValueError, match="payment_reference_valid"):
        sync_credit_accounts()
    assert not (load_settings().home / "watermarks" / "payex.json").exists()


def test_consent_sync_changes_only_what_differs(sandbox_env: str, tmp_path: Path) -> None:
    desired = tmp_path / "consents.csv"
    desired.write_text(
        "person_id,company_id,clearing_number,account_number,bgc_action\n"
        "197012071234,demo-0001,5000,1234560,none\n"  # as it is
        "198112289874,demo-0001,9020,1234566,none\n"  # different account, but bgcaction add: refused
        "196408233234,demo-0001,8327-9,912 345 678-3,add\n"  # new
        "197012071235,demo-0001,5000,1234560,none\n"  # bad personal number
    )
    first = sync_eft_consents(desired=str(desired))
    assert first["counts"] == {"unchanged": 1, "failed": 2, "created": 1}
    reasons = {f["payer"]: f["reason"] for f in first["failed"]}
    assert any("only consents with bgcaction none" in r for r in reasons.values())
    assert any("personal number is not valid" in r for r in reasons.values())
    second = sync_eft_consents(desired=str(desired))
    assert second["counts"] == {"unchanged": 2, "failed": 2}  # the new one exists now: nothing to do


def test_reconcile_incoming_defaults_to_the_synced_bills(sandbox_env: str) -> None:
    from typer.testing import CliRunner

    from paydag.cli import app

    before = CliRunner().invoke(app, ["reconcile-incoming", "--json"])
    assert before.exit_code == 2  # nothing synced yet: said, not crashed
    sync_credit_accounts()
    after = CliRunner().invoke(app, ["reconcile-incoming", "--json"])
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["bills"] == "synced"


def test_a_failed_curation_fails_its_own_step_with_the_accounts_fetched_once(
    sandbox_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One task per step: the UI shows fetch, validate, curate and watermark as steps of their own, and
    a write that fails is a failed curate step, with the fetch done once."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    fetched = []
    real_fetch = sync.fetch_credit_accounts

    def counting(*args, **kwargs):
        fetched.append(1)
        return real_fetch(*args, **kwargs)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sync, "fetch_credit_accounts", counting)
    monkeypatch.setattr(sync, "curate_credit_accounts", full_disk)
    state = sync_credit_accounts(return_state=True)
    assert state.is_failed() and len(fetched) == 1
    assert not (load_settings().home / "watermarks" / "payex.json").exists()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    steps = {r.name.rsplit("-", 1)[0]: r.state.name for r in runs}
    assert steps == {
        "fetch-credit-accounts": "Completed",
        "validate-credit-account-bills": "Completed",
        "curate-credit-accounts": "Failed",
    }
    # the watermark step never ran: the next sync fetches the same transactions again


def test_the_payex_token_comes_from_its_secret_block_first(
    sandbox_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    from sandbox.payex import TOKEN
    from tasks.resources import PAYEX_TOKEN_BLOCK

    monkeypatch.setenv("PAYEX_TOKEN", "not-the-token")  # the environment is only the fallback
    Secret(value=TOKEN).save(PAYEX_TOKEN_BLOCK, overwrite=True)
    try:
        assert sync_credit_accounts()["accounts"] == 3
    finally:
        Secret.delete(PAYEX_TOKEN_BLOCK)
    with pytest.raises(Exception, match="401"):  # without the block, the wrong token from the environment
        sync_credit_accounts()
