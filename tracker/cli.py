"""Operators' commands: ``flask --app tracker <command>``.

Each command commits once at the end, or exits non-zero with nothing changed.
"""

import sys

import click
from flask import Flask
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_babel import ngettext

from tracker.auth import services as auth_services
from tracker.database import begin_read_only
from tracker.errors import BulkRefused, DomainError, ValidationFailed
from tracker.extensions import db
from tracker.workflow import Role


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


def _describe(error: DomainError) -> str:
    if isinstance(error, ValidationFailed):
        return "; ".join(f"{field}: {message}" for field, message in error.errors.items())
    return error.message


@click.command("create-user")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--organization", "organization_name", help="The advocate's organization.")
@click.option("--name", help="Full name (defaults to the e-mail's local part).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email, role, organization_name, name, password_stdin):
    """Create a user; the password is asked twice, or read from standard input."""
    organization = None
    if organization_name:
        organization = auth_services.find_organization(organization_name)
        if organization is None:
            _fail(
                _(
                    "Unknown organization '%(name)s'. "
                    "Create it with: flask --app tracker create-organization NAME",
                    name=organization_name,
                )
            )
    if role == Role.ADVOCATE and organization is None:
        _fail(_("An advocate needs --organization NAME."))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth_services.create_user(
            None,
            email=email,
            name=name or email.split("@")[0],
            role=role,
            password=password,
            organization=organization,
        )
    except DomainError as error:
        _fail(_describe(error))
    db.session.commit()
    click.echo(
        _("Created %(role)s %(email)s (id %(id)s).", role=user.role, email=user.email, id=user.id)
    )


@click.command("create-organization")
@click.argument("name")
def create_organization_command(name):
    """Create an advocacy group."""
    try:
        organization = auth_services.create_organization(None, name)
    except DomainError as error:
        _fail(_describe(error))
    db.session.commit()
    click.echo(
        _(
            "Created organization %(organization)s (id %(id)s).",
            organization=organization.name,
            id=organization.id,
        )
    )


@click.command("seed-demo")
@click.option("--petitions", default=50, show_default=True, help="How many petitions to create.")
def seed_demo_command(petitions):
    """Demo data: two organizations, a user per role (credentials printed), petitions."""
    from tracker.demo import seed_demo

    try:
        credentials = seed_demo(petitions)
    except DomainError as error:
        _fail(_describe(error))
    if credentials is None:
        click.echo(_("Demo data is already there; nothing added."))
        return
    db.session.commit()
    click.echo(_("Demo users (e-mail / password):"))
    for role, email, password in credentials:
        click.echo(f"  {role:<10} {email:<32} {password}")


audit_group = AppGroup("audit", help="Audit log commands.")


@audit_group.command("verify")
@click.option("--recent", type=int, help="Check only the newest N entries.")
def audit_verify_command(recent):
    """Walk the hash chain; exit 0 when intact, 1 naming the first bad entry."""
    from tracker.audit import services as audit_services

    begin_read_only(db.session)  # a long read: on SQLite, writers are not kept waiting
    result = audit_services.verify_chain(recent=recent)
    db.session.rollback()
    audit_services.save_verification(result, scope="recent" if recent else "full")
    db.session.commit()
    click.echo(result.message)
    if not result.intact:
        sys.exit(1)


@audit_group.command("close-windows")
def audit_close_windows_command():
    """Append the counts of repeated security events whose window is over (run it from cron;
    the app also does it at each security event)."""
    from tracker.audit import services as audit_services

    closed = audit_services.close_finished_windows()
    db.session.commit()
    click.echo(
        ngettext(
            "%(num)d finished window of repeated security events closed.",
            "%(num)d finished windows of repeated security events closed.",
            closed,
        )
    )


readlog_group = AppGroup("readlog", help="Read log (access log) commands.")


@readlog_group.command("digest")
def readlog_digest_command():
    """Seal every finished UTC day of the read log with a digest in the audit chain (cron,
    daily after midnight UTC plus READ_LOG_DIGEST_GRACE_MINUTES)."""
    from tracker.readlog import services as readlog_services

    sealed = readlog_services.digest_days()
    db.session.commit()
    for digest in sealed:
        click.echo(
            _(
                "%(day)s: %(entries)s reads sealed (%(digest)s…)",
                day=digest.day,
                entries=digest.entries,
                digest=digest.digest[:16],
            )
        )
    click.echo(ngettext("%(num)d day sealed.", "%(num)d days sealed.", len(sealed)))


@readlog_group.command("verify")
def readlog_verify_command():
    """Recompute every sealed day; exit 0 when all match their digests, 1 naming the first
    day that does not."""
    from tracker.readlog import services as readlog_services

    begin_read_only(db.session)
    result = readlog_services.verify_digests()
    db.session.rollback()
    click.echo(result.message)
    if not result.intact:
        sys.exit(1)


@click.command("create-token")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. 'nightly import'.")
def create_token_command(email, name):
    """Issue a personal API token for the user with this e-mail.

    The token is printed once, alone on standard output; only its hash is kept. It acts
    with the user's role and organization. The user can see and revoke it on their
    profile page (API tokens).
    """
    from tracker.auth import tokens

    user = auth_services.find_user_by_email(email)
    if user is None:
        _fail(_("No user with the e-mail %(email)s.", email=email))
    try:
        token, plaintext = tokens.create_token(user, name, by_operator=True)
    except DomainError as error:
        _fail(_describe(error))
    db.session.commit()
    click.echo(
        _(
            "Token '%(token)s' for %(email)s (%(role)s); copy it now:",
            token=token.name,
            email=user.email,
            role=user.role,
        ),
        err=True,
    )
    click.echo(plaintext)


def _import_advocate(organization_name: str, advocate_email: str):
    organization = auth_services.find_organization(organization_name)
    if organization is None:
        _fail(_("Unknown organization '%(name)s'.", name=organization_name))
    advocate = auth_services.find_user_by_email(advocate_email)
    if (
        advocate is None
        or not advocate.is_advocate
        or not advocate.active
        or advocate.organization_id != organization.id
    ):
        _fail(
            _(
                "%(email)s is not an active advocate of %(organization)s.",
                email=advocate_email,
                organization=organization.name,
            )
        )
    return advocate


@click.command("import-petitions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "--organization",
    "organization_name",
    required=True,
    help="The organization the petitions are for.",
)
@click.option(
    "--advocate",
    "advocate_email",
    required=True,
    help="E-mail of an active advocate of that organization, who submits them.",
)
def import_petitions_command(file, organization_name, advocate_email):
    """Import a CSV or .xlsx file of petitions for an organization, all or nothing.

    The columns are the writable fields of the JSON API (kind, petitioner_name,
    register_number, date_of_birth, offenses, sentencing_court, sentence, sentence_date,
    custody_status, projected_release_date, grounds). Every row is checked first; if any
    is bad, nothing is imported and every problem is listed with its line.

    The petitions are attributed to --advocate, who must be an active advocate of the
    organization: they become the petitions' advocate, and each petition's 'submit' audit
    entry names them, as for a petition they submitted themselves; the entry's user agent
    'cli' and its details (source csv_import, line) record that an operator imported it.
    """
    from tracker.petitions import importing
    from tracker.petitions import services as petition_services

    advocate = _import_advocate(organization_name, advocate_email)
    try:
        with open(file, "rb") as csv_file:
            rows = importing.read_file(csv_file.read())
        with click.progressbar(length=len(rows), label="Checking rows", file=sys.stderr) as bar:
            case_numbers = petition_services.import_petitions(advocate, rows, progress=bar.update)
    except BulkRefused as error:
        for problem in error.offenders:
            click.echo(importing.describe_import_problem(problem), err=True)
        _fail(error.message)
    except DomainError as error:
        _fail(_describe(error))
    db.session.commit()
    if not case_numbers:
        click.echo(_("Imported 0 petitions for %(name)s.", name=advocate.organization.name))
        return
    click.echo(
        ngettext(
            "Imported %(num)d petition for %(name)s: %(first)s to %(last)s.",
            "Imported %(num)d petitions for %(name)s: %(first)s to %(last)s.",
            len(case_numbers),
            name=advocate.organization.name,
            first=case_numbers[0],
            last=case_numbers[-1],
        )
    )


dashboards_group = AppGroup("dashboards", help="The dashboards' and statistics' summary.")
#: Rows of drift ``dashboards verify`` prints at most (it always gives the count).
DRIFT_SHOWN = 20


@dashboards_group.command("verify")
def dashboards_verify_command():
    """Recount the summary behind the dashboards and statistics from the petitions and the
    audit log, and report every difference (exit status 1 when there is any). Reads only."""
    from tracker.dashboards import summary

    differences = summary.drift()
    if not differences:
        click.echo("The summary equals a recount from scratch.")
        return
    click.echo(f"{len(differences)} summary rows differ from a recount (kept → recounted):")
    for key, kept, recounted in differences[:DRIFT_SHOWN]:
        click.echo(f"  {summary.describe(key)}: {kept} → {recounted}")
    if len(differences) > DRIFT_SHOWN:
        click.echo(f"  … and {len(differences) - DRIFT_SHOWN} more")
    click.echo("Run `flask dashboards rebuild` to replace the summary by the recount.")
    sys.exit(1)


@dashboards_group.command("rebuild")
def dashboards_rebuild_command():
    """Replace the summary by a recount from scratch, in one transaction (after changing
    DISPLAY_TIMEZONE, or when ``verify`` reports drift)."""
    from tracker.dashboards import summary

    summary.rebuild()
    db.session.commit()
    click.echo("The summary was rebuilt from the petitions and the audit log.")


notifications_group = AppGroup("notifications", help="Notification e-mail commands.")


def deliver_due(mailer, *, limit: int | None = None, stop=None) -> dict[str, int]:
    """Send the due notification e-mails, one short transaction each (claim, send, record,
    commit), until none is due, ``limit`` were handled or ``stop`` (a threading.Event) is set.
    Returns counts by outcome (sent, retry, failed, skipped).

    The row stays locked while its message is sent, so no other deliverer sends it too; a
    deliverer killed between sending and committing leaves it pending, to be sent again
    (at least once, never twice by two live deliverers).
    """
    from tracker.notifications import delivery

    outcomes = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    handled = 0
    while (limit is None or handled < limit) and not (stop is not None and stop.is_set()):
        try:
            outcome = delivery.deliver_next(mailer)
            if outcome is None:
                db.session.rollback()
                break
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        outcomes[outcome] += 1
        handled += 1
    return outcomes


@notifications_group.command("deliver")
@click.option("--loop", is_flag=True, help="Keep running: poll for due e-mails until stopped.")
@click.option("--limit", type=int, help="Stop after handling this many e-mails.")
def notifications_deliver_command(loop, limit):
    """Send the notification e-mails that are due over SMTP (the MAIL_* settings).

    Without --loop, sends what is due and exits (for cron); with it, keeps polling every
    NOTIFICATION_POLL_SECONDS (for a service). Several may run at once on PostgreSQL: each
    message is sent by one of them. Failures are retried with exponential backoff, then
    marked failed (supervisors see them at /notifications/failed).
    """
    import signal
    import threading

    from flask import current_app

    from tracker.notifications import delivery

    stop = threading.Event()
    # systemd stops a service with SIGTERM: finish the message in hand, then exit.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    mailer = delivery.SmtpMailer(current_app.config)
    try:
        while not stop.is_set():
            outcomes = deliver_due(mailer, limit=limit, stop=stop)
            if any(outcomes.values()) or not loop:
                click.echo(", ".join(f"{count} {outcome}" for outcome, count in outcomes.items()))
            if not loop:
                break
            if not any(outcomes.values()):
                mailer.close()  # an idle connection would be dropped by the server anyway
                stop.wait(current_app.config["NOTIFICATION_POLL_SECONDS"])
    except KeyboardInterrupt:
        pass
    finally:
        mailer.close()


@click.command("reminders")
@click.option(
    "--within-days",
    type=click.IntRange(0, 365),
    default=None,
    help="Remind of items due within this many days (default REMINDER_DAYS_AHEAD).",
)
def reminders_command(within_days):
    """Record today's reminders: referrals and information requests due soon or overdue,
    and cases pending longer than REMINDER_PENDING_DAYS. Run daily (cron, systemd timer);
    idempotent: one reminder per item, person and day, however often it runs."""
    from tracker.deadlines import services as deadlines

    created = deadlines.record_reminders(within_days=within_days)
    db.session.commit()
    click.echo(
        ngettext("Recorded %(num)d new reminder.", "Recorded %(num)d new reminders.", created)
    )


def register(app: Flask) -> None:
    for command in (
        reminders_command,
        create_user_command,
        create_organization_command,
        seed_demo_command,
        create_token_command,
        import_petitions_command,
    ):
        app.cli.add_command(command)
    from tracker.statistics.cli import statistics_command

    app.cli.add_command(statistics_command)
    app.cli.add_command(dashboards_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(readlog_group)
    app.cli.add_command(notifications_group)
