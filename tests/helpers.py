"""Helpers for the web tests: reading rows back after a request, posting the petition form,
and reading the forms and field messages of a rendered page.

Each client request runs in its own app context and database session, so these helpers
expire the test's session before reading rows again.
"""

import html
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser

from sqlalchemy import func, select

from tests.conftest import petition_values
from tracker.audit.models import AuditEntry
from tracker.auth.models import Organization, User
from tracker.extensions import db
from tracker.petitions.models import EDITABLE_FIELDS, Note, Petition

# --- rows as they are now ---------------------------------------------------------------------


def petition_row(petition_id: int) -> dict:
    """Every column of the petition as stored now."""
    db.session.expire_all()
    petition = db.session.get(Petition, petition_id)
    return {c.key: getattr(petition, c.key) for c in Petition.__table__.columns}


def audit_entries(**criteria) -> list[AuditEntry]:
    """Audit entries matching ``criteria`` (column=value), oldest first."""
    db.session.expire_all()
    statement = select(AuditEntry).filter_by(**criteria).order_by(AuditEntry.id)
    return list(db.session.scalars(statement))


def count(model, *conditions) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def petition_by_case_number(case_number: str) -> Petition | None:
    db.session.expire_all()
    return db.session.scalar(select(Petition).where(Petition.case_number == case_number))


def notes_of(petition_id: int) -> list[tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Note.visibility, Note.body).where(Note.petition_id == petition_id).order_by(Note.id)
    )
    return [tuple(row) for row in rows]


def accounts_snapshot() -> dict:
    """Users and organizations as stored now, for 'nothing changed' checks."""
    db.session.expire_all()
    users = db.session.execute(
        select(User.id, User.email, User.role, User.organization_id, User.active,
               User.password_hash, User.must_change_password)
        .order_by(User.id)
    ).all()  # fmt: skip
    organizations = db.session.execute(
        select(Organization.id, Organization.name, Organization.active).order_by(Organization.id)
    ).all()
    return {"users": users, "organizations": organizations}


# --- posting the petition form ----------------------------------------------------------------


def as_form_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def petition_form(**overrides) -> dict[str, str]:
    """The petition form as a browser posts it: conftest's petition_values, as text."""
    return {name: as_form_value(value) for name, value in petition_values(**overrides).items()}


def edit_form(petition: Petition, **overrides) -> dict[str, str]:
    """The edit form filled in with the petition's current values, then ``overrides``."""
    values = {name: getattr(petition, name) for name in EDITABLE_FIELDS} | overrides
    return {name: as_form_value(value) for name, value in values.items()}


# --- reading pages ----------------------------------------------------------------------------


def page_text(response) -> str:
    """The response body with HTML entities decoded (&#39; → ')."""
    return html.unescape(response.get_data(as_text=True))


def field_html(body: str, name: str) -> str:
    """The markup of one field rendered by the ``field`` macro: label, input, help, errors."""
    for block in body.split('<div class="mb-3'):
        if f'id="{name}"' in block:
            return block
    raise AssertionError(f"no field {name!r} on the page")


def section(body: str, heading_id: str, next_heading_id: str | None = None) -> str:
    """The page from the heading with this id up to the next named heading (or the end)."""
    _, found, rest = body.partition(f'id="{heading_id}"')
    assert found, f"no heading {heading_id!r} on the page"
    return rest.partition(f'id="{next_heading_id}"')[0] if next_heading_id else rest


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Collects each <form>'s action and the values a browser would submit."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self.forms.append(Form(attrs.get("action") or "", method))
            return
        if not self.forms:
            return
        fields = self.forms[-1].fields
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind not in ("radio", "checkbox", "submit") or "checked" in attrs:
                fields[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            # A browser sends the selected option, else the first one.
            if "selected" in attrs or self._select not in fields:
                fields[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            fields = self.forms[-1].fields
            # Browsers drop the newline that follows <textarea>.
            fields[self._textarea] = fields[self._textarea].removeprefix("\r\n").removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.forms[-1].fields[self._textarea] += data


def page_forms(response) -> list[Form]:
    parser = _FormParser()
    parser.feed(response.get_data(as_text=True))
    return parser.forms


def form_with(response, field_name: str) -> Form:
    """The (only) form of the page that has a field with this name."""
    forms = [f for f in page_forms(response) if field_name in f.fields]
    assert len(forms) == 1, f"{len(forms)} forms with a field {field_name!r}"
    return forms[0]
