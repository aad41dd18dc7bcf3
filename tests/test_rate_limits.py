"""Per-client rate limits: sign-in, second factor, password change, token creation, the API.

The suite runs with the production limits, counted in memory and cleared before each test
(tests/conftest.py). Tests that reach a limit lower it for themselves (the limits are read
from the configuration at each request); the defaults are shown to leave an office behind
one address room for its morning, and the Redis storage is tried against the real server.
"""

import os
import threading
import time
import uuid

import pyotp
import pytest
import redis
from limits.strategies import MovingWindowRateLimiter

from tests.conftest import PASSWORD, AuthActions, csrf_token
from tests.conftest import testing_app as new_app
from tracker.api.problems import PROBLEM_JSON
from tracker.auth import tokens, two_factor
from tracker.extensions import db
from tracker.ratelimits import SweptMemoryStorage

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def sign_in(browser, email, password="wrong password 123"):
    return browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(browser, "/login")},
    )


def at(app, address):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def assert_limited_page(response):
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.mimetype == "text/html"
    assert "Too many requests" in response.get_data(as_text=True)


def test_sign_in_attempts_are_limited_per_address(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    user = make_user("advocate")
    browser = at(app, "192.0.2.10")
    assert [sign_in(browser, user.email).status_code for _ in range(3)] == [200] * 3
    assert browser.get("/login").status_code == 200  # showing the form costs nothing
    assert_limited_page(sign_in(browser, user.email, PASSWORD))
    # Another address is not held up, not even for the same account.
    assert sign_in(at(app, "192.0.2.11"), user.email, PASSWORD).status_code == 302


def test_only_failed_sign_ins_count_against_the_failure_limit(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_FAILURES", "2 per minute")
    for _ in range(4):  # colleagues signing in successfully from the office's one address
        assert (
            sign_in(at(app, "192.0.2.20"), make_user("advocate").email, PASSWORD).status_code == 302
        )
    browser = at(app, "192.0.2.20")
    assert [sign_in(browser, f"guess{n}@example.org").status_code for n in range(2)] == [200, 200]
    assert_limited_page(sign_in(browser, "guess3@example.org"))


def test_an_office_morning_passes_and_a_guessing_run_is_stopped(app, make_user):
    """With the default limits: forty colleagues behind one address all sign in within the
    same minute, one in four after a typo; a password-guessing run from one address is cut
    off after a handful of guesses."""
    for number in range(40):
        browser, colleague = at(app, "198.51.100.1"), make_user("advocate")
        if number % 4 == 0:
            assert sign_in(browser, colleague.email).status_code == 200
        assert sign_in(browser, colleague.email, PASSWORD).status_code == 302
    guesser = at(app, "203.0.113.9")
    answers = [sign_in(guesser, f"user{n}@example.org").status_code for n in range(40)]
    checked = answers.count(200)
    assert checked <= 20 and answers[checked:] == [429] * (40 - checked)


def test_second_factor_codes_are_limited_per_address(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_TWO_FACTOR", "2 per minute")
    reviewer = make_user("reviewer")
    two_factor.enable(reviewer, pyotp.random_base32(), 0)
    db.session.commit()
    browser = at(app, "192.0.2.30")
    assert (
        sign_in(browser, reviewer.email, PASSWORD)
        .headers["Location"]
        .startswith("/login/two-factor")
    )
    for _ in range(2):
        response = browser.post(
            "/login/two-factor",
            data={"code": "000000", "csrf_token": csrf_token(browser, "/login/two-factor")},
        )
        assert response.status_code == 422
    response = browser.post(
        "/login/two-factor",
        data={"code": "000000", "csrf_token": csrf_token(browser, "/login/two-factor")},
    )
    assert_limited_page(response)
    db.session.expire_all()
    assert db.session.get(type(reviewer), reviewer.id).second_factor_failures == 2  # not checked


def change_password(browser):
    return browser.post(
        "/account/password",
        data={
            "current_password": "not my password 12",
            "new_password": "a brand new passphrase 9",
            "csrf_token": csrf_token(browser, "/account/password"),
        },
    )


def test_password_changes_are_limited_per_user(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PASSWORD_CHANGE", "2 per hour")
    first, colleague = at(app, "192.0.2.40"), at(app, "192.0.2.40")
    AuthActions(first).login(make_user("advocate"))
    AuthActions(colleague).login(make_user("advocate"))
    assert [change_password(first).status_code for _ in range(2)] == [422, 422]
    assert_limited_page(change_password(first))
    assert change_password(colleague).status_code == 422  # same address, another user


def test_token_creation_is_limited_per_user(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_TOKEN_CREATION", "1 per hour")
    browser = app.test_client()
    AuthActions(browser).login(make_user("advocate"))

    def create():
        return browser.post(
            "/account/tokens",
            data={"name": "script", "csrf_token": csrf_token(browser, "/account/tokens")},
        )

    assert create().status_code == 200
    assert_limited_page(create())
    assert browser.get("/account/tokens").status_code == 200  # the page itself stays


def api_get(browser, plaintext):
    return browser.get("/api/v1/petitions", headers={"Authorization": f"Bearer {plaintext}"})


@pytest.fixture
def two_tokens(make_user):
    issued = [tokens.create_token(make_user("reviewer"), "script")[1] for _ in range(2)]
    db.session.commit()
    return issued


def assert_limited_problem(response):
    assert response.status_code == 429
    assert response.mimetype == PROBLEM_JSON
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["status"] == 429


def test_the_api_is_limited_per_token(app, two_tokens, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_API_PER_TOKEN", "3 per minute")
    first, second = two_tokens
    browser = at(app, "192.0.2.50")
    assert [api_get(browser, first).status_code for _ in range(3)] == [200] * 3
    assert_limited_problem(api_get(browser, first))
    assert api_get(browser, second).status_code == 200  # same address, another token


def test_the_api_is_limited_per_address(app, two_tokens, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_API_PER_ADDRESS", "3 per minute")
    first, second = two_tokens
    browser = at(app, "192.0.2.60")
    statuses = [api_get(browser, token).status_code for token in (first, second, first)]
    assert statuses == [200] * 3
    assert_limited_problem(api_get(browser, second))
    assert_limited_problem(browser.get("/api/v1/petitions"))  # no token: still that address
    assert api_get(at(app, "192.0.2.61"), second).status_code == 200


def test_counting_in_memory_starts_no_thread(app, two_tokens, monkeypatch):
    """memory:// (the default) counts in SweptMemoryStorage: limits' own storage started a
    timer thread 10 ms ahead on a count whenever none was running."""
    storage = app.extensions["tracker_limiter"].storage
    assert isinstance(storage, SweptMemoryStorage)
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(start(thread)))
    browser = at(app, "192.0.2.80")
    assert [api_get(browser, two_tokens[0]).status_code for _ in range(5)] == [200] * 5
    assert started == []
    # Each request counted once per API limit: per token and per address.
    assert sorted(len(entries) for entries in storage.events.values()) == [5, 5]


def test_expired_counts_in_memory_are_swept(app, monkeypatch):
    """Without the timer, a count that counts sweeps what has expired, at most once a
    second (SWEEP_SECONDS): memory stays bounded by the limits' windows."""
    storage = app.extensions["tracker_limiter"].storage
    storage._next_sweep = time.monotonic() + 3600  # no sweep due
    assert storage.acquire_entry("window", 10, 60)
    storage.incr("counter", 60)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    assert storage.acquire_entry("later", 10, 60)
    assert len(storage.events["window"]) == 1 and "counter" in storage.storage
    storage._next_sweep = time.monotonic()  # a sweep is due
    assert storage.acquire_entry("later", 10, 60)
    assert storage.events["window"] == [] and "counter" not in storage.storage
    assert len(storage.events["later"]) == 2


def test_limits_switched_off_count_nothing(database_url, make_user):
    """RATELIMIT_ENABLED=0 (an operator's choice, e.g. behind a proxy that limits): the app
    starts, and neither sign-ins nor the API are refused past their limits."""
    unlimited = new_app(
        database_url,
        RATELIMIT_ENABLED=False,
        RATELIMIT_LOGIN="1 per minute",
        RATELIMIT_API_PER_TOKEN="1 per minute",
    )
    with unlimited.app_context():
        plaintext = tokens.create_token(make_user("reviewer"), "script")[1]
        db.session.commit()
    browser = at(unlimited, "192.0.2.70")
    assert [sign_in(browser, "x@example.org").status_code for _ in range(3)] == [200] * 3
    assert [api_get(browser, plaintext).status_code for _ in range(3)] == [200] * 3


def test_trusted_proxies_give_the_client_address(database_url):
    behind_proxy = new_app(database_url, TRUSTED_PROXY_COUNT=1, RATELIMIT_LOGIN="1 per minute")
    proxy = behind_proxy.test_client()  # every request arrives from the proxy's address

    def through_proxy(forwarded_for):
        return proxy.post(
            "/login",
            headers={"X-Forwarded-For": forwarded_for},
            data={
                "email": "x@example.org",
                "password": "wrong one 123",
                "csrf_token": csrf_token(proxy, "/login"),
            },
        )

    assert through_proxy("198.51.100.7").status_code == 200
    assert through_proxy("198.51.100.8").status_code == 200  # another client: not limited
    assert through_proxy("198.51.100.7").status_code == 429
    # A client cannot pass itself off as another: only the proxy's own entry is believed.
    assert through_proxy("198.51.100.9, 198.51.100.7").status_code == 429


def test_without_trusted_proxies_forwarded_headers_are_ignored(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "1 per minute")
    browser = app.test_client()
    for forwarded_for, status in (("198.51.100.7", 200), ("198.51.100.8", 429)):
        response = browser.post(
            "/login",
            headers={"X-Forwarded-For": forwarded_for},
            data={
                "email": "x@example.org",
                "password": "wrong one 123",
                "csrf_token": csrf_token(browser, "/login"),
            },
        )
        assert response.status_code == status


@pytest.fixture
def redis_prefix():
    """A key prefix of this test run's own; its keys are deleted afterwards."""
    prefix = f"tracker-test-{uuid.uuid4().hex}"
    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is needed at {REDIS_URL} (set TEST_REDIS_URL): {error}")
    yield prefix
    keys = list(server.scan_iter(match=f"*{prefix}*"))
    if keys:
        server.delete(*keys)
    server.close()


def test_app_servers_share_their_counts_in_redis(database_url, make_user, redis_prefix):
    """Two app servers on one Redis: a client gets the limit once, not once per server."""
    servers = [
        new_app(
            database_url,
            RATELIMIT_STORAGE_URI=REDIS_URL,
            RATELIMIT_KEY_PREFIX=redis_prefix,
            RATELIMIT_LOGIN="3 per minute",
        )
        for _ in range(2)
    ]
    user = make_user("advocate")
    answers = [sign_in(servers[n % 2].test_client(), user.email).status_code for n in range(4)]
    assert answers == [200, 200, 200, 429]
    stored = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{redis_prefix}*"))
    assert stored, "the counts are not in Redis"
    assert servers[1].test_client().get("/login").status_code == 200


def test_an_unreachable_redis_falls_back_to_counting_in_memory(database_url, make_user):
    server = new_app(
        database_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0", RATELIMIT_LOGIN="2 per minute"
    )
    user = make_user("advocate")
    browser = server.test_client()
    assert [sign_in(browser, user.email).status_code for _ in range(3)] == [200, 200, 429]


def test_the_api_shares_its_counts_in_redis(database_url, two_tokens, redis_prefix, monkeypatch):
    """The API's limits (counted by tracker.ratelimits.ApiLimits) in Redis, under the keys
    Flask-Limiter gives them: one count for both app servers, both limits in one script."""

    def one_by_one(*args, **kwargs):
        raise AssertionError("a limit counted alone: one round trip to Redis per limit")

    monkeypatch.setattr(MovingWindowRateLimiter, "hit", one_by_one)
    servers = [
        new_app(
            database_url,
            RATELIMIT_STORAGE_URI=REDIS_URL,
            RATELIMIT_KEY_PREFIX=redis_prefix,
            RATELIMIT_API_PER_TOKEN="3 per minute",
        )
        for _ in range(2)
    ]
    first, second = two_tokens
    answers = [api_get(at(servers[n % 2], "192.0.2.70"), first) for n in range(4)]
    assert [answer.status_code for answer in answers[:3]] == [200] * 3
    assert_limited_problem(answers[3])
    assert api_get(at(servers[1], "192.0.2.70"), second).status_code == 200
    stored = {
        key.decode() for key in redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{redis_prefix}*")
    }
    assert any("/token:" in key and "/ratelimit_api_per_token/3/1/minute" in key for key in stored)
    assert any("/192.0.2.70/ratelimit_api_per_address/20000/1/minute" in key for key in stored)


def test_the_api_counts_in_memory_when_redis_is_unreachable(database_url, two_tokens):
    server = new_app(
        database_url,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
        RATELIMIT_API_PER_TOKEN="2 per minute",
    )
    first, _second = two_tokens
    browser = at(server, "192.0.2.80")
    assert [api_get(browser, first).status_code for _ in range(2)] == [200, 200]
    assert_limited_problem(api_get(browser, first))
