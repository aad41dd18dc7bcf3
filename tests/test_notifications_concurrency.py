"""Two deliverers at once, real threads and commits: each message is sent exactly once.

On PostgreSQL each deliverer locks the message it sends (FOR UPDATE SKIP LOCKED) and the
other skips it; on SQLite every transaction holds the write lock (BEGIN IMMEDIATE).
"""

import asyncio
import threading
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from tests.conftest import petition_values
from tests.test_notifications import Inbox, free_port
from tracker.auth import services as auth_services
from tracker.cli import deliver_due
from tracker.extensions import db
from tracker.notifications import delivery
from tracker.notifications.models import Notification
from tracker.petitions import services as petition_services

pytestmark = pytest.mark.committed
CASES = 30


class SlowInbox(Inbox):
    """Takes a moment per message, so the two deliverers are sending at the same time."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def test_two_deliverers_send_each_message_once(committed_app):
    app = committed_app
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    try:
        with app.app_context():
            organization = auth_services.create_organization(None, "Concurrent Org")
            advocate = auth_services.create_user(
                None,
                email="concurrent-advocate@example.org",
                name="Advocate",
                role="advocate",
                password="a long enough password 1",
                organization=organization,
            )
            reviewer = auth_services.create_user(
                None,
                email="concurrent-reviewer@example.org",
                name="Reviewer",
                role="reviewer",
                password="a long enough password 2",
            )
            case_numbers = []
            for index in range(CASES):
                petition = petition_services.submit_petition(
                    advocate, petition_values(register_number=f"{20000 + index}-123")
                )
                case_numbers.append(petition.case_number)
            db.session.commit()
            petition_services.decide_petitions(
                reviewer, "start_review", None, dict.fromkeys(case_numbers)
            )
            petition_services.decide_petitions(
                reviewer, "grant", "Merit.", dict.fromkeys(case_numbers)
            )
            db.session.commit()

        barrier = threading.Barrier(2)
        outcomes = [None, None]

        def deliverer(index):
            with app.app_context():
                mailer = delivery.SmtpMailer(app.config)
                barrier.wait()
                try:
                    outcomes[index] = deliver_due(mailer)
                finally:
                    mailer.close()
                    db.session.remove()

        threads = [threading.Thread(target=deliverer, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        ids = Counter(message["Message-ID"] for message in inbox.messages)
        assert len(ids) == CASES and set(ids.values()) == {1}, ids.most_common(3)
        assert sum(outcome["sent"] for outcome in outcomes) == CASES
        with app.app_context():
            statuses = dict(
                db.session.execute(
                    select(Notification.email_status, func.count()).group_by(
                        Notification.email_status
                    )
                ).all()
            )
        assert statuses == {"sent": CASES}
    finally:
        controller.stop()
