"""FastAPI, async endpoints that hand the sqlite3 work to the threadpool (as FastAPI's docs advise for blocking
calls): `uvicorn --workers 2 --loop uvloop --http httptools bench.peers.fastapi_app:app`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bench.peers import store

app = FastAPI(title="peer", openapi_url=None)
MESSAGES = "/api/v1/sessions/{session_id}/messages"


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(min_length=1, max_length=store.MAX_CONTENT_CHARS)
    metadata: dict[str, Any] | None = None


class Message(BaseModel):
    id: int
    session_id: str
    role: str
    content: str
    timestamp: datetime | None
    metadata: dict[str, Any]


class HistoryPage(BaseModel):
    session_id: str
    messages: list[Message]
    next_before: int | None


class Status(BaseModel):
    status: str


def _append(session_id: str, new: NewMessage) -> dict:
    try:
        return store.append(session_id, new.role, new.content, new.metadata)
    except store.SessionMissing:
        raise HTTPException(404, "session not found") from None


def _history(session_id: str, limit: int, before: int | None) -> dict:
    try:
        messages, next_before = store.history(session_id, limit, before)
    except store.SessionMissing:
        raise HTTPException(404, "session not found") from None
    return {"session_id": session_id, "messages": messages, "next_before": next_before}


@app.get("/healthz", response_model=Status)
async def healthz():
    return {"status": "ok"}


@app.post(MESSAGES, response_model=Message, status_code=201)
async def append(session_id: str, new: NewMessage):
    return await run_in_threadpool(_append, session_id, new)


@app.get(MESSAGES, response_model=HistoryPage)
async def history(
    session_id: str, limit: int = Query(50, ge=1, le=store.MAX_PAGE), before: int | None = Query(None, ge=1)
):
    return await run_in_threadpool(_history, session_id, limit, before)
