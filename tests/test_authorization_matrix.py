"""The authorization matrix: every rule of the URL map × every method it accepts × five
personas, each cell an expected outcome written out in ``MATRIX`` below.

A route (or a method on a route) added to the app without a row here fails the suite,
naming it; so does a row left behind for a route that is gone. Each cell sends a request
that would succeed if the persona were allowed (a valid CSRF token on web POSTs, a bearer
token of the persona's own on the API), against fresh fixture data (a new petition of
organization A, a new user or organization to act on), so no cell depends on another.

Outcomes:

- ``ok``: the view ran and did what was asked (2xx, or a redirect other than to the login
  page or the second-factor pages that flashes no error);
- ``invalid``: the view ran and refused the input (400, 409, 412, 422, or a redirect that
  flashes an error);
- ``login``: sent to the login page (Flask-Login's redirect, carrying ``next``);
- ``second_factor``: sent to the second-factor pages (no persona here should ever be);
- ``401``: the API without a bearer token;
- ``403``, ``404``: refused; every 403, and the 404 for another organization's case, also
  writes an ``access_refused`` security entry (checked in every cell).
"""

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count as numbers
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from tests.api_helpers import petition_csv, petition_json
from tests.conftest import PASSWORD, SECRET_PATTERN, AuthActions, csrf_token
from tests.document_helpers import PDF, make_document, upload_fields
from tests.helpers import (
    accounts_snapshot,
    audit_entries,
    count,
    edit_form,
    page_text,
    petition_form,
    petition_row,
)
from tracker import create_app
from tracker.acts import services as act_services
from tracker.acts.models import Act
from tracker.audit.models import AuditEntry
from tracker.auth import services as auth_services
from tracker.auth import tokens
from tracker.deadlines import services as deadline_services
from tracker.extensions import db
from tracker.notifications.models import Notification
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]

#: The URL map of an app built like the suite's (creating an app touches no database).
URL_MAP = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://").url_map
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})

PERSONAS = ("anonymous", "advocate_a", "advocate_b", "reviewer", "supervisor")
OUTCOMES = frozenset({"ok", "invalid", "login", "second_factor", "401", "403", "404"})

