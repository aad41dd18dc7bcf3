"""Operators' commands: ``flask --app tracker <command>``.

Each command commits once at the end, or exits non-zero with nothing changed.
"""

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from tracker.auth import services as auth_services
from tracker.errors import DomainError, ValidationFailed
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
            _fail(f"Unknown organization '{organization_name}'. "
                  "Create it with: flask --app tracker create-organization NAME")  # fmt: skip
    if role == Role.ADVOCATE and organization is None:
        _fail("An advocate needs --organization NAME.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth_services.create_user(
            None, email=email, name=name or email.split("@")[0], role=role,
            password=password, organization=organization,
        )  # fmt: skip
    except DomainError as error:
        _fail(_describe(error))
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@click.command("create-organization")
@click.argument("name")
def create_organization_command(name):
    """Create an advocacy group."""
    try:
        organization = auth_services.create_organization(None, name)
    except DomainError as error:
        _fail(_describe(error))
    db.session.commit()
    click.echo(f"Created organization {organization.name} (id {organization.id}).")


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
        click.echo("Demo data is already there; nothing added.")
        return
    db.session.commit()
    click.echo("Demo users (e-mail / password):")
    for role, email, password in credentials:
        click.echo(f"  {role:<10} {email:<32} {password}")


audit_group = AppGroup("audit", help="Audit log commands.")


@audit_group.command("verify")
@click.option("--recent", type=int, help="Check only the newest N entries.")
def audit_verify_command(recent):
    """Walk the hash chain; exit 0 when intact, 1 naming the first bad entry."""
    from tracker.audit import services as audit_services

    result = audit_services.verify_chain(recent=recent)
    audit_services.save_verification(result, scope="recent" if recent else "full")
    db.session.commit()
    click.echo(result.message)
    if not result.intact:
        sys.exit(1)


def register(app: Flask) -> None:
    for command in (create_user_command, create_organization_command, seed_demo_command):
        app.cli.add_command(command)
    app.cli.add_command(audit_group)
