"""The append's statements: each message counted on its session in the same write (store.repositories.messages)."""

from __future__ import annotations

import sqlalchemy as sa

from backend.store.sql import MESSAGE, SESSION, Precompiled, at, by_id, messages, owned_by, sessions

# -- the append: the two hot paths run precompiled -----------------------------------------------
_count_one_more = dict(
    message_count=sa.func.coalesce(sessions.c.message_count, 0) + 1, last_active=at(sessions.c.last_active)
)
increment_count = {
    owned: Precompiled(
        sessions.update().where(owned_by(sessions) if owned else by_id(sessions)).values(**_count_one_more)
    )
    for owned in (False, True)
}
# A batch: counted once for all its messages, in the same transaction as their inserts.
_count_n_more = dict(_count_one_more, message_count=sa.func.coalesce(sessions.c.message_count, 0) + sa.bindparam("n"))
increment_count_by = {
    owned: Precompiled(
        sessions.update().where(owned_by(sessions) if owned else by_id(sessions)).values(**_count_n_more)
    )
    for owned in (False, True)
}
# A turn's first write: the count, and the session as it now is (the agent's context) in the same statement.
count_and_read_session = {
    owned: Precompiled(
        sessions.update()
        .where(owned_by(sessions) if owned else by_id(sessions))
        .values(**_count_one_more)
        .returning(*SESSION.columns)
    )
    for owned in (False, True)
}
# Bind names are the column names: the repository passes {column name: stored value}.
STORED = [column for column in MESSAGE.columns if not column.primary_key]
# What an insert writes: the record's columns, and its token count (derived from the content, never read back
# into a MessageRecord: only the context window reads it).
_INSERTED = [*STORED, messages.c.token_count]
insert_message = Precompiled(messages.insert().returning(messages.c.id), column_keys=[c.key for c in _INSERTED])


def _count_and_insert(owned: bool) -> Precompiled:
    # The append as one statement (PostgreSQL; SQLite has no UPDATE inside WITH): the session row is
    # locked for one round trip and the commit instead of three, which is what appends to one
    # session queue on. No session (or not the owner's): nothing counted, nothing inserted, no id.
    bump = (
        sessions.update()
        .where(owned_by(sessions) if owned else by_id(sessions))
        .values(**_count_one_more)
        .returning(sessions.c.session_id)
        .cte("bump")
    )
    values = [column for column in _INSERTED if column.key != "session_id"]
    stored = sa.select(bump.c.session_id, *(sa.cast(sa.bindparam(column.key), column.type) for column in values))
    return Precompiled(
        messages.insert()
        .from_select(["session_id", *(column.key for column in values)], stored)
        .add_cte(bump)
        .returning(messages.c.id)
    )


count_and_insert_message = {owned: _count_and_insert(owned) for owned in (False, True)}


def _count_insert_and_read(owned: bool) -> Precompiled:
    # A turn's first write as one statement (PostgreSQL): the append above, also returning the session as the
    # count left it (the agent's context) beside the new message's id. One round trip where a turn took two.
    bump = (
        sessions.update()
        .where(owned_by(sessions) if owned else by_id(sessions))
        .values(**_count_one_more)
        .returning(*SESSION.columns)
        .cte("bump")
    )
    values = [column for column in _INSERTED if column.key != "session_id"]
    stored = sa.select(bump.c.session_id, *(sa.cast(sa.bindparam(column.key), column.type) for column in values))
    inserted = (
        messages.insert()
        .from_select(["session_id", *(column.key for column in values)], stored)
        .returning(messages.c.id)
        .cte("inserted")
    )
    return Precompiled(
        sa.select(*(bump.c[column.name] for column in SESSION.columns), inserted.c.id).select_from(
            bump.join(inserted, sa.true())
        )
    )


count_insert_and_read_session = {owned: _count_insert_and_read(owned) for owned in (False, True)}
