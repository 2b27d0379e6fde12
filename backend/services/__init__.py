"""Service layer: no Flask here; the agent process imports `backend.services.session.SessionService`."""
