"""paydag: the payment-file traffic of a Swedish finance back office (domain library; no Prefect)."""

__version__ = "0.1.0"
