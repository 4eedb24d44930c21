"""sync-eft-consents: autogiro consents brought in line with the desired list, differences only."""

from __future__ import annotations

from prefect import flow

from tasks.sync import apply_consent_differences, publish_consent_changes, read_desired_consents


@flow(name="sync-eft-consents", flow_run_name="sync consents {desired}")
def sync_eft_consents(desired: str) -> dict[str, object]:
    """Compare the desired consents (CSV: person_id, company_id, clearing_number, account_number, bgc_action)
    with the API's list; create or modify only what differs; report what changed and what failed.

    Args:
        desired: the CSV, a local path or an s3:// URI
    """
    wanted = read_desired_consents(desired)
    changes = apply_consent_differences(wanted)
    return publish_consent_changes(changes)
