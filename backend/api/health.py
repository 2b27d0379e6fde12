"""Liveness and readiness probes."""

from __future__ import annotations

from marshmallow import fields

from backend.extensions import services
from backend.schemas.base import StrictSchema
from backend.services.health import check_agent_capacity, check_ready
from backend.web.auth import authenticator
from backend.web.blueprint import Blueprint

blp = Blueprint("health", __name__, description="Probes for load balancers and orchestrators")


class StatusSchema(StrictSchema):
    """A probe's answer."""

    status = fields.String(required=True)
    revision = fields.String()


@blp.route("/healthz", methods=["GET"])
@blp.response(200, StatusSchema)
def healthz():
    """Liveness: the process answers (the database is not consulted)."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
@blp.response(200, StatusSchema)
def readyz():
    """Readiness: the database answers, is at the newest migration and takes writes (disk not full, free space
    at least MIN_FREE_DISK_MB), the rate limits' store answers when limits are set, and no hung agent call holds
    a slot of this worker; 503 with the reason if not."""
    current = services()
    revision = check_ready(current.sessions.uow, current.config.MIN_FREE_DISK_MB)
    authenticator().rate_limits.check_reachable()
    check_agent_capacity(current.chat.gate)
    return {"status": "ready", "revision": revision}
