"""Fixtures for the API, import and bulk-decision tests (a pytest plugin: test modules
name it in ``pytest_plugins``). Tokens are made through ``tracker.auth.tokens``, as the
profile page and the CLI make them.
"""

from dataclasses import dataclass

import pytest

from tracker.auth import tokens
from tracker.extensions import db


@dataclass
class ApiClient:
    """The test client with a bearer token on every request."""

    client: object
    token: str
    user: object

    def request(self, method, path, *, headers=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)


@pytest.fixture
def issue_token(app_ctx):
    """Create an API token for a user (committed) and return its plaintext."""

    def issue(user, name="test script"):
        _, plaintext = tokens.create_token(user, name)
        db.session.commit()
        return plaintext

    return issue


@pytest.fixture
def api_as(client, make_user, issue_token):
    """An ApiClient acting as a new user of the role (or as ``user``)."""

    def make(role="advocate", user=None, **kwargs):
        user = user or make_user(role, **kwargs)
        return ApiClient(client, issue_token(user), user)

    return make
