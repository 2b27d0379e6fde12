"""One repository per aggregate, each bound to the transaction it runs in (store.unit_of_work)."""

from __future__ import annotations


class Repository:
    """Statements of one aggregate, run in `tx` (a store.transaction.Transaction)."""

    __slots__ = ("tx",)

    def __init__(self, tx):
        self.tx = tx
