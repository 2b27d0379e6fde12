"""factory-boy factories over the models, bound per test to that test's database."""

from __future__ import annotations

from datetime import UTC, datetime

import factory
import sqlalchemy.orm as so
from factory.alchemy import SQLAlchemyModelFactory

from backend.models import ChatMessage, Session

# The unit of work every factory uses; the `db` fixture binds it to the test's database.
orm_session = so.scoped_session(so.sessionmaker(expire_on_commit=False))


class BaseFactory(SQLAlchemyModelFactory):
    """Commits each object so that the service, in its own transactions, sees it."""

    class Meta:
        abstract = True
        sqlalchemy_session = orm_session
        sqlalchemy_session_persistence = "commit"


class SessionFactory(BaseFactory):
    """A session with a unique id and a little metadata."""

    class Meta:
        model = Session

    session_id = factory.Sequence(lambda n: f"session-{n}")
    device_fingerprint = factory.Sequence(lambda n: f"device-{n}")
    created_at = factory.LazyFunction(lambda: datetime.now(UTC))
    last_active = factory.SelfAttribute("created_at")
    message_count = 0
    metadata_ = factory.LazyFunction(lambda: {"client": "web"})


class ChatMessageFactory(BaseFactory):
    """A user message in its own new session (pass session=... to share one), counted on its session as the
    service counts it: message_count stays equal to the rows."""

    class Meta:
        model = ChatMessage

    session = factory.SubFactory(SessionFactory)
    role = "user"
    content = factory.Sequence(lambda n: f"message {n}")
    timestamp = factory.LazyFunction(lambda: datetime.now(UTC))
    metadata_ = None

    @factory.post_generation
    def counted(message, create, extracted, **kwargs):
        if create:
            message.session.message_count = (message.session.message_count or 0) + 1
            orm_session.commit()
