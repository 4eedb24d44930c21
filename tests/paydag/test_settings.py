from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from paydag.settings import ConfigurationError, load_settings

CONFIG = """
database_url = "sqlite:////tmp/from-file.sqlite3"

[companies.acme]
legal_name = "Acme Bygg AB"
org_number = "5566778899"
debtor_account = "5000 1234560"
bic = "ESSESESS"
bank_profile = "seb"
provider_company_id = "acme-1"
bank_customer_id = "12345"
"""


def test_example_config_has_the_demo_company() -> None:
    settings = load_settings()
    demo = settings.company("demo")
    assert demo.org_number == "5566778899"
    assert demo.debtor_account_form == "IBAN"
    assert demo.bank_profile == "swedbank"


def test_toml_file_then_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "paydag.toml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("PAYDAG_CONFIG", str(config))
    settings = load_settings()
    assert settings.database_url == "sqlite:////tmp/from-file.sqlite3"
    acme = settings.company("acme")
    assert acme.debtor_account == "50001234560"
    assert acme.debtor_account_form == "BBAN"

    monkeypatch.setenv("PAYDAG_DATABASE_URL", "postgresql+psycopg://db/paydag")
    monkeypatch.setenv("PAYDAG_COMPANIES__ACME__BIC", "NDEASESS")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://db/paydag"
    assert settings.company("acme").bic == "NDEASESS"
    assert settings.company("acme").legal_name == "Acme Bygg AB"


def test_defaults_live_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDAG_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path}/register.sqlite3"
    assert settings.effective_raw_store == (tmp_path / "raw").as_uri()


def test_unknown_company_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="known: demo"):
        load_settings().company("nope")


def test_missing_config_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDAG_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings()


def test_invalid_company_values_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "paydag.toml"
    config.write_text(CONFIG.replace('"5566778899"', '"5566778898"'), encoding="utf-8")
    monkeypatch.setenv("PAYDAG_CONFIG", str(config))
    with pytest.raises(ValidationError, match="organisation number"):
        load_settings()
