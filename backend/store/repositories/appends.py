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


def _count_then_insert(owned: bool, returned: list[sa.Column]) -> tuple[sa.CTE, sa.Insert]:
    # The count (returning `returned` of the session) as a CTE, and the message's insert from it: no session (or
    # not the owner's), nothing counted, nothing inserted, no id. PostgreSQL only: SQLite has no UPDATE in WITH.
    bump = (
        sessions.update()
        .where(owned_by(sessions) if owned else by_id(sessions))
        .values(**_count_one_more)
        .returning(*returned)
        .cte("bump")
    )
    values = [column for column in _INSERTED if column.key != "session_id"]
    stored = sa.select(bump.c.session_id, *(sa.cast(sa.bindparam(column.key), column.type) for column in values))
    insert = messages.insert().from_select(["session_id", *(column.key for column in values)], stored)
    return bump, insert.returning(messages.c.id)


def _count_and_insert(owned: bool) -> Precompiled:
    # The append as one statement: the session row is locked for one round trip and the commit instead of
    # three, which is what appends to one session queue on.
    bump, insert = _count_then_insert(owned, [sessions.c.session_id])
    return Precompiled(insert.add_cte(bump))


count_and_insert_message = {owned: _count_and_insert(owned) for owned in (False, True)}


def _count_insert_and_read(owned: bool) -> Precompiled:
    # A turn's first write as one statement: the append, also returning the session as the count left it (the
    # agent's context) beside the new message's id. One round trip where a turn took two.
    bump, insert = _count_then_insert(owned, list(SESSION.columns))
    inserted = insert.cte("inserted")
    returned = sa.select(*(bump.c[column.name] for column in SESSION.columns), inserted.c.id)
    return Precompiled(returned.select_from(bump.join(inserted, sa.true())))


count_insert_and_read_session = {owned: _count_insert_and_read(owned) for owned in (False, True)}
