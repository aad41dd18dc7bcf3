"""Request bodies that are too large, sent chunked, or nested too deeply (issue 10, findings 2
and 3): every route of the URL map that takes a body answers 413 or 400, never a 5xx; a chunked
upload over the limit is refused, never cut short — also through a real gunicorn; and every API
error, a 500 included, is problem+json."""

import http.client
import io
import json
import secrets
import socket

import pytest
from sqlalchemy import func, select

from bench.load_test import gunicorn_server
from tests.api_helpers import PROBLEM_JSON, petition_csv, petition_json, problem_of
from tests.conftest import AuthActions
from tracker import body_limit, create_app
from tracker.acts import services as act_services
from tracker.api.serialization import MAX_JSON_DEPTH, TOO_DEEP
from tracker.auth import services as auth_services
from tracker.auth import tokens
from tracker.deadlines import services as deadlines
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition

pytest_plugins = ["tests.api_fixtures"]

#: A small limit keeps the oversized bodies small (the app reads it at every request).
LIMIT = 32 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
URL_MAP = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://").url_map
BODY_ROUTES = sorted(
    (rule.rule, method, rule.endpoint)
    for rule in URL_MAP.iter_rules()
    for method in rule.methods & BODY_METHODS
)
#: API routes whose body is JSON: a persona allowed there gets the nesting refusal.
JSON_ENDPOINTS = {
    "api.create_petition",
    "api.update_petition",
    "api.transition_petition",
    "api.decide_petitions",
}

#: Routes that take a document: their limit is MAX_DOCUMENT_BYTES and room for the form.
DOCUMENT_ENDPOINTS = {"api.upload_document", "documents.upload"}


def content_type(rule: str, endpoint: str) -> str:
    """The type of body the route reads (another type may be refused, 415, before reading)."""
    if endpoint == "api.import_petitions":
        return "text/csv"
    if endpoint in DOCUMENT_ENDPOINTS:
        return "multipart/form-data; boundary=x"
    return "application/json" if rule.startswith("/api/") else "application/x-www-form-urlencoded"


def nested_json(levels: int) -> str:
    """An object whose ``grounds`` member holds lists nested so that the deepest is at
    ``levels`` (the object itself is level 1)."""
    return '{"grounds": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def chunked(**headers) -> dict:
    """What a server that de-chunks the body (gunicorn) tells the app: no length, chunked."""
    return {
        "headers": {"Transfer-Encoding": "chunked", **headers},
        "environ_overrides": {"wsgi.input_terminated": True},
    }


@pytest.fixture
def small_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", LIMIT)
    # The routes that take a document (and the new-petition form, which may carry one)
    # have their own limit: the same small one here.
    monkeypatch.setitem(app.config, "MAX_DOCUMENT_BYTES", LIMIT)
    monkeypatch.setattr(body_limit, "MULTIPART_ALLOWANCE", 0)


def csv_of(rows: int) -> bytes:
    return petition_csv(
        *(
            petition_json(register_number=f"{20000 + n:05d}-{n % 1000:03d}", grounds="g" * 200)
            for n in range(rows)
        )
    ).encode()


def petition_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Petition.id)))


# --- nesting ------------------------------------------------------------------------------------


def test_deeply_nested_json_is_a_400_problem_not_a_500(api_as):
    api = api_as("advocate")
    for levels in (400, 800, 100_000):
        response = api.post(
            "/api/v1/petitions",
            data=nested_json(levels),
            headers={"Content-Type": "application/json"},
        )
        assert problem_of(response, 400)["detail"] == TOO_DEEP


def test_nesting_up_to_the_limit_is_read(api_as):
    api = api_as("advocate")
    response = api.post(
        "/api/v1/petitions",
        data=nested_json(MAX_JSON_DEPTH),
        headers={"Content-Type": "application/json"},
    )
    assert {"field": "grounds", "message": "Must be a string."} in problem_of(response, 422)[
        "errors"
    ]
    response = api.post(
        "/api/v1/petitions",
        data=nested_json(MAX_JSON_DEPTH + 1),
        headers={"Content-Type": "application/json"},
    )
    assert problem_of(response, 400)["detail"] == TOO_DEEP


# --- every API error is problem+json ------------------------------------------------------------


