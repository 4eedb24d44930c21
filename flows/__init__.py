"""Prefect flows: orchestration only, one module per flow."""
