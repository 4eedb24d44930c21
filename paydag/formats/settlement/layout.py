"""The one description of the transaction list's two versions that both readers follow: element
names, the attributes that carry the summary, and which row attribute becomes which column."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

V1_NAMESPACE = "http://www.payex.com/xml/SalesAccountedTransactions.xsd"
V2_NAMESPACE = "http://www.payex.com/xml/SalesAccountedTransactions%5B2.0%5D.xsd"  # literally %5B2.0%5D

# File attribute → column. Anything a file carries beyond these is kept under its own name.
V1_COLUMNS = {
    "TransactionNo": "transaction_no",
    "OrderId": "order_id",
    "PayexBatchNo": "batch_no",
    "PayExAccountNo": "account_no",
    "Type": "service",
    "Provider": "provider",
    "Amount": "amount_text",
    "VATAmount": "vat_text",
    "VatPercentage": "vat_percentage",
    "DateCreated": "date_created",
    "DateModified": "date_modified",
    "MerchantProductNo": "product",
    "Description": "description",
    "SalesChannel": "sales_channel",
    "CreditCardBatchNo": "credit_card_batch_no",
    "DirectDebitBankRef": "direct_debit_bank_ref",
    "Reference": "external_reference",
    "ReferencedTransaction": "referenced_transaction",
    "PointOfSale": "point_of_sale",
}
V2_COLUMNS = {
    "PayexTransactionNo": "transaction_no",
    "OrderIdentity": "order_id",
    "TransactionIdentity": "transaction_identity",
    "PayexBatchNo": "batch_no",
    "PayExAccountNo": "account_no",
    "ServiceName": "service",
    "Provider": "provider",
    "Amount": "amount_text",
    "Currency": "currency",
    "VATAmount": "vat_text",
    "VatPercentage": "vat_percentage",
    "DateCreated": "date_created",
    "DateModified": "date_modified",
    "ProductCategory": "product",
    "Description": "description",
    "SalesChannel": "sales_channel",
    "CreditCardBatchNo": "credit_card_batch_no",
    "ExternalTransactionReference": "external_reference",
    "ReferencedTransaction": "referenced_transaction",
    "Subsite": "subsite",
    "SubsiteDescription": "subsite_description",
    "Brand": "brand",
    "PointOfSale": "point_of_sale",
}
REQUIRED = ("transaction_no", "service", "amount_text", "currency", "date_created", "date_modified")
# Columns every table has, empty where a file leaves the attribute out (v2 files may omit OrderIdentity).
ALWAYS = (*REQUIRED, "order_id", "referenced_transaction", "external_reference")


@dataclass(frozen=True, eq=False)  # one object per version: hashed by identity
class Layout:
    """`SALES/CURRENCY/TRAN` (v1) or `SalesAccountedTransactions/Currency/Transaction` (v2), with
    `SUMMARY/CURRENCY/SERVICETYPE/SERVICE` or its v2 spelling beside the body."""

    version: str
    namespace: str
    root: str
    body: str  # the body's currency element, whose children are the rows
    row: str
    summary: str
    currency_code: str  # the currency element's code attribute (summary and body alike)
    service_type_name: str
    service_name: str
    debit_count: str
    columns: Mapping[str, str]

    def column(self, attribute: str) -> str:
        return self.columns.get(attribute, attribute)

    @property
    def column_order(self) -> tuple[str, ...]:
        """The mapped columns in the layout's order, then ALWAYS's that no attribute maps to."""
        mapped = tuple(self.columns.values())
        return mapped + tuple(c for c in ALWAYS if c not in mapped)


V1 = Layout(
    version="1", namespace=V1_NAMESPACE, root="SALES", body="CURRENCY", row="TRAN", summary="SUMMARY",
    currency_code="Name", service_type_name="Name", service_name="Name", debit_count="NoOfDebet",
    columns=MappingProxyType(V1_COLUMNS),
)  # fmt: skip
V2 = Layout(
    version="2", namespace=V2_NAMESPACE, root="SalesAccountedTransactions", body="Currency",
    row="Transaction", summary="Summary", currency_code="Currency", service_type_name="ServiceType",
    service_name="ServiceName", debit_count="NoOfDebit", columns=MappingProxyType(V2_COLUMNS),
)  # fmt: skip
LAYOUTS = (V1, V2)


def layout_for(root: str, namespace: str | None) -> Layout | None:
    """The layout of a root element (local name and namespace), or None for anything else."""
    return next((lo for lo in LAYOUTS if lo.root == root and lo.namespace == namespace), None)