def test_an_unexpected_error_in_the_api_is_a_problem_too(api_as, app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(petition_services, "submit_petition", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = api_as("advocate").post("/api/v1/petitions", json=petition_json())
    body = problem_of(response, 500)
    assert "a bug" not in json.dumps(body)


# --- chunked bodies, in process -----------------------------------------------------------------


def test_a_chunked_import_over_the_limit_is_refused_not_cut(api_as, small_limit):
    api = api_as("advocate")
    content = csv_of(200)
    assert len(content) > LIMIT
    before = petition_count()
    response = api.post(
        "/api/v1/petitions/import", data=content, **chunked(**{"Content-Type": "text/csv"})
    )
    problem_of(response, 413)
    assert petition_count() == before


def test_a_chunked_import_within_the_limit_is_read_whole(api_as, small_limit):
    api = api_as("advocate")
    content = csv_of(20)
    assert len(content) < LIMIT
    before = petition_count()
    response = api.post(
        "/api/v1/petitions/import", data=content, **chunked(**{"Content-Type": "text/csv"})
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["imported"] == 20
    assert petition_count() == before + 20


class BrokenStream(io.BytesIO):
    """A chunked body whose client goes away after the first piece."""

    def read(self, size=-1):
        if self.tell():
            raise OSError("connection reset by peer")
        return super().read(min(size, 1024) if size and size > 0 else 1024)


def test_a_chunked_import_cut_by_the_client_is_refused(api_as, small_limit):
    api = api_as("advocate")
    before = petition_count()
    response = api.post(
        "/api/v1/petitions/import",
        input_stream=BrokenStream(csv_of(20)),
        **chunked(**{"Content-Type": "text/csv"}),
    )
    problem_of(response, 400)
    assert petition_count() == before


def test_a_chunked_web_upload_over_the_limit_is_refused(client, login_as, small_limit):
    login_as("advocate")
    before = petition_count()
    boundary = "tracker-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv_of(200)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post(
        "/petitions/import",
        data=body,
        **chunked(**{"Content-Type": f"multipart/form-data; boundary={boundary}"}),
    )
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert petition_count() == before


# --- every route that takes a body --------------------------------------------------------------


@pytest.fixture
def callers(app, make_user, make_organization, make_petition, issue_token):
    """Who sends the bodies: anonymous, an advocate and a supervisor on the web (logged in),
    the advocate and the supervisor on the API (tokens); and the things the routes name."""
    organization = make_organization()
    advocate = make_user("advocate", organization=organization)
    supervisor = make_user("supervisor")
    web = {"anonymous": app.test_client()}
    for name, user in (("advocate", advocate), ("supervisor", supervisor)):
        web[name] = app.test_client()
        AuthActions(web[name]).login(user)
    token_row, _ = tokens.create_token(advocate, "fuzz")
    db.session.commit()
    api = {
        "advocate": issue_token(advocate),
        "supervisor": issue_token(supervisor),
    }
    petition = make_petition(advocate=advocate)
    referral = deadlines.open_referral(petition, supervisor, {"agency": "fbi"})
    act = act_services.draft_act(
        supervisor,
        {
            "title": "An act",
            "signed_on": "2024-12-12",
            "authority": "President",
            "relief": "commutation_time_served",
        },
    )
    db.session.commit()
    arguments = {
        "id": referral.id,
        "referral_id": referral.id,
        "act_id": act.id,
        "case_number": petition.case_number,
        "user_id": make_user("reviewer").id,
        "organization_id": organization.id,
        "token_id": token_row.id,
        "notification_id": 1,
        "file_format": "csv",
        "change": "deactivate",
    }
    return web, api, arguments


def send(callers, rule: str, method: str, body: bytes, content_type: str, *, stream=False):
    """The body from each caller that applies to the route: {caller: response}. ``stream``
    sends it chunked (a fresh stream for each caller: the app reads each one)."""
    web, api, arguments = callers
    path = rule
    for name in _argument_names(rule):
        assert name in arguments, f"no value for <{name}> of {rule}: add one to callers()"
        # The act API names its id <id> as the referrals' does: each needs its own row's.
        value = arguments["act_id"] if rule.startswith("/api/v1/acts/") else arguments[name]
        path = path.replace(_placeholder(rule, name), str(value))

    def request(client, **headers):
        headers["Content-Type"] = content_type
        if stream:
            sent = chunked(**headers)
            return client.open(path, method=method, input_stream=io.BytesIO(body), **sent)
        return client.open(path, method=method, data=body, headers=headers)

    if rule.startswith("/api/"):
        return {
            # If-Match names the case's version, so PATCH gets as far as reading the body.
            name: request(web["anonymous"], **{"Authorization": f"Bearer {token}", "If-Match": "1"})
            for name, token in api.items()
        }
    return {name: request(client) for name, client in web.items()}


def _argument_names(rule: str) -> list[str]:
    return [part.split(">")[0].split(":")[-1] for part in rule.split("<")[1:]]


def _placeholder(rule: str, name: str) -> str:
    for part in rule.split("<")[1:]:
        placeholder = part.split(">")[0]
        if placeholder.split(":")[-1] == name:
            return f"<{placeholder}>"
    raise AssertionError(name)


def _statuses(responses) -> dict[str, int]:
    return {caller: response.status_code for caller, response in responses.items()}


@pytest.mark.parametrize("rule, method, endpoint", BODY_ROUTES)
def test_no_body_makes_any_route_fail(callers, small_limit, rule, method, endpoint):
    too_large = json.dumps({"grounds": "x" * LIMIT}).encode()
    nested = send(callers, rule, method, nested_json(600).encode(), "application/json")
    oversized = send(callers, rule, method, too_large, content_type(rule, endpoint))
    oversized_chunked = send(
        callers, rule, method, too_large, content_type(rule, endpoint), stream=True
    )
    for sent in (nested, oversized, oversized_chunked):
        assert all(status < 500 for status in _statuses(sent).values()), _statuses(sent)
    # Every route reads the body of some caller, and refuses it whole:
    assert 413 in _statuses(oversized).values(), _statuses(oversized)
    assert 413 in _statuses(oversized_chunked).values(), _statuses(oversized_chunked)
    if endpoint in JSON_ENDPOINTS:
        refused = [r for r in nested.values() if r.status_code == 400]
        assert refused and all(r.get_json()["detail"] == TOO_DEEP for r in refused)
    if rule.startswith("/api/"):
        for sent in (nested, oversized, oversized_chunked):
            assert all(r.mimetype == PROBLEM_JSON for r in sent.values())


def test_every_route_that_takes_a_body_is_fuzzed():
    assert {endpoint for _, _, endpoint in BODY_ROUTES} >= JSON_ENDPOINTS | {
        "api.import_petitions",
        "bulk.import_petitions",
        "petitions.new",
    } | DOCUMENT_ENDPOINTS


# --- through a real server ----------------------------------------------------------------------


def chunked_request(port: int, path: str, body: bytes, headers: dict):
    """Send the body with Transfer-Encoding: chunked (no Content-Length), as curl -T - does."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        pieces = (body[i : i + 8192] for i in range(0, len(body), 8192))
        connection.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def cut_chunked_request(port: int, path: str, body: bytes, headers: dict) -> bytes:
    """Announce one chunk of the whole body, send half of it, and stop sending."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode() + f"{len(body):x}\r\n".encode() + body[: len(body) // 2])
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while piece := connection.recv(65536):
            answer += piece
    return answer


@pytest.mark.committed
def test_chunked_bodies_through_gunicorn(committed_app, monkeypatch, tmp_path):
    limit = 64 * 1024
    with committed_app.app_context():
        organization = auth_services.create_organization(None, "Chunked uploads")
        advocate = auth_services.create_user(
            None,
            email="chunked@example.org",
            name="Chunked",
            role="advocate",
            password=secrets.token_urlsafe(16),
            organization=organization,
        )
        _, token = tokens.create_token(advocate, "gunicorn test")
        db.session.commit()
    api = {"Authorization": f"Bearer {token}"}
    big, small = csv_of(400), csv_of(40)
    assert len(big) > limit > len(small)
    monkeypatch.setenv("MAX_CONTENT_LENGTH", str(limit))
    url = committed_app.config["SQLALCHEMY_DATABASE_URI"]

    with gunicorn_server(url, 1, tmp_path / "gunicorn.log") as port:
        status, content_type, body = chunked_request(
            port, "/api/v1/petitions/import", big, api | {"Content-Type": "text/csv"}
        )
        assert (status, content_type) == (413, PROBLEM_JSON), body[:300]
        status, content_type, _ = chunked_request(
            port,
            "/api/v1/petitions",
            json.dumps(petition_json(grounds="x" * limit)).encode(),
            api | {"Content-Type": "application/json"},
        )
        assert (status, content_type) == (413, PROBLEM_JSON)
        status, content_type, _ = chunked_request(
            port,
            "/login",
            b"email=a%40b.org&password=" + b"x" * limit,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 413 and content_type.startswith("text/html")
        with committed_app.app_context():
            assert petition_count() == 0

        answer = cut_chunked_request(
            port, "/api/v1/petitions/import", small, api | {"Content-Type": "text/csv"}
        )
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
        with committed_app.app_context():
            assert petition_count() == 0

        status, _, body = chunked_request(
            port, "/api/v1/petitions/import", small, api | {"Content-Type": "text/csv"}
        )
        assert status == 201, body[:300]
        assert json.loads(body)["imported"] == 40
        with committed_app.app_context():
            assert petition_count() == 40
            shortest = db.session.scalar(select(func.min(func.length(Petition.grounds))))
            assert shortest == 200  # no row cut short
