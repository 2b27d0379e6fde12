"""Peer servers for the CPU comparison (bench/peer_cpu.py): the two message routes and /healthz over the project's
SQLite schema, written as plainly as each framework allows. They validate less and log nothing: a floor to
measure against, not a design to copy."""
