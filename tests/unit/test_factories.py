"""The factories build rows the service can read."""

from tests.factories import ChatMessageFactory, SessionFactory


def test_factory_session_is_readable_through_the_service(db, service):
    created = SessionFactory(metadata_={"client": "ios"})
    assert service.get_session(created.session_id).metadata == {"client": "ios"}


def test_factory_messages_share_a_session_when_given_one(db, service):
    session = SessionFactory()
    first, second = ChatMessageFactory(session=session), ChatMessageFactory(session=session, role="assistant")
    history = service.get_chat_history(session.session_id)
    assert [m.id for m in history] == [first.id, second.id]
    assert [m.role for m in history] == ["user", "assistant"]
