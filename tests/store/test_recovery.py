"""Connections the database dropped are not reused: the service recovers by itself."""

import pytest
import sqlalchemy as sa

from backend.services.errors import StoreUnavailable
from backend.services.session import SessionService


def terminate_other_connections(url):
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            return conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = "
                    "'recovery-test'"
                )
            ).scalar()
    finally:
        admin.dispose()


@pytest.mark.parametrize("call", ["save_message", "get_chat_history", "get_session"])
def test_after_the_server_drops_our_connections_the_next_calls_succeed(postgres_schema, call):
    postgres_schema.empty()
    url = sa.make_url(postgres_schema.url).update_query_dict({"application_name": "recovery-test"})
    service = SessionService(url.render_as_string(hide_password=False))
    service.get_or_create_session("s1")
    service.save_message("s1", "user", "before")
    assert terminate_other_connections(postgres_schema.url) >= 1
    operation = {
        "save_message": lambda: service.save_message("s1", "user", "after"),
        "get_chat_history": lambda: service.get_chat_history("s1"),
        "get_session": lambda: service.get_session("s1"),
    }[call]
    try:
        operation()
    except StoreUnavailable:
        pass  # the call that meets the dead connection may fail; it must not poison the pool
    operation()
    operation()
    assert service.get_session("s1").message_count == len(service.get_chat_history("s1"))


def test_a_database_never_migrated_says_to_run_the_migrations(database_url, tmp_path):
    import secrets

    from backend.store.engines import create_engine
    from tests.databases import url_with_schema

    schema = None
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    else:
        schema = f"empty_{secrets.token_hex(4)}"
        admin = sa.create_engine(database_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = url_with_schema(database_url, schema)
    engine = create_engine(url)
    service = SessionService(engine)
    try:
        for call in (
            lambda: service.get_or_create_session("s1"),
            lambda: service.save_message("s1", "user", "x"),
            lambda: service.get_chat_history("s1"),
        ):
            with pytest.raises(StoreUnavailable, match="alembic upgrade head"):
                call()
    finally:
        engine.dispose()
        if schema:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
