"""Prefect tasks: thin wrappers over `paydag` adding retries, caching and artifacts."""
