"""The email outbox against a real SMTP server (aiosmtpd on 127.0.0.1): sent once with a stable
Message-ID, kept queued and retried while the server refuses or drops the connection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from referral_plugin.mailer import MailConfigError, SmtpMailer, mailer_from_settings, parse_smtp_url
from referral_plugin.models import OutboxMessage, OutboxStatus
from referral_plugin.services.outbox import claim_messages, enqueue_message, send_due_messages
from tests.integration import builders as b
from tests.integration.builders import NOW
from tests.integration.smtp_server import (  # the fixture is used by name
    RecordingHandler,
    SmtpServer,
    smtp_server_fixture,  # noqa: F401
)


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> tuple[RecordingHandler, SmtpMailer]:
    return smtp_server.handler, smtp_server.mailer()


@pytest.fixture
def sessions(session: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection: each `begin()` is a savepoint rolled back at the end."""
    return sessionmaker(
        bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def queue(session: Session, key: str = "welcome:1", html: str | None = None) -> int:
    shop = b.shop(session)
    message_id, _ = enqueue_message(
        session,
        shop_id=shop.id,
        kind="advocate_welcome",
        recipient="anna@example.com",
        dedup_key=key,
        subject="Your referral code",
        text="Share ANNA-7Q2K-9XPA with friends.",
        html=html,
        now=NOW,
    )
    session.flush()
    return message_id


def row(session: Session, message_id: int) -> OutboxMessage:
    session.expire_all()
    message = session.get(OutboxMessage, message_id)
    assert message is not None
    return message


def test_enqueue_is_once_per_dedup_key(session: Session) -> None:
    first = queue(session)
    again, created = enqueue_message(
        session,
        shop_id=row(session, first).shop_id,
        kind="advocate_welcome",
        recipient="anna@example.com",
        dedup_key="welcome:1",
        subject="Your referral code",
        text="again",
        now=NOW,
    )
    assert (again, created) == (first, False)


def test_a_message_is_sent_once_with_a_message_id_from_its_outbox_id(
    session: Session, sessions: sessionmaker[Session], smtp: tuple[RecordingHandler, SmtpMailer]
) -> None:
    handler, mailer = smtp
    message_id = queue(session, html="<p>Share <b>ANNA-7Q2K-9XPA</b></p>")

    first = send_due_messages(sessions, mailer=mailer, now=NOW)
    second = send_due_messages(sessions, mailer=mailer, now=NOW + timedelta(minutes=10))

    (received,) = handler.received
    assert (first.sent, second.sent) == (1, 0)
    assert received["Subject"] == "Your referral code"
    assert received["X-Envelope-To"] == "anna@example.com" == received["To"]
    assert received["Message-ID"] == f"<outbox.{message_id}@shop.example.test>"
    assert received.is_multipart()
    sent = row(session, message_id)
    assert (sent.status, sent.sent_at, sent.locked_until) == (OutboxStatus.SENT, NOW, None)


@pytest.mark.parametrize("failure", ["refuse", "drop"], ids=["554 refused", "connection dropped"])
def test_a_failing_server_keeps_the_message_queued_until_it_recovers(
    session: Session,
    sessions: sessionmaker[Session],
    smtp: tuple[RecordingHandler, SmtpMailer],
    failure: str,
) -> None:
    handler, mailer = smtp
    setattr(handler, failure, 2)
    message_id = queue(session)

    first = send_due_messages(sessions, mailer=mailer, now=NOW)
    failed = row(session, message_id)
    assert first.failed == 1 and failed.status is OutboxStatus.FAILED
    assert (failed.attempts, failed.next_attempt_at) == (1, NOW + timedelta(minutes=1))
    assert failed.last_error and "anna@example.com" not in failed.last_error
    assert send_due_messages(sessions, mailer=mailer, now=NOW + timedelta(seconds=30)).sent == 0

    send_due_messages(sessions, mailer=mailer, now=NOW + timedelta(minutes=1))
    recovered = send_due_messages(sessions, mailer=mailer, now=NOW + timedelta(minutes=3))
    send_due_messages(sessions, mailer=mailer, now=NOW + timedelta(hours=1))

    assert recovered.sent == 1 and len(handler.received) == 1
    assert (row(session, message_id).status, row(session, message_id).attempts) == (
        OutboxStatus.SENT,
        2,
    )


def test_a_message_is_dead_after_max_attempts(
    session: Session, sessions: sessionmaker[Session], smtp: tuple[RecordingHandler, SmtpMailer]
) -> None:
    handler, mailer = smtp
    handler.refuse = 10
    message_id = queue(session)

    send_due_messages(sessions, mailer=mailer, now=NOW, max_attempts=2)
    last = send_due_messages(sessions, mailer=mailer, now=NOW + timedelta(hours=1), max_attempts=2)

    assert last.dead == 1
    dead = row(session, message_id)
    assert (dead.status, dead.next_attempt_at, dead.attempts) == (OutboxStatus.DEAD, None, 2)


def test_a_lease_keeps_other_workers_away_and_a_crash_resends_with_the_same_message_id(
    session: Session, sessions: sessionmaker[Session], smtp: tuple[RecordingHandler, SmtpMailer]
) -> None:
    handler, mailer = smtp
    message_id = queue(session)
    with sessions() as worker_a, worker_a.begin():
        (claimed,) = claim_messages(worker_a, now=NOW, lease=timedelta(minutes=5))
    mailer.send(claimed)  # worker A dies here: the server has it, the row is not marked

    with sessions() as worker_b, worker_b.begin():
        assert claim_messages(worker_b, now=NOW + timedelta(minutes=1)) == []
    resent = send_due_messages(sessions, mailer=mailer, now=NOW + timedelta(minutes=6))

    assert resent.sent == 1 and row(session, message_id).status is OutboxStatus.SENT
    assert [m["Message-ID"] for m in handler.received] == [
        f"<outbox.{message_id}@shop.example.test>"
    ] * 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "smtp://mailer:s3cret@mail.example.test:587",
            ("mail.example.test", 587, False, True, "mailer", "no-reply@app.example.test"),
            id="port 587 means STARTTLS",
        ),
        pytest.param(
            "smtps://mailer:p%40ss@mail.example.test?from=hi@shop.test",
            ("mail.example.test", 465, True, False, "mailer", "hi@shop.test"),
            id="smtps is implicit TLS on 465",
        ),
        pytest.param(
            "smtp://relay.internal:2525?starttls=1",
            ("relay.internal", 2525, False, True, None, "no-reply@app.example.test"),
            id="starttls flag, no auth",
        ),
        pytest.param(
            "smtp://localhost",
            ("localhost", 25, False, False, None, "no-reply@app.example.test"),
            id="plain port 25",
        ),
    ],
)
def test_smtp_urls(url: str, expected: tuple[object, ...]) -> None:
    config = parse_smtp_url(url, default_sender="no-reply@app.example.test")
    got = (
        config.host,
        config.port,
        config.implicit_tls,
        config.starttls,
        config.username,
        config.sender,
    )
    assert got == expected
    assert "s3cret" not in repr(config)


def test_a_bad_smtp_url_is_refused_and_no_url_means_no_mailer() -> None:
    with pytest.raises(MailConfigError):
        parse_smtp_url("http://mail.example.test", default_sender="x@y.test")
    assert mailer_from_settings(None, "https://app.example.test") is None
