"""The autogiro (EFT) consent API (`autogiromedgivanden.xml`): list, create and modify consents.

Every parameter, the API key included, travels in the query string; so the key, account numbers and
personal numbers are redacted from every log line that could carry a URL (httpx logs requests at
INFO). Payer and account numbers are checked before any call is made.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree

from paydag import identifiers
from paydag.formats.xml import FormatError, parse_document
from paydag.providers.errors import ConsentInvalid, ProviderError
from paydag.providers.http import ProviderClient

log = logging.getLogger("paydag.autogiro")
PATH = "/autogiromedgivanden.xml"
_SECRET_PARAMS = re.compile(r"((?:apikey|accountnumber|payernumber|personid)=)[^&\s'\"]+", re.IGNORECASE)


class _Redact(logging.Filter):
    """Masks the API key and personal data in any log line's URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_PARAMS.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _install_redaction() -> None:
    for name in ("httpx", "httpcore", "paydag.autogiro"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Redact) for f in logger.filters):
            logger.addFilter(_Redact())


@dataclass(frozen=True)
class Consent:
    id: str
    payer_number: str | None
    person_id: str | None
    clearing_number: str | None
    account_number: str | None
    company_id: str | None
    company_name: str | None
    created: str | None
    active: bool
    bgc_action: str | None


def _consents(data: bytes) -> list[Consent]:
    try:
        root = parse_document(data, "autogiromedgivanden.xml")
    except FormatError as exc:
        raise ProviderError(0, f"unreadable answer: {exc}") from None

    def text(el: etree._Element, name: str) -> str | None:
        found = el.find(name)
        return found.text.strip() if found is not None and found.text and found.text.strip() else None

    return [
        Consent(
            id=text(c, "id") or "",
            payer_number=text(c, "payernumber"),
            person_id=text(c, "personid"),
            clearing_number=text(c, "clearingnumber"),
            account_number=text(c, "accountnumber"),
            company_id=text(c, "companyid"),
            company_name=text(c, "companyname"),
            created=text(c, "created"),
            active=(text(c, "active") or "").lower() in ("true", "1", "yes"),
            bgc_action=text(c, "bgcaction"),
        )
        for c in root.iter("autogiromedgivande")
    ]


def check_payer(person_id: str) -> str:
    try:
        return identifiers.personal_number(person_id)
    except identifiers.InvalidIdentifier as exc:
        raise ConsentInvalid(f"payer {identifiers.mask(person_id)}: {exc}") from None


def check_account(clearing_number: str, account_number: str) -> tuple[str, str]:
    try:
        account = identifiers.bank_account(f"{clearing_number} {account_number}")
    except identifiers.InvalidIdentifier as exc:
        raise ConsentInvalid(f"account {clearing_number} {identifiers.mask(account_number)}: {exc}") from None
    return account.clearing, account.account


class AutogiroClient(ProviderClient):
    """The autogiro consent API; its key travels as a query parameter and is redacted from every log."""

    log = log

    def __init__(self, base_url: str, api_key: str, **options: Any) -> None:
        _install_redaction()
        super().__init__(base_url, **options)
        self._key = api_key

    def __repr__(self) -> str:
        return "AutogiroClient(api_key=***)"

    def _call(self, method: str, params: dict[str, Any], *, retry: bool) -> list[Consent]:
        query = {"apikey": self._key, **{k: v for k, v in params.items() if v is not None}}
        response = self._send(method, PATH, retried=retry, params=query)
        if response.is_error:
            text = _SECRET_PARAMS.sub(r"\1***", response.text[:300])
            raise ProviderError(response.status_code, text, method=method, path=PATH)
        return _consents(response.content)

    def list(
        self, *, company_id: str | None = None, person_id: str | None = None, consent_id: str | None = None
    ) -> list[Consent]:
        return self._call(
            "GET", {"companyid": company_id, "personid": person_id, "id": consent_id}, retry=True
        )

    def create(
        self,
        *,
        person_id: str,
        company_id: str,
        clearing_number: str | None = None,
        account_number: str | None = None,
        bgc_action: Literal["add", "none"] = "none",
        waiting_for_econsent: bool = False,
    ) -> Consent:
        """A new consent. Without clearing and account number only while waiting for an e-consent that
        the payer signs in their internet bank. Not retried: a lost answer is looked up with `list`."""
        payer = check_payer(person_id)
        params: dict[str, Any] = {"personid": payer, "companyid": company_id, "bgcaction": bgc_action}
        if waiting_for_econsent:
            params["waitingforemedgivande"] = "true"
        elif not (clearing_number and account_number):
            raise ConsentInvalid("clearing and account number are required unless waiting for an e-consent")
        if clearing_number and account_number:
            params["clearingnumber"], params["accountnumber"] = check_account(clearing_number, account_number)
        [consent] = self._call("POST", params, retry=False)
        return consent

    def modify(
        self, *, consent_id: str, person_id: str, clearing_number: str, account_number: str
    ) -> Consent:
        payer = check_payer(person_id)
        clearing, account = check_account(clearing_number, account_number)
        [consent] = self._call(
            "PUT",
            {"id": consent_id, "personid": payer, "clearingnumber": clearing, "accountnumber": account},
            retry=True,
        )
        return consent
