"""Search over message content: an index kept by the database in the same transaction as every write.

SQLite: an FTS5 table `message_search` over chat_history's content (external content: the text is not stored
twice), filled by triggers on insert, delete and rewind. PostgreSQL: a GIN index on the content's tsvector
(through a function whose cost tells the planner what a row's recheck costs).
Both index the first SEARCHED_CHARS characters of the live (not superseded) messages. No existing row changes.

Existing rows are indexed here, in batches with progress when `session-store migrate` runs on a terminal. For
1,000,000 messages of 8 to 40 words: 6.9 s on SQLite, 19.2 s on PostgreSQL (docs/performance.md, "Search").

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The same numbers as backend.store.repositories.search (a migration is frozen: it never imports app code).
SEARCHED_CHARS = 100_000
BATCH_ROWS = 20_000

SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_search USING fts5("
    "content, content='chat_history', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)
# An external-content index must be told the exact text it indexed to forget it: the same substr everywhere.
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS message_search_insert AFTER INSERT ON chat_history
    WHEN new.superseded_at IS NULL BEGIN
        INSERT INTO message_search(rowid, content) VALUES (new.id, substr(new.content, 1, {SEARCHED_CHARS}));
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS message_search_delete AFTER DELETE ON chat_history
    WHEN old.superseded_at IS NULL BEGIN
        INSERT INTO message_search(message_search, rowid, content)
        VALUES ('delete', old.id, substr(old.content, 1, {SEARCHED_CHARS}));
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS message_search_update AFTER UPDATE OF content, superseded_at ON chat_history
    BEGIN
        INSERT INTO message_search(message_search, rowid, content)
        SELECT 'delete', old.id, substr(old.content, 1, {SEARCHED_CHARS}) WHERE old.superseded_at IS NULL;
        INSERT INTO message_search(rowid, content)
        SELECT new.id, substr(new.content, 1, {SEARCHED_CHARS}) WHERE new.superseded_at IS NULL;
    END""",
)
# The document of a message, as a function the index and the queries share. Its declared COST is what a row's
# recheck costs (a plpgsql call of to_tsvector: about 7 us); at to_tsvector's default cost PostgreSQL walked the
# primary key backwards through 38,000 rows (0.24 s) to find 20 hits of a 1,400-match query whose index bitmap
# took 9 ms. Measured at 1,000,000 messages without parallel workers, before the split below
# (docs/performance.md): two-word p99 53 ms at COST 1000, 32 ms at 5000, 35 ms at 10000. plpgsql, so that the
# planner keeps the function (and its cost) instead of inlining it.
# The characters that join words into one token of PostgreSQL's parser (an e-mail address, a host, a URL, a version
# number, an HTML tag) become spaces, so that their words are found as SQLite finds them: without it
# "bob@example.com", "shop.example.com" or "2.5.1" were one token no query of words matched, and the text inside
# tags was dropped. translate(), not a regular expression: with regexp_replace('[^[:alnum:]]+') a row's recheck
# cost 14 us and the two-word p99 went from 32-41 ms to 54-59 ms; with translate() 46-96 ms over 4 noisy runs.
POSTGRES_DOCUMENT = f"""CREATE OR REPLACE FUNCTION message_search_document(content text) RETURNS tsvector
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 5000 AS $$
    BEGIN RETURN to_tsvector('simple'::regconfig, translate(left(content, {SEARCHED_CHARS}), '@./:<>', '      '));
    END $$"""
POSTGRES_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_chat_history_search ON chat_history USING gin (message_search_document(content))"
)


def _progress():
    # session-store migrate hands in a progress callback (done, total, label) when it runs on a terminal.
    return context.config.attributes.get("progress") or (lambda done, total, label=None: None)


def _index_sqlite_rows() -> None:
    bind = op.get_bind()
    total = bind.exec_driver_sql("SELECT count(*) FROM chat_history WHERE superseded_at IS NULL").scalar_one()
    progress, done, after = _progress(), 0, None
    while True:
        # Batches along the primary key: each a range scan, whatever the table holds.
        bounds = "WHERE id > ?" if after is not None else ""
        last = bind.exec_driver_sql(
            f"SELECT max(id) FROM (SELECT id FROM chat_history {bounds} ORDER BY id LIMIT {BATCH_ROWS})",
            (after,) if after is not None else (),
        ).scalar_one()
        if last is None:
            break
        lower = "id > ? AND " if after is not None else ""
        done += bind.exec_driver_sql(
            "INSERT INTO message_search(rowid, content) "
            f"SELECT id, substr(content, 1, {SEARCHED_CHARS}) FROM chat_history "
            f"WHERE {lower}id <= ? AND superseded_at IS NULL",
            (after, last) if after is not None else (last,),
        ).rowcount
        after = last
        progress(done, total, "indexing messages for search")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_TABLE)
        _index_sqlite_rows()
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    else:
        _progress()(0, 1, "indexing messages for search")
        op.execute(POSTGRES_DOCUMENT)
        op.execute(POSTGRES_INDEX)
        _progress()(1, 1, "indexing messages for search")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("message_search_update", "message_search_delete", "message_search_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS message_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_chat_history_search")
        op.execute("DROP FUNCTION IF EXISTS message_search_document(text)")
