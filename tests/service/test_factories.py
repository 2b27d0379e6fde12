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


def test_factory_messages_keep_their_sessions_count_equal_to_its_rows(db, service):
    session, other = SessionFactory(), SessionFactory()
    for _ in range(3):
        ChatMessageFactory(session=session)
    ChatMessageFactory(session=other)
    lone = ChatMessageFactory()
    counts = {sid: service.get_session(sid).message_count for sid in (session.session_id, other.session_id)}
    assert counts == {session.session_id: 3, other.session_id: 1}
    assert service.get_session(lone.session_id).message_count == 1
    assert len(service.get_chat_history(session.session_id)) == 3
