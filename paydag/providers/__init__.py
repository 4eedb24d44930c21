"""Clients of outside systems, each behind a small interface: Pagero (files and documents)."""
