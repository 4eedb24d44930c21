from __future__ import annotations

import tracemalloc
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from paydag.formats import pain001
from paydag.formats.bank_profiles import bank_profile, bank_profiles
from paydag.formats.pain001 import Pain001SchemaError, Pain001Version, build_pain001
from paydag.payables import PaymentBatch, validate_payables
from paydag.samples import sample_payables
from paydag.settings import Company, ConfigurationError, load_settings
from tests.conftest import BUNDLED_XSD, MIXED_ROWS, TODAY, row

CREATED = datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Europe/Stockholm"))
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def make_batch(rows: list[dict[str, str]], profile: str = "generic") -> PaymentBatch:
    payments, report = validate_payables(
        enumerate(rows, start=2), company="demo", profile=bank_profile(profile), today=TODAY, source="t.csv"
    )
    assert report.ok, report.errors
    return PaymentBatch(company="demo", source="t.csv", payments=tuple(payments))


def company(profile: str = "generic", **changes: str) -> Company:
    demo = load_settings().company("demo")
    return demo.model_copy(update={"bank_profile": profile, **changes})


def build(tmp_path: Path, rows=MIXED_ROWS, profile="generic", version=Pain001Version.V03, **kw):
    return build_pain001(
        make_batch(list(rows), profile),
        company=kw.pop("company_cfg", company(profile)),
        profile=bank_profile(profile),
        out=tmp_path / "pain001.xml",
        version=version,
        created_at=kw.pop("created_at", CREATED),
    )


@pytest.fixture(scope="module")
def shared_schemas() -> dict[Pain001Version, etree.XMLSchema]:
    """The bundled schemas, loaded here independently of the builder (which checks with them too);
    that they are the ISO ones is checked against the corpus below."""
    return {
        v: etree.XMLSchema(etree.parse(str(BUNDLED_XSD / f"pain.001.001.{v.value}.xsd"), SAFE_PARSER))
        for v in Pain001Version
    }


@pytest.mark.parametrize("version", list(Pain001Version))
def test_the_bundled_schemas_are_the_iso_ones(shared_fixtures: Path, version: Pain001Version) -> None:
    name = f"pain.001.001.{version.value}.xsd"
    assert (BUNDLED_XSD / name).read_bytes() == (shared_fixtures / "xsd" / name).read_bytes()


def parse(path: Path) -> tuple[etree._Element, dict[str, str]]:
    doc = etree.parse(str(path), SAFE_PARSER).getroot()
    return doc, {"p": doc.nsmap[None]}


def decimal_sum(elements: list[etree._Element]) -> Decimal:
    return sum((Decimal(e.text) for e in elements), Decimal(0))