# A table read by people (one row a route, one aligned column a persona), so left unformatted:
# fmt: off
#: (endpoint, method): outcome for each persona, in the order of PERSONAS.
#: The petitions acted on belong to organization A.
MATRIX: dict[tuple[str, str], tuple[str, str, str, str, str]] = {
    #                                           anonymous  advocate_a advocate_b reviewer supervisor
    # --- log in, second factor, account -----------------------------------------------------------
    ("auth.login", "GET"):                      ("ok",    "ok",      "ok",      "ok",    "ok"),
    ("auth.login", "POST"):                     ("ok",    "ok",      "ok",      "ok",    "ok"),
    ("auth.two_factor", "GET"):                 ("login", "ok",      "ok",      "ok",    "ok"),
    ("auth.two_factor", "POST"):                ("login", "ok",      "ok",      "ok",    "ok"),
    ("auth.two_factor_setup", "GET"):           ("login", "ok",      "ok",      "ok",    "ok"),
    ("auth.two_factor_setup", "POST"):          ("login", "ok",      "ok",      "ok",    "ok"),
    ("auth.logout", "POST"):                    ("login", "ok",      "ok",      "ok",    "ok"),
    ("auth.account", "GET"):                    ("login", "ok",      "ok",      "ok",    "ok"),
    ("auth.change_password", "GET"):            ("login", "ok",      "ok",      "ok",    "ok"),
    ("auth.change_password", "POST"):           ("login", "ok",      "ok",      "ok",    "ok"),
    ("account.language", "POST"):               ("login", "ok",      "ok",      "ok",    "ok"),
    ("tokens.index", "GET"):                    ("login", "ok",      "ok",      "ok",    "ok"),
    ("tokens.create", "POST"):                  ("login", "ok",      "ok",      "ok",    "ok"),
    # advocate A's own token: nobody else's to revoke, not even a supervisor's (on this page)
    ("tokens.revoke", "POST"):                  ("login", "ok",      "404",     "404",   "404"),
    # --- lists, submitting, importing -------------------------------------------------------------
    ("petitions.home", "GET"):                  ("login", "ok",      "ok",      "ok",    "ok"),
    ("petitions.queue", "GET"):                 ("login", "ok",      "ok",      "ok",    "ok"),
    ("petitions.new", "GET"):                   ("login", "ok",      "ok",      "403",   "403"),
    ("petitions.new", "POST"):                  ("login", "ok",      "ok",      "403",   "403"),
    ("bulk.import_petitions", "GET"):           ("login", "ok",      "ok",      "403",   "403"),
    ("bulk.import_petitions", "POST"):          ("login", "ok",      "ok",      "403",   "403"),
    ("bulk.import_template", "GET"):            ("login", "ok",      "ok",      "403",   "403"),
    # --- one case of organization A (received for show and edit, under review for the rest) --
    ("petitions.show", "GET"):                  ("login", "ok",      "404",     "ok",    "ok"),
    ("petitions.edit", "GET"):                  ("login", "ok",      "404",     "ok",    "ok"),
    ("petitions.edit", "POST"):                 ("login", "ok",      "404",     "ok",    "ok"),
    ("petitions.transition", "POST"):           ("login", "403",     "404",     "ok",    "ok"),
    ("petitions.take", "POST"):                 ("login", "403",     "404",     "ok",    "ok"),
    # to another reviewer: a supervisor's job
    ("petitions.assign", "POST"):               ("login", "403",     "404",     "403",   "ok"),
    ("petitions.add_note", "POST"):             ("login", "403",     "404",     "ok",    "ok"),
    # a shared document of a received case of organization A
    ("documents.upload", "POST"):               ("login", "ok",      "404",     "ok",    "ok"),
    ("documents.content", "GET"):               ("login", "ok",      "404",     "ok",    "ok"),
    # recommendations are internal: staff's
    ("petitions.recommend", "POST"):            ("login", "403",     "404",     "ok",    "ok"),
    # --- bulk decisions (grant one case of organization A) ----------------------------------------
    ("bulk.confirm", "POST"):                   ("login", "403",     "403",     "ok",    "ok"),
    ("bulk.apply", "POST"):                     ("login", "403",     "403",     "ok",    "ok"),
    # --- supervisors: users, organizations, the audit log -----------------------------------------
    ("admin.users", "GET"):                     ("login", "403",     "403",     "403",   "ok"),
    ("admin.users", "POST"):                    ("login", "403",     "403",     "403",   "ok"),
    ("admin.user", "GET"):                      ("login", "403",     "403",     "403",   "ok"),
    ("admin.change_role", "POST"):              ("login", "403",     "403",     "403",   "ok"),
    ("admin.set_password", "POST"):             ("login", "403",     "403",     "403",   "ok"),
    # the confirmation page (the user's open cases, to whom they go), then the deactivation
    ("admin.deactivate", "GET"):                ("login", "403",     "403",     "403",   "ok"),
    ("admin.deactivate", "POST"):               ("login", "403",     "403",     "403",   "ok"),
    ("admin.reactivate", "POST"):               ("login", "403",     "403",     "403",   "ok"),
    ("admin.reset_two_factor", "POST"):         ("login", "403",     "403",     "403",   "ok"),
    ("admin.organizations", "GET"):             ("login", "403",     "403",     "403",   "ok"),
    ("admin.organizations", "POST"):            ("login", "403",     "403",     "403",   "ok"),
    ("admin.set_organization_active", "POST"):  ("login", "403",     "403",     "403",   "ok"),
    ("audit.log", "GET"):                       ("login", "403",     "403",     "403",   "ok"),
    ("audit.verify", "POST"):                   ("login", "403",     "403",     "403",   "ok"),
    ("audit.export_log", "POST"):               ("login", "403",     "403",     "403",   "ok"),
    ("readlog.access_log", "GET"):              ("login", "403",     "403",     "403",   "ok"),
    ("readlog.export_access_log", "POST"):      ("login", "403",     "403",     "403",   "ok"),
    ("readlog.unusual_access", "GET"):          ("login", "403",     "403",     "403",   "ok"),
    # --- notifications: one's own list and preferences; advocate A's own notification -------------
    ("notifications.index", "GET"):             ("login", "ok",      "ok",      "ok",    "ok"),
    ("notifications.mark_all_read", "POST"):    ("login", "ok",      "ok",      "ok",    "ok"),
    ("notifications.mark_read", "POST"):        ("login", "ok",      "404",     "404",   "404"),
    ("notifications.preferences", "GET"):       ("login", "ok",      "ok",      "ok",    "ok"),
    ("notifications.preferences", "POST"):      ("login", "ok",      "ok",      "ok",    "ok"),
    ("notifications.failed", "GET"):            ("login", "403",     "403",     "403",   "ok"),
    ("notifications.retry", "POST"):            ("login", "403",     "403",     "403",   "ok"),
    # --- clemency acts (issue 14): staff read them, a supervisor drafts and records -------------
    ("acts.index", "GET"):                      ("login", "403",     "403",     "ok",    "ok"),
    ("acts.new", "GET"):                        ("login", "403",     "403",     "403",   "ok"),
    ("acts.new", "POST"):                       ("login", "403",     "403",     "403",   "ok"),
    ("acts.show", "GET"):                       ("login", "403",     "403",     "ok",    "ok"),
    ("acts.add_by_filter", "POST"):             ("login", "403",     "403",     "403",   "ok"),
    ("acts.add_by_register_numbers", "POST"):   ("login", "403",     "403",     "403",   "ok"),
    ("acts.preview", "GET"):                    ("login", "403",     "403",     "ok",    "ok"),
    ("acts.record", "POST"):                    ("login", "403",     "403",     "403",   "ok"),
    ("acts.export", "GET"):                     ("login", "403",     "403",     "ok",    "ok"),
    # --- static files -----------------------------------------------------------------------------
    ("static", "GET"):                          ("ok",    "ok",      "ok",      "ok",    "ok"),
    ("bootstrap.static", "GET"):                ("ok",    "ok",      "ok",      "ok",    "ok"),
    # --- the JSON API (bearer tokens; the description is public) ----------------------------------
    ("api.openapi_document", "GET"):            ("ok",    "ok",      "ok",      "ok",    "ok"),
    ("api.docs", "GET"):                        ("ok",    "ok",      "ok",      "ok",    "ok"),
    ("api.list_petitions", "GET"):              ("401",   "ok",      "ok",      "ok",    "ok"),
    ("api.create_petition", "POST"):            ("401",   "ok",      "ok",      "403",   "403"),
    ("api.import_petitions", "POST"):           ("401",   "ok",      "ok",      "403",   "403"),
    ("api.get_petition", "GET"):                ("401",   "ok",      "404",     "ok",    "ok"),
    ("api.update_petition", "PATCH"):           ("401",   "ok",      "404",     "ok",    "ok"),
    ("api.petition_history", "GET"):            ("401",   "ok",      "404",     "ok",    "ok"),
    ("api.related_petitions", "GET"):           ("401",   "ok",      "404",     "ok",    "ok"),
    ("api.transition_petition", "POST"):        ("401",   "403",     "404",     "ok",    "ok"),
    ("api.list_recommendations", "GET"):        ("401",   "403",     "404",     "ok",    "ok"),
    ("api.add_recommendation", "POST"):         ("401",   "403",     "404",     "ok",    "ok"),
    ("api.decide_petitions", "POST"):           ("401",   "403",     "403",     "ok",    "ok"),
    ("api.upload_document", "POST"):            ("401",   "ok",      "404",     "ok",    "ok"),
    ("api.list_documents", "GET"):              ("401",   "ok",      "404",     "ok",    "ok"),
    ("api.document_content", "GET"):            ("401",   "ok",      "404",     "ok",    "ok"),
    ("api.list_notifications", "GET"):          ("401",   "ok",      "ok",      "ok",    "ok"),
    # referrals are staff-only (issue 12)
    ("api.list_referrals", "GET"):              ("401",   "403",     "404",     "ok",    "ok"),
    ("api.create_referral", "POST"):            ("401",   "403",     "404",     "ok",    "ok"),
    ("api.update_referral", "PATCH"):           ("401",   "403",     "403",     "ok",    "ok"),
    # --- time on a case (issue 12): referrals, information requests, due and overdue --------------
    # clemency acts are staff's, as referrals are (issue 14)
    ("api.list_acts", "GET"):                   ("401",   "403",     "403",     "ok",    "ok"),
    ("api.create_act", "POST"):                 ("401",   "403",     "403",     "403",   "ok"),
    ("api.get_act", "GET"):                     ("401",   "403",     "403",     "ok",    "ok"),
    ("api.add_act_cases", "POST"):              ("401",   "403",     "403",     "403",   "ok"),
    ("api.preview_act", "GET"):                 ("401",   "403",     "403",     "ok",    "ok"),
    ("api.record_act", "POST"):                 ("401",   "403",     "403",     "403",   "ok"),
    ("deadlines.open_referral", "POST"):        ("login", "403",     "404",     "ok",    "ok"),
    ("deadlines.change_referral", "POST"):      ("login", "403",     "403",     "ok",    "ok"),
    ("deadlines.change_information_due", "POST"): ("login", "403",   "404",     "ok",    "ok"),
    ("deadlines.provide_information", "GET"):   ("login", "ok",      "404",     "403",   "403"),
    ("deadlines.provide_information", "POST"):  ("login", "ok",      "404",     "403",   "403"),
    ("deadlines.due", "GET"):                   ("login", "ok",      "ok",      "ok",    "ok"),
    # --- statistics and dashboards (issue 14); the case summary PDF is a read of the case -------
    ("petitions.summary_pdf", "GET"):           ("login", "ok",      "404",     "ok",    "ok"),
    ("statistics.staff", "GET"):                ("login", "403",     "403",     "ok",    "ok"),
    ("statistics.staff_csv", "GET"):            ("login", "403",     "403",     "ok",    "ok"),
    # the public page and its CSV: anyone, signed in or not (counts only)
    ("statistics.public", "GET"):               ("ok",    "ok",      "ok",      "ok",    "ok"),
    ("statistics.public_csv", "GET"):           ("ok",    "ok",      "ok",      "ok",    "ok"),
    # one's own dashboard: the office's for staff, the organization's for advocates
    ("dashboards.dashboard", "GET"):            ("login", "ok",      "ok",      "ok",    "ok"),
    ("dashboards.download", "GET"):             ("login", "ok",      "ok",      "ok",    "ok"),
    ("api.statistics", "GET"):                  ("401",   "403",     "403",     "ok",    "ok"),
    ("api.public_statistics", "GET"):           ("ok",    "ok",      "ok",      "ok",    "ok"),
}
# fmt: on


