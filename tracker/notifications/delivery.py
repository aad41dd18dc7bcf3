"""The deliverer's work: build a notification e-mail, send it over SMTP, record the outcome.

``flask --app tracker notifications deliver`` (``tracker.cli``) loops over ``deliver_next``
and commits once per message, so that a message's row stays locked (FOR UPDATE SKIP LOCKED
on PostgreSQL) exactly while it is being sent.
"""

import contextlib
import logging
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

from flask import current_app, render_template
from sqlalchemy import select

from tracker.auth.models import User
from tracker.extensions import db
from tracker.i18n import gettext, language_of
from tracker.notifications.kinds import KINDS
from tracker.notifications.models import EmailOptOut, Notification
from tracker.notifications.services import message_text

log = logging.getLogger("tracker.notifications")


# --- e-mail -------------------------------------------------------------------------------------


def case_link(case_number: str) -> str:
    return f"{current_app.config['APP_BASE_URL'].rstrip('/')}/petitions/{case_number}"


def build_email(notification: Notification, case_number: str, recipient: User) -> EmailMessage:
    """The e-mail: case number, what happened, a link. Never a name or a detail of the case:
    e-mail is not a safe channel for a criminal record."""
    with language_of(recipient):  # the recipient's language (tracker.i18n)
        return _build_email(notification, case_number, recipient)


def _build_email(notification: Notification, case_number: str, recipient: User) -> EmailMessage:
    config = current_app.config
    kind = KINDS[notification.kind]
    message = EmailMessage()
    message["Subject"] = "[{}] {}".format(
        gettext("Clemency Tracker"), str(kind.sentence) % {"case": case_number}
    )
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = recipient.email
    # One Message-ID per notification: a message sent again (a deliverer killed between
    # sending and committing) is recognizably the same one to mail clients.
    host = urlsplit(config["APP_BASE_URL"]).hostname or "localhost"
    message["Message-ID"] = f"<notification-{notification.id}@{host}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        render_template(
            "notifications/email.txt",
            message=message_text(notification.kind, case_number),
            link=case_link(case_number),
            preferences_link=f"{config['APP_BASE_URL'].rstrip('/')}/account/notifications",
        )
    )
    return message


class SmtpMailer:
    """Sends over SMTP with the MAIL_* settings; one connection reused for a run."""

    def __init__(self, config):
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
        timeout = config["MAIL_TIMEOUT"]
        if config["MAIL_USE_SSL"]:
            connection = smtplib.SMTP_SSL(host, port, timeout=timeout)
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
            if config["MAIL_USE_TLS"]:
                connection.starttls()
        if config["MAIL_USERNAME"]:
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        return connection

    def send(self, message: EmailMessage) -> None:
        if self.connection is None:
            self.connection = self._connect()
        try:
            self.connection.send_message(message)
        except (smtplib.SMTPException, OSError):
            self.close()  # the next message starts on a fresh connection
            raise

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.quit()
            self.connection = None


#: Refusals no retry will change (a recipient the server does not accept).
PERMANENT_ERRORS = (smtplib.SMTPRecipientsRefused,)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: the base after the first failure, doubled each time, capped."""
    config = current_app.config
    delay = config["NOTIFICATION_RETRY_BASE"] * (2 ** (attempts - 1))
    return min(delay, config["NOTIFICATION_RETRY_MAX"])


def _claim_next(now: datetime) -> Notification | None:
    """Lock the oldest due e-mail. SKIP LOCKED: concurrent deliverers each take another row
    (PostgreSQL); on SQLite the transaction already holds the write lock."""
    return db.session.scalar(
        select(Notification)
        .where(Notification.email_status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Notification)
    )


def _wants_email(notification: Notification) -> bool:
    if not notification.user.active:
        return False
    opted_out = db.session.get(EmailOptOut, (notification.user_id, notification.kind))
    return opted_out is None


def _deliver_one(notification: Notification, mailer, now: datetime) -> str:
    if not _wants_email(notification):
        notification.email_status = "skipped"
        return "skipped"
    notification.email_attempts += 1
    try:
        mailer.send(build_email(notification, notification.petition.case_number, notification.user))
    except (smtplib.SMTPException, OSError) as error:
        notification.last_error = f"{type(error).__name__}: {error}"[:1000]
        out_of_attempts = (
            notification.email_attempts >= current_app.config["NOTIFICATION_MAX_ATTEMPTS"]
        )
        if isinstance(error, PERMANENT_ERRORS) or out_of_attempts:
            notification.email_status = "failed"
            log.warning("notification %s failed for good: %s", notification.id, error)
            return "failed"
        notification.next_attempt_at = now + retry_delay(notification.email_attempts)
        log.info("notification %s: attempt failed, retrying later: %s", notification.id, error)
        return "retry"
    notification.email_status = "sent"
    notification.email_sent_at = now
    notification.last_error = None
    return "sent"


def deliver_next(mailer) -> str | None:
    """Claim the oldest due e-mail, send it and record the outcome (sent, retry, failed or
    skipped); None when nothing is due. Flushes, never commits: the caller (the deliverer
    loop, ``tracker.cli.deliver_due``) commits each message on its own, which releases its
    row lock only once its outcome is written.
    """
    now = datetime.now(UTC)
    notification = _claim_next(now)
    if notification is None:
        return None
    outcome = _deliver_one(notification, mailer, now)
    db.session.flush()
    return outcome
