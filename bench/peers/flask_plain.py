"""Plain Flask (no flask-smorest, no marshmallow): `gunicorn -w 2 -k gevent bench.peers.flask_plain:app`."""

from __future__ import annotations

from flask import Flask, jsonify, request

from bench.peers import store

app = Flask(__name__)
app.json.ensure_ascii = False  # as the project answers
MESSAGES = "/api/v1/sessions/<session_id>/messages"


def _error(status: int, errors: dict):
    return jsonify({"code": status, "errors": errors}), status


def _out(message: dict) -> dict:
    stamp = message["timestamp"]
    return {**message, "timestamp": stamp.isoformat() if stamp is not None else None}


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@app.post(MESSAGES)
def append(session_id: str):
    body = request.get_json(silent=True)
    errors = store.problems(body)
    if errors:
        return _error(422, errors)
    try:
        message = store.append(session_id, body["role"], body["content"], body.get("metadata"))
    except store.SessionMissing:
        return _error(404, {"session_id": ["not found"]})
    return jsonify(_out(message)), 201


@app.get(MESSAGES)
def history(session_id: str):
    try:
        limit = int(request.args.get("limit", 50))
        before = int(request.args["before"]) if "before" in request.args else None
    except ValueError:
        return _error(422, {"query": ["limit and before must be integers"]})
    if not 1 <= limit <= store.MAX_PAGE or (before is not None and before < 1):
        return _error(422, {"query": [f"limit must be 1 to {store.MAX_PAGE}, before at least 1"]})
    try:
        messages, next_before = store.history(session_id, limit, before)
    except store.SessionMissing:
        return _error(404, {"session_id": ["not found"]})
    return jsonify({"session_id": session_id, "messages": [_out(m) for m in messages], "next_before": next_before})