@pytest.mark.parametrize("version", list(Pain001Version))
@pytest.mark.parametrize("profile", sorted(bank_profiles()))
def test_mixed_batch_is_xsd_valid_with_exact_sums(
    tmp_path: Path, shared_schemas, profile: str, version: Pain001Version
) -> None:
    built = build(
        tmp_path,
        profile=profile,
        version=version,
        company_cfg=company(
            profile, bank_customer_id={"swedbank": "556677889900A001"}.get(profile, "AGR-778899")
        ),
    )
    doc, ns = parse(built.path)
    shared_schemas[version].assertValid(doc.getroottree())

    amounts = doc.xpath("//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns)
    assert len(amounts) == 5
    assert decimal_sum(amounts) == Decimal("30715.60") == built.ctrl_sum
    assert doc.findtext("*/p:GrpHdr/p:NbOfTxs", namespaces=ns) == "5"
    assert Decimal(doc.findtext("*/p:GrpHdr/p:CtrlSum", namespaces=ns)) == Decimal("30715.60")
    for pmt_inf in doc.iterfind("*/p:PmtInf", namespaces=ns):
        txs = pmt_inf.findall("p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns)
        assert int(pmt_inf.findtext("p:NbOfTxs", namespaces=ns)) == len(txs)
        assert Decimal(pmt_inf.findtext("p:CtrlSum", namespaces=ns)) == decimal_sum(txs)
        assert {t.get("Ccy") for t in txs} == {
            pmt_inf.xpath("string(p:CdtTrfTxInf[1]/p:Amt/p:InstdAmt/@Ccy)", namespaces=ns)
        }


def leaves(element: etree._Element, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """{path below element: text} of every leaf, namespaces dropped, paths starting with `skip` left out."""
    out = {}
    for el in element.iter():
        if len(el) or el is element:
            continue
        parts, node = [], el
        while node is not element:
            parts.append(etree.QName(node).localname)
            node = node.getparent()
        path = "/".join(reversed(parts))
        if not path.startswith(skip):
            out[path] = (el.text or "").strip()
    return out


def fixture_tx(shared_fixtures: Path, name: str) -> etree._Element:
    doc = etree.parse(str(shared_fixtures / "pain001" / name), SAFE_PARSER).getroot()
    return doc.find(".//{*}CdtTrfTxInf")


def built_tx(tmp_path: Path, profile: str, payment_id: str) -> etree._Element:
    customer_id = "556677889900A001" if profile == "swedbank" else "AGR-1"
    built = build(tmp_path, profile=profile, company_cfg=company(profile, bank_customer_id=customer_id))
    doc, ns = parse(built.path)
    return doc.xpath(f"//p:CdtTrfTxInf[p:PmtId/p:EndToEndId='{payment_id}']", namespaces=ns)[0]


VARYING = ("PmtId", "Amt", "Cdtr/", "RmtInf/Ustrd", "RmtInf/Strd/CdtrRefInf/Ref")


@pytest.mark.parametrize(
    ("example", "payment_id", "expected"),
    [
        (
            "pain001lib_se.bankgiro.supplier.pain.001.001.03.xml",
            "INV-1001",
            {
                "CdtrAgt/FinInstnId/BIC": "BGABSESS",
                "CdtrAcct/Id/Othr/Id": "50501055",
                "CdtrAcct/Id/Othr/SchmeNm/Prtry": "BGNR",
                "RmtInf/Strd/CdtrRefInf/Tp/CdOrPrtry/Cd": "SCOR",
            },
        ),
        (
            "pain001lib_se.plusgiro.supplier.pain.001.001.03.xml",
            "INV-1002",
            {
                "CdtrAgt/FinInstnId/BIC": "NDEASESS",
                "CdtrAcct/Id/Othr/Id": "123455",
                "CdtrAcct/Id/Othr/SchmeNm/Prtry": "PGNR",
            },
        ),
    ],
)
def test_giro_payments_have_the_structure_of_the_swedish_examples(
    tmp_path: Path, shared_fixtures: Path, example: str, payment_id: str, expected: dict[str, str]
) -> None:
    theirs = leaves(fixture_tx(shared_fixtures, example), VARYING)
    ours = leaves(built_tx(tmp_path, "nordea", payment_id), VARYING)
    assert ours == theirs == expected


def test_the_other_plusgiro_and_bankgiro_form_is_sesba(tmp_path: Path) -> None:
    assert leaves(built_tx(tmp_path, "swedbank", "INV-1002"), VARYING) == {
        "CdtrAgt/FinInstnId/ClrSysMmbId/ClrSysId/Cd": "SESBA",
        "CdtrAgt/FinInstnId/ClrSysMmbId/MmbId": "9960",
        "CdtrAcct/Id/Othr/Id": "123455",
        "CdtrAcct/Id/Othr/SchmeNm/Cd": "BBAN",
    }
    assert (
        leaves(built_tx(tmp_path, "swedbank", "INV-1001"), VARYING)["CdtrAgt/FinInstnId/ClrSysMmbId/MmbId"]
        == "9900"
    )


def test_bban_and_iban_creditor_accounts(tmp_path: Path) -> None:
    bban = leaves(built_tx(tmp_path, "seb", "INV-1003"), VARYING)
    assert bban["CdtrAcct/Id/Othr/Id"] == "50001234560"
    assert bban["CdtrAcct/Id/Othr/SchmeNm/Cd"] == "BBAN"
    assert bban["CdtrAgt/FinInstnId/ClrSysMmbId/MmbId"] == "5000"
    sek_iban = leaves(built_tx(tmp_path, "seb", "INV-1004"), VARYING)
    assert sek_iban == {"CdtrAgt/FinInstnId/BIC": "ESSESESS", "CdtrAcct/Id/IBAN": "SE4550000000058398257466"}


def test_payment_information_per_date_currency_and_type(tmp_path: Path) -> None:
    rows = [*MIXED_ROWS, row(payment_id="LATER", execution_date="2026-11-25")]
    built = build(
        tmp_path,
        rows=rows,
        profile="handelsbanken",
        company_cfg=company("handelsbanken", bank_customer_id="1"),
    )
    doc, ns = parse(built.path)
    blocks = [
        (
            p.findtext("p:ReqdExctnDt", namespaces=ns),
            p.findtext("p:PmtTpInf/p:SvcLvl/p:Cd", namespaces=ns),
            p.findtext("p:ChrgBr", namespaces=ns),
            [e.text for e in p.iterfind("p:CdtTrfTxInf/p:PmtId/p:EndToEndId", namespaces=ns)],
        )
        for p in doc.iterfind("*/p:PmtInf", namespaces=ns)
    ]
    assert blocks == [
        ("2026-11-24", "SEPA", "SLEV", ["INV-1005"]),
        ("2026-11-24", "NURG", "SHAR", ["INV-1001", "INV-1002", "INV-1003", "INV-1004"]),
        ("2026-11-25", "NURG", "SHAR", ["LATER"]),
    ]
    assert [i.nb_of_txs for i in built.payment_infos] == [1, 4, 1]
    later = next(p for p in make_batch(rows, "handelsbanken").payments if p.payment_id == "LATER")
    assert built.pmt_inf_id(later) == built.payment_infos[2].pmt_inf_id


def test_ids_are_deterministic_unique_and_order_independent(tmp_path: Path) -> None:
    first = build(tmp_path / "a")
    again = build(
        tmp_path / "b",
        rows=list(reversed(MIXED_ROWS)),
        created_at=datetime(2026, 11, 20, 16, 0, tzinfo=CREATED.tzinfo),
    )
    assert again.msg_id == first.msg_id
    assert [i.pmt_inf_id for i in again.payment_infos] == [i.pmt_inf_id for i in first.payment_infos]
    doc, ns = parse(first.path)
    e2e = [e.text for e in doc.iterfind(".//p:EndToEndId", namespaces=ns)]
    doc_again, _ = parse(again.path)
    assert sorted(e.text for e in doc_again.iterfind(".//p:EndToEndId", namespaces=ns)) == sorted(e2e)
    ids = [first.msg_id, *(i.pmt_inf_id for i in first.payment_infos), *e2e]
    assert len(ids) == len(set(ids))
    assert all(1 <= len(i) <= 35 for i in ids)

    changed = build(tmp_path / "c", rows=[*MIXED_ROWS[:4], MIXED_ROWS[4] | {"amount": "950.01"}])
    assert changed.msg_id != first.msg_id


def test_unsafe_payment_ids_get_a_derived_end_to_end_id(tmp_path: Path) -> None:
    long_id = "9f1c2a3e-0b7d-4c5e-8f90-a1b2c3d4e5f6-extra"
    built = build(tmp_path, rows=[row(payment_id=long_id), row(payment_id="ÅÄÖ/1")])
    doc, ns = parse(built.path)
    e2e = [e.text for e in doc.iterfind(".//p:EndToEndId", namespaces=ns)]
    assert e2e == [pain001.end_to_end_id(long_id), pain001.end_to_end_id("ÅÄÖ/1")]
    assert all(i.startswith("E") and len(i) == 33 for i in e2e)
    assert e2e[0] != e2e[1]


def test_a_derived_end_to_end_id_may_not_clash_with_a_literal_one(tmp_path: Path) -> None:
    unsafe = "ÅÄÖ/1"
    with pytest.raises(ValueError, match="equals the EndToEndId derived"):
        build(tmp_path, rows=[row(payment_id=unsafe), row(payment_id=pain001.end_to_end_id(unsafe))])


def test_text_is_escaped_and_sepa_text_restricted(tmp_path: Path) -> None:
    rows = [row(creditor_name="Öst & Väst <AB>"), MIXED_ROWS[4]]
    built = build(tmp_path, rows=rows)
    doc, ns = parse(built.path)
    names = [e.text for e in doc.iterfind(".//p:Cdtr/p:Nm", namespaces=ns)]
    assert sorted(names) == ["Muller + Sohne GmbH", "Öst & Väst AB"]  # & escaped; <> not in the bank's set
    assert "Rechnung 4711 fur Oktober" in [e.text for e in doc.iterfind(".//p:Ustrd", namespaces=ns)]


def test_a_creditors_elements_are_written_once_per_creditor_and_never_shared_by_another(
    tmp_path: Path,
) -> None:
    # The writer keeps each creditor's CdtrAgt, Cdtr and CdtrAcct for the payments after: payments to
    # one account under another name, address or town get their own.
    same = {"creditor_street": "Storgatan", "creditor_building": "1", "creditor_postcode": "111 22"}
    rows = [
        row(payment_id="P1", creditor_town="Umeå", **same),
        row(payment_id="P2", creditor_town="Umeå", **same),
        row(payment_id="P3", creditor_town="Luleå", **same),
        row(payment_id="P4", creditor_name="Sågverk Väster AB", creditor_town="Umeå", **same),
        row(payment_id="P5", account="5402-9681", creditor_town="Umeå", **same),
    ]
    doc, ns = parse(build(tmp_path, rows=rows).path)
    written = {
        tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns): (
            tx.findtext("p:Cdtr/p:Nm", namespaces=ns),
            tx.findtext("p:Cdtr/p:PstlAdr/p:TwnNm", namespaces=ns),
            tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=ns),
        )
        for tx in doc.iterfind(".//p:CdtTrfTxInf", namespaces=ns)
    }
    assert written == {
        "P1": ("Sågverk Öster AB", "Umeå", "50501055"),
        "P2": ("Sågverk Öster AB", "Umeå", "50501055"),
        "P3": ("Sågverk Öster AB", "Luleå", "50501055"),
        "P4": ("Sågverk Väster AB", "Umeå", "50501055"),
        "P5": ("Sågverk Öster AB", "Umeå", "54029681"),
    }


def test_version_09_forms(tmp_path: Path) -> None:
    built = build(tmp_path, version=Pain001Version.V09)
    doc, ns = parse(built.path)
    assert doc.nsmap[None].endswith("pain.001.001.09")
    assert doc.findtext("*/p:PmtInf/p:ReqdExctnDt/p:Dt", namespaces=ns) == "2026-11-24"
    assert doc.find(".//p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=ns) is not None
    uetrs = [uuid.UUID(e.text) for e in doc.iterfind(".//p:PmtId/p:UETR", namespaces=ns)]
    assert len(uetrs) == 5 and all(u.version == 4 for u in uetrs)
    assert len(set(uetrs)) == 5


def test_company_that_does_not_suit_the_profile_or_version(tmp_path: Path) -> None:
    bban_company = company("generic", debtor_account="50001234560")
    with pytest.raises(ConfigurationError, match="needs the debtor account as an IBAN"):
        build(tmp_path, version=Pain001Version.V09, company_cfg=bban_company)
    with pytest.raises(ConfigurationError, match="needs the company's bank_customer_id"):
        build(tmp_path, profile="nordea", company_cfg=company("nordea", bank_customer_id=None))
    with pytest.raises(ConfigurationError, match="form 'swedbank' uses"):
        build(tmp_path, profile="swedbank", company_cfg=company("swedbank", bank_customer_id="12345"))
    assert list(tmp_path.iterdir()) == []


def test_a_document_that_fails_the_xsd_is_never_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A template that writes an element the schema does not allow there.
    monkeypatch.setattr(
        pain001._Writer, "_remittance", staticmethod(lambda p, text: "<RmtInf><Bogus>1</Bogus></RmtInf>")
    )
    with pytest.raises(Pain001SchemaError, match="Bogus"):
        build(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_memory_does_not_grow_with_the_document(tmp_path: Path) -> None:
    def peak_for(count: int) -> tuple[int, int]:
        batch = make_batch(list(sample_payables(count, company="demo", first_day=date(2026, 11, 23))))
        tracemalloc.start()
        built = build_pain001(
            batch,
            company=company(),
            profile=bank_profile("generic"),
            out=tmp_path / f"{count}.xml",
            created_at=CREATED,
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak, built.size

    small_peak, small_size = peak_for(2_000)
    large_peak, large_size = peak_for(20_000)
    assert large_size > 9 * small_size
    # What the builder keeps per payment is a reference in its PmtInf group, not its XML.
    assert large_peak - small_peak < (large_size - small_size) / 20


_ACCOUNTS = [
    {"account_type": "BG", "account": "5050-1055"},
    {"account_type": "PG", "account": "12345-5", "ocr": ""},
    {"account_type": "BBAN", "account": "9020-1234566"},
    {"account_type": "IBAN", "account": "SE4550000000058398257466"},
    {"account_type": "IBAN", "account": "FI2112345600000785", "currency": "EUR", "ocr": ""},
]
_BANK_DAYS = ["2026-11-23", "2026-11-24", "2026-12-23", "2027-01-07"]
_names = st.text(alphabet=st.sampled_from("abcåäöÅÄÖé &<>'\"-.xyz"), min_size=1, max_size=70).filter(
    lambda name: any(
        c.isalpha() for c in name
    )  # a name of signs alone is refused (nothing the bank can write)
)


@st.composite
def payables(draw) -> list[dict[str, str]]:
    count = draw(st.integers(min_value=1, max_value=25))
    rows = []
    for n in range(count):
        kind = draw(st.sampled_from(_ACCOUNTS))
        amount = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999.99"), places=2))
        values = row(
            payment_id=f"P-{n}",
            creditor_name=draw(_names),
            amount=f"{amount:f}",
            execution_date=draw(st.sampled_from(_BANK_DAYS)),
            **{k: v for k, v in kind.items() if k != "ocr"},
        )
        if kind.get("ocr") == "":
            values |= {"ocr": "", "message": draw(_names)}
        if kind.get("currency") == "EUR":  # SEPA: a structured address, at least the town
            values |= {"creditor_town": draw(_names)[:35], "creditor_street": draw(_names),
                       "creditor_building": draw(st.sampled_from(["", "1", "12 B"]))}  # fmt: skip
        rows.append(values)
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=payables(), version=st.sampled_from(list(Pain001Version)))
def test_any_valid_batch_builds_a_valid_file_with_the_exact_control_sum(
    tmp_path: Path, shared_schemas, rows: list[dict[str, str]], version: Pain001Version
) -> None:
    batch = make_batch(rows)
    built = build_pain001(
        batch,
        company=company(),
        profile=bank_profile("generic"),
        out=tmp_path / "p.xml",
        version=version,
        created_at=CREATED,
    )
    doc, ns = parse(built.path)
    shared_schemas[version].assertValid(doc.getroottree())
    exact = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
    assert Decimal(doc.findtext("*/p:GrpHdr/p:CtrlSum", namespaces=ns)) == exact == built.ctrl_sum
    assert decimal_sum(doc.xpath("//p:InstdAmt", namespaces=ns)) == exact
    assert sum(Decimal(e.text) for e in doc.iterfind("*/p:PmtInf/p:CtrlSum", namespaces=ns)) == exact


def test_bban_debtor_account(tmp_path: Path, shared_schemas) -> None:
    built = build(tmp_path, company_cfg=company("generic", debtor_account="50001234560"))
    doc, ns = parse(built.path)
    shared_schemas[Pain001Version.V03].assertValid(doc.getroottree())
    debtor = doc.find(".//p:DbtrAcct", namespaces=ns)
    assert leaves(debtor) == {"Id/Othr/Id": "50001234560", "Id/Othr/SchmeNm/Cd": "BBAN"}


def test_cross_border_payment(tmp_path: Path, shared_schemas) -> None:
    usd = row(
        payment_id="X-1",
        creditor_name="Thames Timber Ltd",
        account_type="IBAN",
        account="GB33BUKB20201555555555",
        bic="BUKBGB22",
        currency="USD",
        amount="1500.00",
        ocr="",
        message="Invoice 7 – timber",
        creditor_address="1 High Street; London EC1A 1BB",
        creditor_street="High Street",
        creditor_building="1",
        creditor_postcode="EC1A 1BB",
        creditor_town="London",
    )
    built = build(tmp_path, rows=[usd])
    doc, ns = parse(built.path)
    shared_schemas[Pain001Version.V03].assertValid(doc.getroottree())
    pmt_inf = doc.find(".//p:PmtInf", namespaces=ns)
    assert pmt_inf.findtext("p:ChrgBr", namespaces=ns) == "SHAR"
    assert pmt_inf.find("p:PmtTpInf/p:SvcLvl", namespaces=ns) is None
    assert leaves(pmt_inf.find("p:CdtTrfTxInf", namespaces=ns), ("PmtId",)) == {
        "Amt/InstdAmt": "1500.00",
        "CdtrAgt/FinInstnId/BIC": "BUKBGB22",
        "Cdtr/Nm": "Thames Timber Ltd",
        "Cdtr/PstlAdr/StrtNm": "High Street",
        "Cdtr/PstlAdr/BldgNb": "1",
        "Cdtr/PstlAdr/PstCd": "EC1A 1BB",
        "Cdtr/PstlAdr/TwnNm": "London",
        "Cdtr/PstlAdr/Ctry": "GB",
        "Cdtr/PstlAdr/AdrLine": "London EC1A 1BB",  # the unstructured lines beside them (hybrid)
        "CdtrAcct/Id/IBAN": "GB33BUKB20201555555555",
        "RmtInf/Ustrd": "Invoice 7 - timber",  # the en dash transliterated
    }
    lines = [e.text for e in doc.iterfind(".//p:Cdtr/p:PstlAdr/p:AdrLine", namespaces=ns)]
    assert lines == ["1 High Street", "London EC1A 1BB"]


@pytest.mark.parametrize("version", list(Pain001Version))
def test_every_payment_carries_an_instr_id_and_in_09_a_uetr(tmp_path: Path, version: Pain001Version) -> None:
    built = build(tmp_path, version=version)
    doc, ns = parse(built.path)
    for pmt_id in doc.iterfind(".//p:CdtTrfTxInf/p:PmtId", namespaces=ns):
        e2e = pmt_id.findtext("p:EndToEndId", namespaces=ns)
        assert pmt_id.findtext("p:InstrId", namespaces=ns) == pain001.instruction_id(built.msg_id, e2e)
        expected_uetr = pain001.uetr(built.msg_id, e2e) if version is Pain001Version.V09 else None
        assert pmt_id.findtext("p:UETR", namespaces=ns) == expected_uetr
