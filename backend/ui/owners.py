"""An owner's data from the console: their sessions, an export of everything (NDJSON), and erasure, each action
behind a confirmation page and posted with the sign-in's form token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import flask

from backend.extensions import services
from backend.services.errors import InvalidInput
from backend.ui.blueprint import bp
from backend.ui.guard import page, signed_in
from backend.ui.pages import SESSIONS_PER_PAGE, text_arg

_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")


def owner_arg() -> str:
    """The owner a request names (a query argument, or a form field on POST): 400 without one."""
    owner = flask.request.values.get("owner", "")
    if not owner:
        flask.abort(400, "name an owner")
    return owner


@bp.get("/owner")
def owner():
    """An owner's sessions, most recently active first, with their export and erase actions."""
    name = owner_arg()
    try:
        found = services().sessions.list_sessions(limit=SESSIONS_PER_PAGE, cursor=text_arg("cursor"), owner=name)
    except InvalidInput as exc:
        return page(422, "error.html", message="invalid " + ", ".join(sorted(exc.errors)), errors=exc.errors)
    return page(200, "owner.html", owner=name, sessions=found.sessions, next_cursor=found.next_cursor)


@bp.get("/owner/export")
def confirm_export():
    """The confirmation step before an export."""
    return page(200, "confirm_export.html", owner=owner_arg())


@bp.post("/owner/export")
def export():
    """Everything stored of the owner, as NDJSON (one JSON record a line), streamed as a download."""
    name = owner_arg()
    records = services().sessions.export_owner(name, actor=signed_in().actor)  # the owner is checked here, not later
    file_name = f"export-{_UNSAFE_IN_FILE_NAMES.sub('_', name)[:64]}.ndjson"
    response = flask.Response(_lines(records), mimetype="application/x-ndjson")
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def _lines(records: Iterator[dict]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"  # as the API's export


@bp.get("/owner/erase")
def confirm_erase():
    """The confirmation step before an erase: the owner's name must be typed again."""
    return page(200, "confirm_erase.html", owner=owner_arg(), problem=None)


@bp.post("/owner/erase")
def erase():
    """Erase every session of the owner, with all that belongs to it, once the owner's name was typed again;
    the counts of what went."""
    name = owner_arg()
    if flask.request.form.get("confirm", "") != name:
        problem = "Type the owner exactly as shown to confirm; nothing was erased."
        return page(422, "confirm_erase.html", owner=name, problem=problem)
    erased = services().sessions.erase_owner(name, actor=signed_in().actor).as_dict()
    return page(200, "erased.html", owner=name, erased=erased["erased"], file_scrubbed=erased["file_scrubbed"])
