"""Every statement of the store, built once at import from the models' tables and the records' fields."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles

from backend.models import ChatMessage, IdempotencyKey, Session, TurnLease
from backend.store.records import IdempotencyRecord, MessageRecord, SessionRecord, TurnLeaseRecord
from backend.store.rows import RecordMapping

sessions = Session.__table__
messages = ChatMessage.__table__

idempotency_keys = IdempotencyKey.__table__
turn_leases = TurnLease.__table__

SESSION = RecordMapping(SessionRecord, sessions)
MESSAGE = RecordMapping(MessageRecord, messages)
IDEMPOTENCY = RecordMapping(IdempotencyRecord, idempotency_keys)
TURN_LEASE = RecordMapping(TurnLeaseRecord, turn_leases)


class Precompiled:
    """A statement compiled once per dialect and run on a driver cursor with plain values.

    Measured: SQLAlchemy's per-execution machinery cost ~0.6x of an append and of a 50-message
    read. The SQL is still SQLAlchemy's, compiled from the models; only execution is the driver's.
    """

    def __init__(self, statement: sa.Executable, column_keys: Iterable[str] | None = None):
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def prepare(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        """SQL text, positional parameter order (None for named styles), default values."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            result = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
            order = tuple(result.positiontup) if dialect.positional else None
            compiled = self._compiled[dialect.name] = (result.string, order, dict(result.params))
        return compiled

    def execute(self, cursor, dialect: sa.Dialect, values: dict[str, Any]):
        """Execute on a driver cursor; returns the cursor."""
        sql, order, defaults = self.prepare(dialect)
        merged = {**defaults, **values}
        cursor.execute(sql, tuple(merged[name] for name in order) if order is not None else merged)
        return cursor


def _by_id(table: sa.Table):
    return table.c.session_id == sa.bindparam("sid")


def _at(column: sa.Column) -> sa.BindParameter:
    return sa.bindparam("now", type_=column.type)


def _owned_by(table: sa.Table):
    return sa.and_(_by_id(table), table.c.owner == sa.bindparam("scope", type_=sa.Text))


class octet_length(sa.sql.functions.GenericFunction):
    """Bytes of a text value in UTF-8 (SQLite before 3.43 has no octet_length: the length of it as a blob)."""

    type = sa.Integer()
    inherit_cache = True


@compiles(octet_length, "sqlite")
def _octet_length_sqlite(element, compiler, **kw):
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


# -- sessions ---------------------------------------------------------------------------------
select_session = SESSION.select().where(_by_id(sessions))
select_message = MESSAGE.select().where(messages.c.id == sa.bindparam("id")).where(_by_id(messages))
select_session_for_update = select_session.with_for_update()
session_exists = Precompiled(sa.select(sa.literal(1)).where(_by_id(sessions)))
session_owned = Precompiled(sa.select(sa.literal(1)).where(_owned_by(sessions)))
touch_session = sessions.update().where(_by_id(sessions)).values(last_active=_at(sessions.c.last_active))
touch_owned_session = sessions.update().where(_owned_by(sessions)).values(last_active=_at(sessions.c.last_active))
update_session = (
    sessions.update()
    .where(_by_id(sessions))
    .values(
        metadata=sa.bindparam("meta", type_=sessions.c.metadata.type),
        device_fingerprint=sa.bindparam("fingerprint"),
        last_active=_at(sessions.c.last_active),
    )
)
reset_message_count = sessions.update().where(_by_id(sessions)).values(message_count=0)
reset_owned_message_count = sessions.update().where(_owned_by(sessions)).values(message_count=0)
delete_session = sessions.delete().where(_by_id(sessions))