def url_map_routes(url_map) -> set[tuple[str, str]]:
    """(endpoint, method) for every rule of the map and every method it accepts."""
    return {
        (rule.endpoint, method)
        for rule in url_map.iter_rules()
        for method in rule.methods - IGNORED_METHODS
    }


ROUTES = sorted(url_map_routes(URL_MAP))
CASE_ROUTES = sorted(
    {
        (rule.endpoint, method)
        for rule in URL_MAP.iter_rules()
        if "case_number" in rule.arguments
        for method in rule.methods - IGNORED_METHODS
    }
)
WEB_POST_ROUTES = sorted(
    (rule.endpoint, "POST")
    for rule in URL_MAP.iter_rules()
    if "POST" in rule.methods and not rule.rule.startswith("/api/")
)


def route_params(routes) -> list:
    return [
        pytest.param(endpoint, method, id=f"{method} {endpoint}") for endpoint, method in routes
    ]


# --- the world: two organizations, five personas, fresh things to act on ----------------------

unique = numbers(1)


@dataclass
class Call:
    """One request: the path and body, and the petition it acts on (if any)."""

    path: str
    data: dict | None = None
    json: dict | None = None
    headers: dict | None = None
    petition: Petition | None = None


@dataclass
class World:
    app: object
    make_user: Callable
    make_organization: Callable
    make_petition: Callable
    issue_token: Callable
    organization_a: object
    users: dict
    #: The route being called, for recipes shared by two routes.
    current_route: tuple[str, str] = ("", "")
    _clients: dict = field(default_factory=dict)
    _tokens: dict = field(default_factory=dict)

    def client(self, persona: str):
        """The persona's browser: logged in (staff past the second factor), or anonymous."""
        if persona not in self._clients:
            client = self.app.test_client()
            if persona != "anonymous":
                sign_in = AuthActions(client).login(self.users[persona])
                assert sign_in.destination == "/", sign_in.response.get_data(as_text=True)
            self._clients[persona] = client
        return self._clients[persona]

    def token(self, persona: str) -> str:
        if persona not in self._tokens:
            self._tokens[persona] = self.issue_token(self.users[persona], "matrix")
        return self._tokens[persona]

    def petition(self, stage: Stage) -> Petition:
        """A new petition of organization A in this stage."""
        return self.make_petition(stage, advocate=self.users["advocate_a"])

    def staff_target(self):
        """A new reviewer for the supervisor pages to act on."""
        return self.make_user("reviewer", name=f"Target Reviewer {next(unique)}")


