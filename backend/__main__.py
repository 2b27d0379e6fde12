"""`python -m backend ...` runs `session-store ...` (in a checkout, where the console script is not installed)."""

from backend.cli import main

main(prog_name="session-store")
