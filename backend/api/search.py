"""Search over every message the caller may read."""

from __future__ import annotations

from backend.extensions import services
from backend.schemas.search import SearchArgsSchema, SearchPageSchema
from backend.web.auth import listing_access, owner_scope
from backend.web.blueprint import Blueprint, Resource

blp = Blueprint("search", __name__, url_prefix="/api/v1/search", description="Search")


@blp.route("")
class Search(Resource):
    """Messages whose content matches a query."""

    @blp.doc(security=[{"bearerAuth": []}])
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, SearchPageSchema)
    @listing_access
    @blp.arguments(SearchArgsSchema, location="query")
    def get(self, args):
        """Search the caller's messages (an operator's: every message, `owner` filters), newest first."""
        scope, wanted = owner_scope(), args.get("owner")
        if scope is not None and wanted not in (None, scope):
            return {"hits": [], "next_cursor": None}  # another owner's messages: as if there were none
        return services().sessions.search(
            args["q"],
            owner=scope if scope is not None else wanted,
            session_id=args.get("session_id"),
            role=args.get("role"),
            limit=args["limit"],
            cursor=args.get("cursor"),
        )
