"""Hostile query strings on every route of the URL map find no server error.

Each route is called as in the authorization matrix (``tests/test_authorization_matrix.py``:
the same recipes, so a request reaches the view as one that would succeed would, with a CSRF
token on web POSTs and a bearer token on the API), as anonymous and as each persona, with
query strings a scanner sends: the names ``url_for`` reserves for itself (``endpoint``,
``_method``, ``_external``, ``_anchor``, ``_scheme``), every parameter repeated, values of
100,000 characters, pages, limits, cursors and ids that are not numbers, and bytes that are
not text. Whatever the answer, it is not a 5xx. Request bodies are fuzzed elsewhere (the API
by schemathesis, tests/test_api_openapi.py).

Issue 10 found ``GET /petitions?page=1&endpoint=x`` to be a 500 once the queue had a second
page, so every persona here has more than one page of cases.
"""

import io
from urllib.parse import quote, urlencode

import pytest
from flask import request

from tests import test_authorization_matrix as matrix
from tests.conftest import csrf_token
from tests.test_authorization_matrix import PERSONAS, ROUTES, Call, build, route_params
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]
#: The matrix's fixture: two organizations, the personas, and what the recipes act on.
world = matrix.world

RESERVED = {
    "endpoint": "x",
    "_method": "DELETE",
    "_external": "1",
    "_anchor": "top",
    "_scheme": "javascript",
}
#: Every query parameter some route reads (queue, API list, audit log, login's next).
PARAMETERS = tuple(
    [
        "q",
        "stage",
        "kind",
        "assignee",
        "organization",
        "sort",
        "page",
        "after",
        "limit",
        "cursor",
        "before",
        "actor",
        "case_number",
        "action",
        "date_from",
        "date_to",
        "next",
    ]
)
LONG = 100_000


def _pairs(values: dict) -> str:
    return urlencode(list(values.items()))


#: label → the raw query string.
QUERIES = {
    **{f"{name}={value}": _pairs({"page": "1", name: value}) for name, value in RESERVED.items()},
    "every reserved name at once": _pairs({"page": "2"} | RESERVED),
    "every parameter twice": urlencode(
        [(name, value) for name in PARAMETERS for value in ("1", "me")], doseq=True
    ),
    "every parameter twice, the second a NUL": urlencode(
        [(name, value) for name in PARAMETERS for value in ("1", "\x00")]
    ),
    "100,000-character search": _pairs({"q": "x" * LONG, "page": "2"}),
    "10,000 characters everywhere": _pairs({name: "9" * 10_000 for name in PARAMETERS}),
    "not numbers": _pairs(
        {"page": "abc", "limit": "ten", "cursor": "!!!", "before": "x", "organization": "x"}
    ),
    "numbers out of range": _pairs(
        {
            "page": "-1",
            "limit": "-5",
            "before": "99999999999999999999",
            "assignee": "0",
            "organization": "2147483648",
            "cursor": "A" * 4000,
        }
    ),
    "numbers that are not ASCII": _pairs(
        {"page": "\u0662", "limit": "\uff11", "before": "\u0661", "assignee": "\uff11"}
    ),
    "every parameter empty": _pairs(dict.fromkeys(PARAMETERS, "")),
    "bytes that are not UTF-8": "q=%FF%FE&stage=%C0%AF&next=%ED%A0%80&page=%FF&before=%80",
    "line breaks": _pairs({"next": "/\r\nSet-Cookie: x=1", "q": "a\r\nb", "page": "1\n"}),
    "names that are not UTF-8": "%FF=1&%C0%AF=2&page=1",
}


def _with_query(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


def _body(call: Call) -> dict | None:
    """The call's form data, with any file re-opened (a file is read once per request)."""
    if call.data is None or not isinstance(call.data, dict):
        return call.data
    return {
        name: (io.BytesIO(value[0].getvalue()), value[1]) if isinstance(value, tuple) else value
        for name, value in call.data.items()
    }


class Sender:
    """Sends a call as a persona (browser, or bearer token on the API) with a query string."""

    def __init__(self, world):
        self.world = world
        self.tokens: dict[str, str] = {}

    def csrf(self, persona: str) -> str:
        if persona not in self.tokens:
            page = "/login" if persona == "anonymous" else "/petitions"
            self.tokens[persona] = csrf_token(self.world.client(persona), page)
        return self.tokens[persona]

    def send(self, method: str, persona: str, call: Call, query: str):
        headers = dict(call.headers or {})
        data = _body(call)
        if call.path.startswith("/api/"):
            client = self.world.app.test_client(use_cookies=False)
            if persona != "anonymous":
                headers["Authorization"] = f"Bearer {self.world.token(persona)}"
        else:
            client = self.world.client(persona)
            if method == "POST" and not isinstance(data, bytes):
                data = {**(data or {}), "csrf_token": self.csrf(persona)}
        path = _with_query(call.path, query)
        response = client.open(path, method=method, data=data, json=call.json, headers=headers)
        response.close()
        return response


def _two_pages_for_everyone(world) -> None:
    """Two cases of each organization, so every persona's queue has a next page."""
    for advocate in ("advocate_a", "advocate_b"):
        for stage in (Stage.RECEIVED, Stage.UNDER_REVIEW):
            world.make_petition(stage, advocate=world.users[advocate])


@pytest.mark.parametrize(("endpoint", "method"), route_params(ROUTES))
def test_no_query_string_makes_a_route_fail(app, world, monkeypatch, endpoint, method):
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 1)
    _two_pages_for_everyone(world)
    sender = Sender(world)
    failures = []
    for persona in PERSONAS:
        call = build(world, endpoint, method, persona)
        for label, query in QUERIES.items():
            try:
                status = sender.send(method, persona, call, query).status_code
            except Exception as error:  # noqa: BLE001 (the testing app re-raises a 500's cause)
                status = f"{type(error).__name__}: {str(error)[:200]}"
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{persona}, {label}: {status}")
    assert not failures, f"{method} {endpoint}:\n" + "\n".join(failures)


def test_the_queries_reach_the_app_as_sent(client):
    """The fuzzing strings are what they say: reserved names and repeats arrive as such."""
    for label in ("endpoint=x", "every reserved name at once", "every parameter twice"):
        with client.application.test_request_context(_with_query("/petitions", QUERIES[label])):
            assert request.args, label
            if label == "every parameter twice":
                assert all(len(request.args.getlist(name)) == 2 for name in PARAMETERS)
            else:
                assert "endpoint" in request.args
    assert quote("\x00") in QUERIES["every parameter twice, the second a NUL"]
