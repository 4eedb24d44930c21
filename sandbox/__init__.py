"""Local provider simulator (FastAPI): the Pagero contract on loopback, with fault injection."""
