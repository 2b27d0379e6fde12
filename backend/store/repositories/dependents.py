"""What hangs off a session besides its messages: deleted with it, wherever a session or its history goes."""

from __future__ import annotations

from backend.store.repositories.summaries import SummaryRepository
from backend.store.repositories.turns import TurnRepository


def delete_dependents(tx, session_ids: list[str]) -> dict[str, int]:
    """Delete the turns (with the events that hold their text) and the summaries of these sessions; how many
    of each."""
    events, turns = TurnRepository(tx).delete_of_sessions(session_ids)
    return {"turn_events": events, "turns": turns, "summaries": SummaryRepository(tx).delete_of_sessions(session_ids)}