@pytest.fixture
def world(app, client, make_user, make_organization, make_petition, issue_token):
    # ``client`` makes app.test_client() build FreshContextClients (see conftest).
    organization_a = make_organization(f"Organization A {next(unique)}")
    organization_b = make_organization(f"Organization B {next(unique)}")
    users = {
        "advocate_a": make_user("advocate", organization=organization_a, name="Advocate A"),
        "advocate_b": make_user("advocate", organization=organization_b, name="Advocate B"),
        "reviewer": make_user("reviewer", name="Reviewer"),
        "supervisor": make_user("supervisor", name="Supervisor"),
    }
    return World(
        app, make_user, make_organization, make_petition, issue_token, organization_a, users
    )


# --- how to call each route: a request that succeeds for a persona who may -------------------

RECIPES: dict[tuple[str, str], Callable[[World, str], Call]] = {}


def recipe(*routes: tuple[str, str]):
    def register(build):
        for route in routes:
            assert route not in RECIPES, f"two recipes for {route}"
            RECIPES[route] = build
        return build

    return register


def path(rule: str) -> Callable[[World, str], Call]:
    return lambda w, persona: Call(rule)


for _route, _path in {
    ("auth.login", "GET"): "/login",
    ("auth.two_factor", "GET"): "/login/two-factor",
    ("auth.two_factor_setup", "GET"): "/account/two-factor/setup",
    ("auth.logout", "POST"): "/logout",
    ("auth.account", "GET"): "/account",
    ("auth.change_password", "GET"): "/account/password",
    ("tokens.index", "GET"): "/account/tokens",
    ("petitions.home", "GET"): "/",
    ("petitions.queue", "GET"): "/petitions",
    ("petitions.new", "GET"): "/petitions/new",
    ("bulk.import_petitions", "GET"): "/petitions/import",
    ("bulk.import_template", "GET"): "/petitions/import/template.csv",
    ("admin.users", "GET"): "/admin/users",
    ("admin.organizations", "GET"): "/admin/organizations",
    ("audit.log", "GET"): "/audit/",
    ("audit.verify", "POST"): "/audit/verify",
    ("audit.export_log", "POST"): "/audit/export.csv",
    ("readlog.access_log", "GET"): "/access-log/",
    ("readlog.export_access_log", "POST"): "/access-log/export.csv",
    ("readlog.unusual_access", "GET"): "/access-log/unusual",
    ("static", "GET"): "/static/tracker.css",
    ("bootstrap.static", "GET"): "/bootstrap/static/css/bootstrap.min.css",
    ("api.openapi_document", "GET"): "/api/v1/openapi.json",
    ("api.docs", "GET"): "/api/v1/docs",
    ("api.list_petitions", "GET"): "/api/v1/petitions",
    ("api.list_notifications", "GET"): "/api/v1/notifications",
    ("notifications.index", "GET"): "/notifications",
    ("notifications.mark_all_read", "POST"): "/notifications/read",
    ("notifications.preferences", "GET"): "/account/notifications",
    ("notifications.failed", "GET"): "/notifications/failed",
    ("deadlines.due", "GET"): "/due",
    ("statistics.staff", "GET"): "/statistics?fiscal_year=2025",
    ("statistics.staff_csv", "GET"): "/statistics/fiscal-year.csv?fiscal_year=2025",
    ("statistics.public", "GET"): "/public/statistics?fiscal_year=2025",
    ("statistics.public_csv", "GET"): "/public/statistics.csv?fiscal_year=2025",
    ("dashboards.dashboard", "GET"): "/dashboard",
    ("api.statistics", "GET"): "/api/v1/statistics?fiscal_year=2025",
    ("api.public_statistics", "GET"): "/api/v1/public/statistics?fiscal_year=2025",
}.items():
    recipe(_route)(path(_path))


@recipe(("auth.login", "POST"))
def _login(w, persona):
    # Logged-in personas are sent home; anonymous logs in as a new advocate.
    user = w.users.get(persona) or w.make_user("advocate", organization=w.organization_a)
    return Call("/login", data={"email": user.email, "password": PASSWORD})


@recipe(("auth.two_factor", "POST"))
def _two_factor(w, persona):
    return Call("/login/two-factor", data={"code": "000000"})


@recipe(("auth.two_factor_setup", "POST"))
def _two_factor_setup(w, persona):
    """Enrol with a correct code for the secret the setup page shows (staff enrolled when
    they logged in, so the page tells them it is already on)."""
    client = w.client(persona)
    page = client.get("/account/two-factor/setup").get_data(as_text=True)
    shown = SECRET_PATTERN.search(page)
    code = pyotp.TOTP(shown.group(1)).now() if shown else "000000"
    return Call("/account/two-factor/setup", data={"code": code})


@recipe(("auth.change_password", "POST"))
def _change_password(w, persona):
    new = f"a fresh passphrase number {next(unique)}"
    return Call(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": new,
            "confirm_password": new,
        },
    )


@recipe(("account.language", "POST"))
def _choose_language(w, persona):
    return Call("/account/language", data={"language": "es"})


@recipe(("tokens.create", "POST"))
def _create_token(w, persona):
    return Call("/account/tokens", data={"name": "matrix script"})


@recipe(("tokens.revoke", "POST"))
def _revoke_token(w, persona):
    token, _ = tokens.create_token(w.users["advocate_a"], f"advocate A's script {next(unique)}")
    db.session.commit()
    return Call(f"/account/tokens/{token.id}/revoke")


def _register_number() -> str:
    n = next(unique)
    return f"{60000 + n % 40000:05d}-{n % 1000:03d}"


@recipe(("petitions.new", "POST"))
def _submit(w, persona):
    return Call(
        "/petitions/new", data=petition_form(register_number=_register_number()) | {"version": "0"}
    )


def _csv_file() -> bytes:
    return petition_csv(petition_json(register_number=_register_number())).encode()


@recipe(("bulk.import_petitions", "POST"))
def _import(w, persona):
    return Call("/petitions/import", data={"file": (io.BytesIO(_csv_file()), "petitions.csv")})


