"""Statements of the service, built once at import: building them per call dominated the hot paths."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend.models import ChatMessage, Session

sessions = Session.__table__
messages = ChatMessage.__table__

SESSION_COLUMNS = (
    sessions.c.session_id,
    sessions.c.device_fingerprint,
    sessions.c.created_at,
    sessions.c.last_active,
    sessions.c.message_count,
    sessions.c.metadata,
)
MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.session_id,
    messages.c.role,
    messages.c.content,
    messages.c.timestamp,
    messages.c.metadata,
)

select_session = sa.select(*SESSION_COLUMNS).where(sessions.c.session_id == sa.bindparam("sid"))
select_session_for_update = select_session.with_for_update()

touch_session = (
    sessions.update()
    .where(sessions.c.session_id == sa.bindparam("sid"))
    .values(last_active=sa.bindparam("now", type_=sessions.c.last_active.type))
)

count_message = (
    sessions.update()
    .where(sessions.c.session_id == sa.bindparam("sid"))
    .values(
        message_count=sa.func.coalesce(sessions.c.message_count, 0) + 1,
        last_active=sa.bindparam("now", type_=sessions.c.last_active.type),
    )
)

insert_message = (
    messages.insert()
    .values(
        session_id=sa.bindparam("m_sid"),
        role=sa.bindparam("m_role"),
        content=sa.bindparam("m_content"),
        timestamp=sa.bindparam("m_timestamp"),
        metadata=sa.bindparam("m_metadata"),
    )
    .returning(messages.c.id)
)

_new_session_values = dict(
    session_id=sa.bindparam("sid"),
    device_fingerprint=sa.bindparam("fingerprint"),
    created_at=sa.bindparam("now", type_=sessions.c.created_at.type),
    last_active=sa.bindparam("now", type_=sessions.c.last_active.type),
    message_count=0,
    metadata=sa.bindparam("meta", type_=sessions.c.metadata.type),
)
# ON CONFLICT DO NOTHING: two processes creating the same id both succeed, one row results.
insert_session_if_absent = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(sessions)
    .values(**_new_session_values)
    .on_conflict_do_nothing()
    .returning(sessions.c.session_id)
    for dialect in (sqlite, postgresql)
}

_history = sa.select(*MESSAGE_COLUMNS).where(messages.c.session_id == sa.bindparam("sid"))
newest_messages = _history.order_by(messages.c.id.desc()).limit(sa.bindparam("limit"))
newest_messages_before = (
    _history.where(messages.c.id < sa.bindparam("before")).order_by(messages.c.id.desc()).limit(sa.bindparam("limit"))
)

session_exists = sa.select(sa.literal(1)).where(sessions.c.session_id == sa.bindparam("sid"))

_in_session = messages.c.session_id == sa.bindparam("sid")
count_by_role = sa.select(messages.c.role, sa.func.count()).where(_in_session).group_by(messages.c.role)
first_message_time = sa.select(messages.c.timestamp).where(_in_session).order_by(messages.c.id.asc()).limit(1)
last_message_time = sa.select(messages.c.timestamp).where(_in_session).order_by(messages.c.id.desc()).limit(1)

delete_messages = messages.delete().where(_in_session)
delete_session = sessions.delete().where(sessions.c.session_id == sa.bindparam("sid"))
reset_count = (
    sessions.update().where(sessions.c.session_id == sa.bindparam("sid")).values(message_count=0)
)
update_session = (
    sessions.update()
    .where(sessions.c.session_id == sa.bindparam("sid"))
    .values(
        metadata=sa.bindparam("meta", type_=sessions.c.metadata.type),
        device_fingerprint=sa.bindparam("fingerprint"),
        last_active=sa.bindparam("now", type_=sessions.c.last_active.type),
    )
)

# -- operator listing: most recently active first, keyset-paged on (last_active, session_id) --
# Ordered by the raw columns so that the indexes of revision 0002 serve it. The cursor keeps the
# raw stored value (text or a legacy epoch on SQLite, a timestamp on PostgreSQL), so the column is
# read and compared untyped. Rows without last_active come after all others, by session_id.
_raw_last_active = sa.type_coerce(sessions.c.last_active, sa.types.NullType()).label("raw_last_active")


def _listing(active: bool, after_cursor: bool, by_fingerprint: bool) -> sa.Select:
    statement = sa.select(*SESSION_COLUMNS, _raw_last_active)
    if by_fingerprint:
        statement = statement.where(sessions.c.device_fingerprint == sa.bindparam("fingerprint", type_=sa.Text))
    if not active:
        statement = statement.where(sessions.c.last_active.is_(None))
        if after_cursor:
            statement = statement.where(sessions.c.session_id < sa.bindparam("sid", type_=sa.Text))
        return statement.order_by(sessions.c.session_id.desc()).limit(sa.bindparam("limit"))
    statement = statement.where(sessions.c.last_active.is_not(None))
    if after_cursor:
        position = sa.tuple_(sa.type_coerce(sessions.c.last_active, sa.types.NullType()), sessions.c.session_id)
        statement = statement.where(position < sa.tuple_(sa.bindparam("key"), sa.bindparam("sid", type_=sa.Text)))
    newest_first = (sessions.c.last_active.desc(), sessions.c.session_id.desc())
    return statement.order_by(*newest_first).limit(sa.bindparam("limit"))


# (rows with last_active?, after a cursor?, filtered by fingerprint?) -> statement
list_sessions = {
    (active, after, by_fp): _listing(active, after, by_fp)
    for active in (True, False)
    for after in (False, True)
    for by_fp in (False, True)
}
