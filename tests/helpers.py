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


def column_values(instance, but=()) -> dict | None:
    """Every column attribute of a model instance as it holds it now (None for None), ``but``
    those named."""
    if instance is None:
        return None
    columns = type(instance).__table__.columns
    return {c.key: getattr(instance, c.key) for c in columns if c.key not in but}


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
        select(
            User.id,
            User.email,
            User.role,
            User.organization_id,
            User.active,
            User.password_hash,
            User.must_change_password,
        ).order_by(User.id)
    ).all()
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
    """The response body with HTML entities decoded (&#39; → '); a binary body (a PDF) with
    what is not UTF-8 replaced."""
    return html.unescape(response.get_data().decode("utf-8", "replace"))


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
    #: What a browser would submit: a name sent several times has the list of its values.
    fields: dict[str, str | list[str]] = field(default_factory=dict)
    id: str | None = None

    def add(self, name: str, value: str) -> None:
        if name not in self.fields:
            self.fields[name] = value
        elif isinstance(self.fields[name], list):
            self.fields[name].append(value)
        else:
            self.fields[name] = [self.fields[name], value]


class _FormParser(HTMLParser):
    """Collects each <form>'s action and the values a browser would submit (fields outside
    a form join the one their ``form`` attribute names)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        #: (form id, name, value) of fields that name their form, settled at the end.
        self.owned: list[tuple[str, str, str]] = []
        self._select: tuple[str, bool, str | None] | None = None
        self._textarea: tuple[str, Form] | None = None
        self._chosen: list[str] = []
        self._first: str | None = None

    def _add(self, attrs: dict, name: str, value: str) -> Form | None:
        if attrs.get("form"):
            self.owned.append((attrs["form"], name, value))
            return None
        if self.forms:
            self.forms[-1].add(name, value)
            return self.forms[-1]
        return None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self.forms.append(Form(attrs.get("action") or "", method, id=attrs.get("id")))
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind not in ("radio", "checkbox", "submit") or "checked" in attrs:
                self._add(attrs, name, attrs.get("value") or "")
        elif tag == "select" and name:
            self._select = (name, "multiple" in attrs, attrs.get("form"))
            self._chosen, self._first = [], None
        elif tag == "option" and self._select:
            value = attrs.get("value") or ""
            self._first = value if self._first is None else self._first
            if "selected" in attrs:
                self._chosen.append(value)
        elif tag == "textarea" and name:
            form = self._add(attrs, name, "")
            self._textarea = (name, form) if form else None

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            name, multiple, owner = self._select
            # A browser sends the selected options; a single select, else its first one.
            chosen = self._chosen or ([] if multiple or self._first is None else [self._first])
            for value in chosen:
                self._add({"form": owner}, name, value)
            self._select = None
        elif tag == "textarea" and self._textarea:
            name, form = self._textarea
            # Browsers drop the newline that follows <textarea>.
            form.fields[name] = form.fields[name].removeprefix("\r\n").removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            name, form = self._textarea
            form.fields[name] += data


def page_forms(response) -> list[Form]:
    parser = _FormParser()
    parser.feed(response.get_data(as_text=True))
    forms_by_id = {form.id: form for form in parser.forms if form.id}
    for form_id, name, value in parser.owned:
        if form_id in forms_by_id:
            forms_by_id[form_id].add(name, value)
    return parser.forms


def form_with(response, field_name: str) -> Form:
    """The (only) form of the page that has a field with this name."""
    forms = [f for f in page_forms(response) if field_name in f.fields]
    assert len(forms) == 1, f"{len(forms)} forms with a field {field_name!r}"
    return forms[0]


#: What a transition needs beyond action and reason, per action, as API members (the
#: default test petition is a commutation; a close needs its disposition).
API_OUTCOME_MEMBERS = {
    "grant": {"relief": "commutation_time_served"},
    "close": {"disposition": "moot"},
}


def web_outcome_fields(action: str, prefix: str = "transition-") -> dict:
    """The same as the web's form fields (``prefix=""`` for the queue's bulk form)."""
    return {prefix + name: value for name, value in API_OUTCOME_MEMBERS.get(action, {}).items()}