@recipe(("petitions.show", "GET"), ("petitions.edit", "GET"))
def _case_page(w, persona):
    petition = w.petition(Stage.RECEIVED)
    suffix = "/edit" if w.current_route == ("petitions.edit", "GET") else ""
    return Call(f"/petitions/{petition.case_number}{suffix}", petition=petition)


@recipe(("petitions.edit", "POST"))
def _edit(w, persona):
    petition = w.petition(Stage.RECEIVED)
    data = edit_form(petition, sentence="120 months' imprisonment") | {
        "version": str(petition.version)
    }
    return Call(f"/petitions/{petition.case_number}/edit", data=data, petition=petition)


@recipe(("petitions.transition", "POST"))
def _transition(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/petitions/{petition.case_number}/transition",
        data={
            "transition-action": "grant",
            "transition-reason": "Rehabilitated.",
            "transition-version": str(petition.version),
            "transition-relief": "commutation_time_served",
        },
        petition=petition,
    )


@recipe(("petitions.take", "POST"))
def _take(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/petitions/{petition.case_number}/take",
        data={"take-version": str(petition.version)},
        petition=petition,
    )


@recipe(("petitions.assign", "POST"))
def _assign(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/petitions/{petition.case_number}/assign",
        data={
            "assign-assignee": str(w.staff_target().id),
            "assign-version": str(petition.version),
        },
        petition=petition,
    )


@recipe(("petitions.add_note", "POST"))
def _note(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/petitions/{petition.case_number}/notes",
        data={
            "note-body": "Letters of support received.",
            "note-visibility": "shared",
        },
        petition=petition,
    )


@recipe(("documents.upload", "POST"), ("api.upload_document", "POST"))
def _upload_document(w, persona):
    petition = w.petition(Stage.RECEIVED)
    if w.current_route[0] == "api.upload_document":
        path = f"/api/v1/petitions/{petition.case_number}/documents"
        return Call(path, data=upload_fields(), petition=petition)
    form = {
        "document-file": (io.BytesIO(PDF), "judgment.pdf"),
        "document-document_type": "judgment",
        "document-visibility": "shared",
    }
    return Call(f"/petitions/{petition.case_number}/documents", data=form, petition=petition)


@recipe(
    ("documents.content", "GET"), ("api.document_content", "GET"), ("api.list_documents", "GET")
)
def _read_document(w, persona):
    petition = w.petition(Stage.RECEIVED)
    document = make_document(petition, w.users["advocate_a"])
    if w.current_route[0] == "api.list_documents":
        return Call(f"/api/v1/petitions/{petition.case_number}/documents", petition=petition)
    prefix = "/api/v1" if w.current_route[0].startswith("api.") else ""
    return Call(f"{prefix}/documents/{document.id}/content", petition=petition)


@recipe(("petitions.recommend", "POST"))
def _recommend(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/petitions/{petition.case_number}/recommendations",
        data={
            "recommendation-recommendation": "favorable",
            "recommendation-memo": "Merits relief.",
        },
        petition=petition,
    )


@recipe(("bulk.confirm", "POST"))
def _bulk_confirm(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        "/petitions/bulk",
        data={
            "case_numbers": [petition.case_number],
            "action": "grant",
            "reason": "Rehabilitated.",
            "relief": "commutation_time_served",
        },
        petition=petition,
    )


@recipe(("bulk.apply", "POST"))
def _bulk_apply(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        "/petitions/bulk/apply",
        data={
            "action": "grant",
            "reason": "Rehabilitated.",
            "selection": f"{petition.case_number}:{petition.version}",
        },
        petition=petition,
    )


ACT_FIELDS = {
    "title": "Commutations for people on home confinement",
    "signed_on": "2024-12-12",
    "authority": "President",
    "relief": "commutation_time_served",
}


def _draft_act(w: World) -> tuple[Act, Petition]:
    """A new draft act holding one case of organization A under review."""
    supervisor = w.users["supervisor"]
    act = act_services.draft_act(supervisor, ACT_FIELDS)
    petition = w.petition(Stage.UNDER_REVIEW)
    number = act_services.RegisterNumber(1, petition.register_number)
    act_services.add_cases_by_register_numbers(act, supervisor, [number])
    db.session.commit()
    return act, petition


@recipe(("acts.index", "GET"), ("api.list_acts", "GET"))
def _acts(w, persona):
    _draft_act(w)
    return Call("/api/v1/acts" if w.current_route[0].startswith("api.") else "/acts")


@recipe(("acts.new", "GET"), ("acts.new", "POST"), ("api.create_act", "POST"))
def _new_act(w, persona):
    if w.current_route[0] == "api.create_act":
        return Call("/api/v1/acts", json=ACT_FIELDS)
    return Call("/acts/new", data=ACT_FIELDS if w.current_route[1] == "POST" else None)


@recipe(
    ("acts.show", "GET"),
    ("acts.preview", "GET"),
    ("acts.export", "GET"),
    ("api.get_act", "GET"),
    ("api.preview_act", "GET"),
)
def _read_act(w, persona):
    act, _ = _draft_act(w)
    suffix = {
        "acts.preview": "/preview",
        "acts.export": "/cases.csv",
        "api.preview_act": "/preview",
    }.get(w.current_route[0], "")
    prefix = "/api/v1" if w.current_route[0].startswith("api.") else ""
    return Call(f"{prefix}/acts/{act.id}{suffix}")


@recipe(("acts.add_by_filter", "POST"), ("acts.add_by_register_numbers", "POST"))
def _add_act_cases(w, persona):
    act, _ = _draft_act(w)
    other = w.petition(Stage.UNDER_REVIEW)
    if w.current_route[0] == "acts.add_by_filter":
        return Call(f"/acts/{act.id}/cases", data={"q": other.case_number}, petition=other)
    return Call(
        f"/acts/{act.id}/register-numbers",
        data={"numbers": other.register_number},
        petition=other,
    )


