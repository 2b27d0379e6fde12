"""The one persistence layer: engines, the transaction, statements, rows <-> records, store errors.

Services import it; it imports nothing above it (no service, no Flask).
"""