_new_session_values = dict(
    session_id=sa.bindparam("sid"),
    owner=sa.bindparam("new_owner", type_=sa.Text),
    device_fingerprint=sa.bindparam("fingerprint"),
    created_at=_at(sessions.c.created_at),
    last_active=_at(sessions.c.last_active),
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

# -- messages: the two hot paths run precompiled ------------------------------------------------
_count_one_more = dict(
    message_count=sa.func.coalesce(sessions.c.message_count, 0) + 1, last_active=_at(sessions.c.last_active)
)
increment_message_count = Precompiled(sessions.update().where(_by_id(sessions)).values(**_count_one_more))
increment_owned_message_count = Precompiled(sessions.update().where(_owned_by(sessions)).values(**_count_one_more))
# A turn's first write: the count, and the session as it now is (the agent's context) in the same statement.
count_and_read_session = {
    owned: Precompiled(
        sessions.update()
        .where(_owned_by(sessions) if owned else _by_id(sessions))
        .values(**_count_one_more)
        .returning(*SESSION.columns)
    )
    for owned in (False, True)
}
# Bind names are the column names: the service passes {column name: stored value}.
insert_message = Precompiled(
    messages.insert().returning(messages.c.id),
    column_keys=[column.key for column in MESSAGE.columns if not column.primary_key],
)


def _count_and_insert(owned: bool) -> Precompiled:
    # The append as one statement (PostgreSQL; SQLite has no UPDATE inside WITH): the session row is
    # locked for one round trip and the commit instead of three, which is what appends to one
    # session queue on. No session (or not the owner's): nothing counted, nothing inserted, no id.
    bump = (
        sessions.update()
        .where(_owned_by(sessions) if owned else _by_id(sessions))
        .values(**_count_one_more)
        .returning(sessions.c.session_id)
        .cte("bump")
    )
    values = [column for column in MESSAGE.columns if not column.primary_key and column.key != "session_id"]
    stored = sa.select(bump.c.session_id, *(sa.cast(sa.bindparam(column.key), column.type) for column in values))
    return Precompiled(
        messages.insert()
        .from_select(["session_id", *(column.key for column in values)], stored)
        .add_cte(bump)
        .returning(messages.c.id)
    )


count_and_insert_message = {owned: _count_and_insert(owned) for owned in (False, True)}

_history = MESSAGE.select().where(_by_id(messages))
newest_messages = Precompiled(_history.order_by(messages.c.id.desc()).limit(sa.bindparam("limit")))
newest_messages_before = Precompiled(
    _history.where(messages.c.id < sa.bindparam("before")).order_by(messages.c.id.desc()).limit(sa.bindparam("limit"))
)
# The byte budget of a page is decided on sizes alone, before any content is loaded.
_sizes = sa.select(
    messages.c.id,
    octet_length(messages.c.content) + sa.func.coalesce(octet_length(sa.cast(messages.c.metadata, sa.Text)), 0),
).where(_by_id(messages))
newest_sizes = Precompiled(_sizes.order_by(messages.c.id.desc()).limit(sa.bindparam("limit")))
newest_sizes_before = Precompiled(
    _sizes.where(messages.c.id < sa.bindparam("before")).order_by(messages.c.id.desc()).limit(sa.bindparam("limit"))
)

_in_session = _by_id(messages)
count_by_role = sa.select(messages.c.role, sa.func.count()).where(_in_session).group_by(messages.c.role)
first_message_time = sa.select(messages.c.timestamp).where(_in_session).order_by(messages.c.id.asc()).limit(1)
last_message_time = sa.select(messages.c.timestamp).where(_in_session).order_by(messages.c.id.desc()).limit(1)
delete_messages = messages.delete().where(_in_session)
newest_message = MESSAGE.select().where(_in_session).order_by(messages.c.id.desc()).limit(1)
delete_message = messages.delete().where(messages.c.id == sa.bindparam("id"))
decrement_message_count = (
    sessions.update()
    .where(_by_id(sessions))
    .values(message_count=sa.case((sessions.c.message_count > 0, sessions.c.message_count - 1), else_=0))
)

# -- owners of legacy sessions (operator command): only sessions that have none ----------------
_unowned = sessions.c.owner.is_(None)
_new_owner = {"owner": sa.bindparam("new_owner", type_=sa.Text)}
assign_owner_by_session_id = sessions.update().where(_by_id(sessions), _unowned).values(**_new_owner)
assign_owner_by_fingerprint = (
    sessions.update()
    .where(sessions.c.device_fingerprint == sa.bindparam("key", type_=sa.Text), _unowned)
    .values(**_new_owner)
)

# -- listing: most recently active first, keyset-paged on (last_active, session_id) ------------
# Ordered by the raw columns so that the indexes of revision 0002 serve it. The cursor keeps the
# raw stored value (text or a legacy epoch on SQLite, a timestamp on PostgreSQL), so the column is
# read and compared untyped. Sessions never active (NULL last_active) come after all others.
raw_last_active = sa.type_coerce(sessions.c.last_active, sa.types.NullType())
PREVIEW_CHARS = 100
_last_message = messages.alias("last_message")
last_message_preview = (
    sa.select(sa.func.substr(_last_message.c.content, 1, PREVIEW_CHARS))
    .where(_last_message.c.session_id == sessions.c.session_id)
    .order_by(_last_message.c.id.desc())
    .limit(1)
    .scalar_subquery()
)


@functools.cache
def listing(*, dated: bool, after_cursor: bool, by_fingerprint: bool, by_owner: bool = False) -> sa.Select:
    """One page of the listing: sessions with a last_active (`dated`), or those without, after them."""
    statement = SESSION.select().add_columns(
        raw_last_active.label("raw_last_active"), last_message_preview.label("last_message_preview")
    )
    if by_owner:
        statement = statement.where(sessions.c.owner == sa.bindparam("scope", type_=sa.Text))
    if by_fingerprint:
        statement = statement.where(sessions.c.device_fingerprint == sa.bindparam("fingerprint", type_=sa.Text))
    if not dated:
        statement = statement.where(sessions.c.last_active.is_(None))
        if after_cursor:
            statement = statement.where(sessions.c.session_id < sa.bindparam("sid", type_=sa.Text))
        return statement.order_by(sessions.c.session_id.desc()).limit(sa.bindparam("limit"))
    statement = statement.where(sessions.c.last_active.is_not(None))
    if after_cursor:
        position = sa.tuple_(raw_last_active, sessions.c.session_id)
        statement = statement.where(position < sa.tuple_(sa.bindparam("key"), sa.bindparam("sid", type_=sa.Text)))
    newest_first = (sessions.c.last_active.desc(), sessions.c.session_id.desc())
    return statement.order_by(*newest_first).limit(sa.bindparam("limit"))