@recipe(("api.add_act_cases", "POST"))
def _api_add_act_cases(w, persona):
    act, _ = _draft_act(w)
    other = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/api/v1/acts/{act.id}/cases",
        json={"register_numbers": [other.register_number]},
        petition=other,
    )


@recipe(("acts.record", "POST"), ("api.record_act", "POST"))
def _record_act(w, persona):
    act, petition = _draft_act(w)
    if w.current_route[0] == "api.record_act":
        return Call(
            f"/api/v1/acts/{act.id}/record", json={"expected_included": 1}, petition=petition
        )
    return Call(f"/acts/{act.id}/record", data={"expected_included": "1"}, petition=petition)


@recipe(("admin.users", "POST"))
def _create_user(w, persona):
    return Call(
        "/admin/users",
        data={
            "email": f"new-{next(unique)}@example.org",
            "name": "New Reviewer",
            "role": "reviewer",
            "organization": "",
            "password": "temporary passphrase 7731",
        },
    )


@recipe(("admin.user", "GET"))
def _user_page(w, persona):
    return Call(f"/admin/users/{w.staff_target().id}")


@recipe(("admin.change_role", "POST"))
def _change_role(w, persona):
    return Call(
        f"/admin/users/{w.staff_target().id}/role", data={"role": "supervisor", "organization": ""}
    )


@recipe(("admin.set_password", "POST"))
def _set_password(w, persona):
    return Call(
        f"/admin/users/{w.staff_target().id}/password",
        data={"password": "temporary passphrase 7731"},
    )


@recipe(("admin.deactivate", "GET"), ("admin.deactivate", "POST"))
def _deactivate(w, persona):
    return Call(f"/admin/users/{w.staff_target().id}/deactivate")


@recipe(("admin.reactivate", "POST"))
def _reactivate(w, persona):
    target = w.staff_target()
    auth_services.set_user_active(None, target, False)
    db.session.commit()
    return Call(f"/admin/users/{target.id}/reactivate")


@recipe(("admin.reset_two_factor", "POST"))
def _reset_two_factor(w, persona):
    return Call(f"/admin/users/{w.staff_target().id}/two-factor/reset")


@recipe(("admin.organizations", "POST"))
def _create_organization(w, persona):
    return Call("/admin/organizations", data={"name": f"New Organization {next(unique)}"})


@recipe(("admin.set_organization_active", "POST"))
def _deactivate_organization(w, persona):
    organization = w.make_organization(f"Organization C {next(unique)}")
    return Call(f"/admin/organizations/{organization.id}/deactivate")


@recipe(("api.create_petition", "POST"))
def _api_create(w, persona):
    return Call("/api/v1/petitions", json=petition_json(register_number=_register_number()))


@recipe(("api.import_petitions", "POST"))
def _api_import(w, persona):
    return Call("/api/v1/petitions/import", data=_csv_file(), headers={"Content-Type": "text/csv"})


@recipe(
    ("api.get_petition", "GET"), ("api.petition_history", "GET"), ("api.related_petitions", "GET")
)
def _api_read(w, persona):
    petition = w.petition(Stage.RECEIVED)
    suffix = {
        ("api.petition_history", "GET"): "/history",
        ("api.related_petitions", "GET"): "/related",
    }.get(w.current_route, "")
    return Call(f"/api/v1/petitions/{petition.case_number}{suffix}", petition=petition)


@recipe(("api.update_petition", "PATCH"))
def _api_update(w, persona):
    petition = w.petition(Stage.RECEIVED)
    return Call(
        f"/api/v1/petitions/{petition.case_number}",
        json={"sentence": "120 months' imprisonment"},
        headers={"If-Match": f'"{petition.version}"'},
        petition=petition,
    )


@recipe(("api.transition_petition", "POST"))
def _api_transition(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/api/v1/petitions/{petition.case_number}/transitions",
        json={"action": "grant", "reason": "Rehabilitated."},
        petition=petition,
    )


