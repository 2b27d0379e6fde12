"""What an operator reads of a conversation beyond its history: every summary of it, and the turn running on it."""

from __future__ import annotations

from backend.services.conversation import ContextService
from backend.services.reach import reachable
from backend.services.turns import access
from backend.services.validation import check_id
from backend.store.records import SummaryRecord
from backend.store.turn_records import TurnState


class InspectionService(ContextService):
    """Reads for the console (backend.ui); `owner` scopes every call as in SessionService."""

    def list_summaries(self, session_id: str, *, owner: str | None = None) -> list[SummaryRecord]:
        """Every summary stored for the session, by the message each covers through (then oldest first), stale
        ones (covering a message a rewind took out) included."""
        check_id(session_id)
        with self.uow.read() as store:
            reachable(store.sessions.get(session_id), session_id, owner)
            return store.summaries.of_session(session_id)

    def running_turn(self, session_id: str, *, owner: str | None = None) -> TurnState | None:
        """The turn running on the session (the newest, should a dead worker have left another marked running);
        None when none runs."""
        return access.running_turn(self.uow, session_id, owner)
