"""`python -m paydag.cli`: the `paydag` command (the demo starts its sandbox this way)."""

from paydag.cli import main

main()