@recipe(("api.list_recommendations", "GET"), ("api.add_recommendation", "POST"))
def _api_recommendations(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    adding = w.current_route == ("api.add_recommendation", "POST")
    return Call(
        f"/api/v1/petitions/{petition.case_number}/recommendations",
        json={"recommendation": "unfavorable", "memo": "Too recent."} if adding else None,
        petition=petition,
    )


@recipe(("api.decide_petitions", "POST"))
def _api_decide(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        "/api/v1/decisions",
        json={
            "action": "grant",
            "reason": "Rehabilitated.",
            "case_numbers": [petition.case_number],
        },
        petition=petition,
    )


def _advocate_a_notification(w) -> Notification:
    """A new notification of advocate A's: a note shared on one of their cases."""
    petition = w.petition(Stage.UNDER_REVIEW)
    petition_services.add_note(petition, w.users["reviewer"], "Letters received.", "shared")
    db.session.commit()
    return db.session.scalars(
        select(Notification).where(Notification.petition_id == petition.id)
    ).one()


@recipe(("notifications.mark_read", "POST"))
def _mark_read(w, persona):
    return Call(f"/notifications/{_advocate_a_notification(w).id}/read")


@recipe(("notifications.retry", "POST"))
def _retry(w, persona):
    notification = _advocate_a_notification(w)
    notification.email_status = "failed"
    db.session.commit()
    return Call(f"/notifications/{notification.id}/retry")


@recipe(("notifications.preferences", "POST"))
def _preferences(w, persona):
    return Call("/account/notifications", data={"grant": "on", "assign": "on"})


def _referral(w):
    petition = w.petition(Stage.UNDER_REVIEW)
    referral = deadline_services.open_referral(petition, w.users["reviewer"], {"agency": "bop"})
    db.session.commit()
    return petition, referral


@recipe(("api.list_referrals", "GET"), ("api.create_referral", "POST"))
def _api_referrals(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    listing = w.current_route == ("api.list_referrals", "GET")
    return Call(
        f"/api/v1/petitions/{petition.case_number}/referrals",
        json=None if listing else {"agency": "fbi"},
        petition=petition,
    )


@recipe(("api.update_referral", "PATCH"))
def _api_update_referral(w, persona):
    petition, referral = _referral(w)
    return Call(f"/api/v1/referrals/{referral.id}", json={"answered": True}, petition=petition)


@recipe(("deadlines.open_referral", "POST"))
def _open_referral(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(
        f"/petitions/{petition.case_number}/referrals", data={"agency": "fbi"}, petition=petition
    )


@recipe(("deadlines.change_referral", "POST"))
def _change_referral(w, persona):
    petition, referral = _referral(w)
    return Call(f"/referrals/{referral.id}", data={"answered": "true"}, petition=petition)


@recipe(("deadlines.change_information_due", "POST"))
def _change_information_due(w, persona):
    petition = w.petition(Stage.INFORMATION_REQUESTED)
    return Call(
        f"/petitions/{petition.case_number}/information-due",
        data={"due_on": "2030-01-31"},
        petition=petition,
    )


@recipe(("deadlines.provide_information", "GET"), ("deadlines.provide_information", "POST"))
def _provide_information(w, persona):
    petition = w.petition(Stage.INFORMATION_REQUESTED)
    path = f"/petitions/{petition.case_number}/information"
    if w.current_route[1] == "GET":
        return Call(path, petition=petition)
    data = edit_form(petition) | {"version": str(petition.version), "response": "Attached."}
    return Call(path, data=data, petition=petition)


@recipe(("petitions.summary_pdf", "GET"))
def _summary_pdf(w, persona):
    petition = w.petition(Stage.UNDER_REVIEW)
    return Call(f"/petitions/{petition.case_number}/summary.pdf", petition=petition)


@recipe(("dashboards.download", "GET"))
def _dashboard_table(w, persona):
    # A table of the persona's own dashboard: the office's, or the organization's.
    name = "asked" if persona.startswith("advocate") else "stages"
    return Call(f"/dashboard/{name}.csv")


# --- sending a request and naming its outcome --------------------------------------------------

REFUSED = frozenset({"login", "401", "403", "404"})
SECOND_FACTOR_PATHS = {"/login/two-factor", "/account/two-factor/setup"}


def outcome(response, flashed: list[str]) -> str:
    """The cell's outcome; ``flashed`` are the categories of the messages it flashed."""
    status = response.status_code
    if 300 <= status < 400:
        location = urlsplit(response.headers.get("Location", ""))
        if location.path == "/login" and "next" in parse_qs(location.query):
            return "login"
        if location.path in SECOND_FACTOR_PATHS:
            return "second_factor"
        return "invalid" if "danger" in flashed else "ok"
    if 200 <= status < 300:
        return "ok"
    if status in (400, 409, 412, 422):
        return "invalid"
    return str(status)


@dataclass
class Sent:
    call: Call
    response: object
    body: str
    flashed: list[str]

    @property
    def outcome(self) -> str:
        return outcome(self.response, self.flashed)


def build(w: World, endpoint: str, method: str, persona: str) -> Call:
    """The route's request for the persona (creating what it acts on)."""
    w.current_route = (endpoint, method)
    return RECIPES[(endpoint, method)](w, persona)


def send(w: World, method: str, persona: str, call: Call) -> Sent:
    """Send the request as the persona: their browser, or their bearer token on the API."""
    headers = dict(call.headers or {})
    data = call.data
    if call.path.startswith("/api/"):
        client = w.app.test_client(use_cookies=False)  # the API's callers carry no cookie
        if persona != "anonymous":
            headers["Authorization"] = f"Bearer {w.token(persona)}"
    else:
        client = w.client(persona)
        if method == "POST":
            page = "/login" if persona == "anonymous" else "/petitions"
            data = {**(data or {}), "csrf_token": csrf_token(client, page)}
    response = client.open(call.path, method=method, data=data, json=call.json, headers=headers)
    body = page_text(response)
    response.close()
    flashed = []
    if not call.path.startswith("/api/"):
        # Messages wait in the session for the next page (the CSRF token's page showed
        # the earlier ones), so these are this request's.
        with client.session_transaction() as session:
            flashed = [category for category, _ in session.get("_flashes", [])]
    return Sent(call, response, body, flashed)


def case_state(petition: Petition | None):
    """The petition's row and history as stored now (None without a petition)."""
    if petition is None:
        return None
    return petition_row(petition.id), [e.id for e in audit_entries(petition_id=petition.id)]


def describe(method: str, sent: Sent) -> str:
    location = sent.response.headers.get("Location")
    return f"{sent.response.status_code} for {method} {sent.call.path}" + (
        f" → {location}" if location else ""
    )


# --- the matrix ---------------------------------------------------------------------------------


def test_the_matrix_has_a_row_for_every_route_and_method_and_no_other(app):
    routes = url_map_routes(app.url_map)
    problems = [
        f"no row in MATRIX for {method} {endpoint} (a route of the app)"
        for endpoint, method in sorted(routes - MATRIX.keys())
    ] + [
        f"MATRIX has a row for {method} {endpoint}, which the app no longer has"
        for endpoint, method in sorted(MATRIX.keys() - routes)
    ]
    assert not problems, "\n".join(problems)
    assert MATRIX.keys() == RECIPES.keys(), "every row needs a request recipe, and no more"
    for route, cells in MATRIX.items():
        assert len(cells) == len(PERSONAS) and set(cells) <= OUTCOMES, route


def expected_outcomes(endpoint: str, method: str) -> dict[str, str]:
    if (endpoint, method) not in MATRIX:
        pytest.fail(
            f"{method} {endpoint} is in the URL map but has no row in MATRIX: add "
            f"({endpoint!r}, {method!r}) with the expected outcome for each persona"
        )
    return dict(zip(PERSONAS, MATRIX[(endpoint, method)], strict=True))


@pytest.mark.parametrize(("endpoint", "method"), route_params(ROUTES))
def test_authorization_matrix(world, endpoint, method):
    expected = expected_outcomes(endpoint, method)
    wrong = []
    for persona in PERSONAS:
        call = build(world, endpoint, method, persona)
        world.client(persona)  # logged in before counting
        refusals_before = len(audit_entries(action="access_refused"))
        state_before = case_state(call.petition)
        sent = send(world, method, persona, call)
        got = sent.outcome
        if got != expected[persona]:
            wrong.append(
                f"{persona}: expected {expected[persona]}, got {got} ({describe(method, sent)})"
            )
            continue
        if got in REFUSED and case_state(call.petition) != state_before:
            wrong.append(f"{persona}: {got}, but the petition changed")
        refusals = audit_entries(action="access_refused")[refusals_before:]
        audited = got == "403" or (got == "404" and call.petition is not None)
        if len(refusals) != int(audited) or (
            audited and refusals[0].actor_id != world.users[persona].id
        ):
            wrong.append(
                f"{persona}: {got}, but {len(refusals)} access_refused entries "
                f"(expected {int(audited)}, by this persona)"
            )
    assert not wrong, f"{method} {endpoint}:\n  " + "\n  ".join(wrong)


# --- another organization's case: a 404, audited, that changes and shows nothing ---------------


@pytest.mark.parametrize(("endpoint", "method"), route_params(CASE_ROUTES))
def test_another_organizations_case_is_an_audited_404_that_changes_nothing(world, endpoint, method):
    advocate_b = world.users["advocate_b"]
    call = build(world, endpoint, method, "advocate_b")
    petition = call.petition
    assert petition is not None and petition.organization_id != advocate_b.organization_id
    world.client("advocate_b")  # logged in before counting
    refusals_before = len(audit_entries(action="access_refused"))
    state_before, petitions_before = case_state(petition), count(Petition)

    sent = send(world, method, "advocate_b", call)

    assert sent.response.status_code == 404, describe(method, sent)
    assert "Jordan Q. Example" not in sent.body  # the petitioner's name
    [refusal] = audit_entries(action="access_refused")[refusals_before:]
    assert (refusal.category, refusal.actor_id) == ("security", advocate_b.id)
    assert refusal.petition_id is None  # a security event, never a change of the case
    assert refusal.details["status"] == 404
    assert refusal.details["case_number"] == petition.case_number
    assert case_state(petition) == state_before
    assert count(Petition) == petitions_before


# --- CSRF and the API's credentials -------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "method"), route_params(WEB_POST_ROUTES))
def test_a_post_without_a_csrf_token_is_400_and_changes_nothing(world, endpoint, method):
    """Sent as the first persona the matrix lets through, minus the token."""
    expected = expected_outcomes(endpoint, method)
    persona = next(p for p in PERSONAS if expected[p] == "ok")
    call = build(world, endpoint, method, persona)
    world.client(persona)  # logged in before the snapshot
    before = (count(AuditEntry), count(Petition), accounts_snapshot(), case_state(call.petition))

    response = world.client(persona).post(call.path, data=call.data, headers=call.headers)

    assert response.status_code == 400, response.status_code
    assert "The form expired or was not sent by this site" in page_text(response)
    after = (count(AuditEntry), count(Petition), accounts_snapshot(), case_state(call.petition))
    assert after == before


def test_the_api_refuses_a_browser_session_without_a_token(world):
    browser = world.client("advocate_a")
    assert browser.get("/petitions").status_code == 200  # the session is a live one
    petitions_before = count(Petition)

    response = browser.post("/api/v1/petitions", json=petition_json())

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(Petition) == petitions_before


# --- the actions of one route: withdraw and close, on the web and the API ----------------------

#: Per action on a case of organization A under review, or waiting for information (withdraw
#: and close are taken at any pending stage; reopen from none of these): each persona's
#: outcome (the web's transition route, the API's; bulk decisions are staff's whatever the
#: action).
ACTION_MATRIX = {
    #            anonymous  advocate_a advocate_b reviewer supervisor
    "withdraw": ("login", "ok", "404", "ok", "ok"),
    "close": ("login", "403", "404", "ok", "ok"),
    "reopen": ("login", "403", "404", "403", "invalid"),
}


@pytest.mark.parametrize("stage", [Stage.UNDER_REVIEW, Stage.INFORMATION_REQUESTED], ids=str)
@pytest.mark.parametrize("interface", ["web", "api"])
@pytest.mark.parametrize("action", sorted(ACTION_MATRIX))
def test_withdraw_and_close_by_persona(world, action, interface, stage):
    expected = dict(zip(PERSONAS, ACTION_MATRIX[action], strict=True))
    wrong = []
    for persona in PERSONAS:
        petition = world.petition(stage)
        members = {"reason": "On the petitioner's written request."}
        if action == "close":
            members["disposition"] = "deceased"
        if interface == "web":
            data = {"transition-action": action, "transition-version": str(petition.version)}
            data |= {f"transition-{name}": value for name, value in members.items()}
            call = Call(
                f"/petitions/{petition.case_number}/transition", data=data, petition=petition
            )
        else:
            call = Call(
                f"/api/v1/petitions/{petition.case_number}/transitions",
                json={"action": action, **members},
                petition=petition,
            )
        state_before = case_state(petition)
        sent = send(world, "POST", persona, call)
        got = sent.outcome
        want = expected[persona]
        if interface == "api" and want == "login":
            want = "401"
        if got != want:
            wrong.append(f"{persona}: expected {want}, got {got} ({describe('POST', sent)})")
        elif got != "ok" and case_state(petition) != state_before:
            wrong.append(f"{persona}: {got}, but the petition changed")
        elif got == "ok" and petition_row(petition.id)["stage"] != "closed":
            wrong.append(f"{persona}: ok, but the case is not closed")
    assert not wrong, f"{action} over {interface} from {stage}:\n  " + "\n  ".join(wrong)
