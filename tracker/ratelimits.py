"""Per-client rate limits (Flask-Limiter): which routes, counted per what, answered how.

Each app gets a limiter of its own (``init_app``), so two apps in one process — the test
suite builds several — never share counts or storage. The limits are read from the
configuration at request time (``RATELIMIT_*`` in config.py):

- sign-in (POST /login) per client address, all attempts and, more tightly, failed ones;
- second-factor codes (POST /login/two-factor) per client address;
- password changes and token creations per signed-in user;
- the public statistics pages per client address (the public API's route shares the
  API's per-address limit);
- the whole API per bearer token and per client address.

A request over a limit gets 429 with ``Retry-After``: problem+json on the API, the error
page on the web. Rate limits are not audited: a flood must not become audit entries.
"""

import functools
import hashlib
import math
import time

from flask import Flask, current_app, g, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RequestLimit, RouteLimit
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from tracker import pipeline
from tracker.api.auth import is_api_path
from tracker.api.problems import problem

#: Set by a view when a sign-in attempt failed, so only failures count against
#: RATELIMIT_LOGIN_FAILURES.
LOGIN_FAILED = "login_attempt_failed"


def _configured(name: str):
    return lambda: current_app.config[name]


def signed_in_user_or_address() -> str:
    """The signed-in user (colleagues behind one address are counted apart), else the address."""
    if current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return f"address:{get_remote_address()}"


def bearer_token_or_address() -> str:
    """The presented bearer token (as its SHA-256, never in clear), else the address.

    Limits are checked before the token is looked up, so a flood of unknown tokens costs
    no database work beyond what the address limit allows.
    """
    scheme, _space, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        digest = hashlib.sha256(credentials.encode("utf-8", "surrogatepass")).hexdigest()
        return f"token:{digest}"
    return f"address:{get_remote_address()}"


def _remember_reset(limit: RequestLimit) -> None:
    """on_breach: keep the latest moment a breached limit frees up, for Retry-After."""
    g.rate_limit_reset = max(g.get("rate_limit_reset", 0), limit.reset_at)


def retry_after_seconds(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory storage, which ``memory://`` names here (``storage_uri``), with its
    expired counts and window entries swept on the counting request at most once every
    ``SWEEP_SECONDS``, rather than by a timer thread.

    limits' own starts a ``threading.Timer`` 10 ms ahead whenever it counts and none is
    running: under load a new thread a hundred times a second in each worker, each start
    waiting for the thread to run, and each run taking the interpreter from the request
    being served. Served by gunicorn, that was about a tenth of an API request's time
    (README, issue 15). The sweep only frees memory: a count or a window entry past its
    expiry is already ignored when read, so when it is swept changes no answer.

    The hook is limits' private ``__schedule_expiry``, which each count calls (overridden
    by its mangled name); ``test_counting_in_memory_starts_no_thread`` fails if a release
    of limits stops calling it.
    """

    STORAGE_SCHEME = ["tracker-memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # the one limits starts with the storage
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()


def storage_uri(configured: str) -> str:
    """The storage the limiter counts in: ``memory://`` is ``SweptMemoryStorage``; any other
    (``redis://…``) as configured."""
    scheme, separator, rest = configured.partition("://")
    if separator and scheme == "memory":
        return f"{SweptMemoryStorage.STORAGE_SCHEME[0]}://{rest}"
    return configured


def _handle_rate_limited(error: RateLimitExceeded):
    pipeline.abandon()
    retry_after = str(retry_after_seconds(g.get("rate_limit_reset", time.time() + 1)))
    message = _(
        "Too many requests (at most %(limit)s). Try again in %(seconds)s s.",
        limit=error.description,
        seconds=retry_after,
    )
    if is_api_path(request.path):
        return problem(429, message, headers={"Retry-After": retry_after})
    page = render_template("error.html", status=429, message=message)
    return page, 429, {"Retry-After": retry_after}


def _login_failed(response) -> bool:
    return bool(g.get(LOGIN_FAILED))


#: The limited pages: endpoint → the settings that limit it, each with Flask-Limiter's options
#: (the key is the client address unless ``key_func`` says otherwise).
VIEW_LIMITS = {
    "auth.login": {
        "RATELIMIT_LOGIN": {"methods": ["POST"]},
        "RATELIMIT_LOGIN_FAILURES": {"methods": ["POST"], "deduct_when": _login_failed},
    },
    "auth.two_factor": {"RATELIMIT_TWO_FACTOR": {"methods": ["POST"]}},
    "auth.change_password": {
        "RATELIMIT_PASSWORD_CHANGE": {"methods": ["POST"], "key_func": signed_in_user_or_address},
    },
    "tokens.create": {"RATELIMIT_TOKEN_CREATION": {"key_func": signed_in_user_or_address}},
    # The public statistics (issue 14): anonymous pages, counted per client address.
    "statistics.public": {"RATELIMIT_PUBLIC_PAGES": {}},
    "statistics.public_csv": {"RATELIMIT_PUBLIC_PAGES": {}},
}
#: The whole API, shared by all its routes: setting → options.
API_LIMITS = {
    "RATELIMIT_API_PER_TOKEN": {"key_func": bearer_token_or_address},
    "RATELIMIT_API_PER_ADDRESS": {},
}


def _limited_methods(view, limited, counted: frozenset[str] | None):
    """The limited view, except for a method none of its limits counts (the sign-in page's
    GET), which skips Flask-Limiter's per-request bookkeeping: those limits count POSTs."""
    if counted is None:
        return limited

    @functools.wraps(view)
    def dispatch(*args, **kwargs):
        return (limited if request.method in counted else view)(*args, **kwargs)

    return dispatch


def _counted_methods(limits: dict) -> frozenset[str] | None:
    """The methods some of a view's limits count; None when one counts every method."""
    methods = [options.get("methods") for options in limits.values()]
    if None in methods:
        return None
    return frozenset(method for listed in methods for method in listed)


#: endpoint → the methods its limits count (None: all): the web requests Flask-Limiter must see.
COUNTED_METHODS = {endpoint: _counted_methods(limits) for endpoint, limits in VIEW_LIMITS.items()}


#: ``g`` key: this API request's limits were left to Flask-Limiter's own hooks (ApiLimits).
_API_BY_FLASK_LIMITER = "api_limits_by_flask_limiter"


def _is_counted() -> bool:
    """Does Flask-Limiter count this request: a limited view's method, or an API request
    ``ApiLimits`` left to it?"""
    if request.blueprint == "api":
        return g.get(_API_BY_FLASK_LIMITER, False)
    if request.endpoint not in COUNTED_METHODS:
        return False
    methods = COUNTED_METHODS[request.endpoint]
    return methods is None or request.method in methods


#: limits' moving-window acquisition (its acquire_moving_window.lua, for one entry) over the
#: API's limits in one round trip to Redis: each limit takes the entry in turn, until the first
#: that refuses it, whose position (from 1) is returned; 0 when every one took it. So the
#: counts are those of Flask-Limiter's hits one by one, in one script rather than one each.
ACQUIRE_IN_TURN = """
local timestamp = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[2 * i])
    local expiry = tonumber(ARGV[2 * i + 1])
    if limit < 1 then
        return i
    end
    local entry = redis.call('lindex', key, limit - 1)
    if entry and tonumber(entry) >= timestamp - expiry then
        return i
    end
    redis.call('lpush', key, timestamp)
    redis.call('ltrim', key, 0, limit - 1)
    redis.call('expire', key, expiry)
end
return 0
"""


class ApiLimits:
    """The API's limits (API_LIMITS), counted by a hook of our own on every API request.

    The same limits, storage keys and answers as Flask-Limiter's own hook, which takes ``hit``
    after resolving and filtering every limit of the endpoint, its blueprint and the defaults,
    again on each request (about a tenth of a cached case's work): here the two shared limits
    are known, and only their texts are read from the configuration. Flask-Limiter's hook
    still answers when it keeps more than a count: rate-limit headers switched on, or a
    storage that failed (it then counts in memory, and tries the storage again now and then).
    """

    def __init__(self, limiter: Limiter, limits: list[RouteLimit]) -> None:
        self.limiter = limiter
        #: Flask-Limiter's shared limits of the API (its RouteLimit objects): what is counted.
        self.limits = limits
        #: The strategy over the configured storage; ``limiter.limiter`` is another (its
        #: in-memory fallback) while that storage is failing.
        self.strategy = limiter.limiter
        #: The limits' texts → their RuntimeLimits, shortest window first (as Flask-Limiter
        #: orders them); fixed texts, parsed once per process.
        self._parsed: dict[tuple[str, ...], list] = {}
        #: On Redis (one server) with the moving window: ACQUIRE_IN_TURN, registered once.
        self._acquire_in_turn = None
        storage = limiter.storage
        if type(storage) is RedisStorage and isinstance(self.strategy, MovingWindowRateLimiter):
            self._acquire_in_turn = storage.get_connection().register_script(ACQUIRE_IN_TURN)

    def _runtime_limits(self, config) -> list:
        texts = tuple(config[setting] for setting in API_LIMITS)
        runtime = self._parsed.get(texts)
        if runtime is None:
            runtime = sorted(
                (item for limit in self.limits for item in limit), key=lambda item: item.limit
            )
            self._parsed[texts] = runtime
        return runtime

    def check(self, flask_limiter_check) -> None:
        """before_request of an API request: count it against every API limit (429 past one)."""
        limiter = self.limiter
        if not limiter.enabled:
            return None
        config = current_app.config
        if config.get("RATELIMIT_HEADERS_ENABLED") or limiter.limiter is not self.strategy:
            return self._by_flask_limiter(flask_limiter_check)
        prefix = config.get("RATELIMIT_KEY_PREFIX")
        counted = []
        for limit in self._runtime_limits(config):
            arguments = [limit.key_func(), limit.scope]
            if prefix:
                arguments.insert(0, prefix)
            counted.append((limit, arguments))
        try:
            refused = self._refused(counted)
        except Exception:
            # The storage failed: Flask-Limiter's hook switches to counting in memory.
            return self._by_flask_limiter(flask_limiter_check)
        if refused is not None:
            limit, arguments = refused
            _remember_reset(RequestLimit(limiter, limit.limit, arguments, True, True))
            raise RateLimitExceeded(limit)
        return None

    def _refused(self, counted: list) -> tuple | None:
        """Count the request against each (limit, arguments) in turn; the first that refuses
        it, or None."""
        if self._acquire_in_turn is None:
            for limit, arguments in counted:
                if not self.strategy.hit(limit.limit, *arguments):
                    return limit, arguments
            return None
        storage = self.limiter.storage
        keys = [storage.prefixed_key(limit.limit.key_for(*args)) for limit, args in counted]
        windows = [(limit.limit.amount, limit.limit.get_expiry()) for limit, _ in counted]
        position = self._acquire_in_turn(
            keys=keys, args=[time.time(), *(value for window in windows for value in window)]
        )
        return counted[int(position) - 1] if position else None

    @staticmethod
    def _by_flask_limiter(flask_limiter_check):
        g.setdefault(_API_BY_FLASK_LIMITER, True)
        return flask_limiter_check()


def _skip_uncounted_requests(app: Flask, limiter: Limiter, api_limits: ApiLimits) -> None:
    """Flask-Limiter's request hooks (check before, deduct and headers after, reset at
    teardown) only on the requests a limit counts. Every other page — nearly all the web's,
    the sign-in page's GET among them — would pay for resolving and filtering the limits of
    its endpoint only to find none (about 8 % of the sign-in page's work). The API's are
    counted by ``api_limits``."""

    def check(hook):
        def gate():
            if request.blueprint == "api":
                return api_limits.check(hook)
            return hook() if _is_counted() else None

        return gate

    def finish(hook):
        return lambda response: hook(response) if _is_counted() else response

    def release(hook):
        return lambda error=None: hook(error) if _is_counted() else None

    for registered, gate in (
        (app.before_request_funcs[None], check),
        (app.after_request_funcs[None], finish),
        (app.teardown_request_funcs[None], release),
    ):
        registered[:] = [gate(hook) if _owner(hook) is limiter else hook for hook in registered]


def _owner(hook):
    """What a request hook is bound to: a bound method's instance, a partial's first argument
    (Flask-Limiter registers its after-request hook as a partial of a private method)."""
    if isinstance(hook, functools.partial):
        return hook.args[0] if hook.args else None
    return getattr(hook, "__self__", None)


def init_app(app: Flask) -> Limiter:
    """Trust the configured proxies, then bind a limiter of this app's own to its routes."""
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        # Only the addresses the trusted proxies appended are believed; anything a client
        # puts in X-Forwarded-For itself stays to their left and is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    limiter = Limiter(
        get_remote_address,
        on_breach=_remember_reset,
        storage_uri=storage_uri(app.config["RATELIMIT_STORAGE_URI"]),
    )
    limiter.init_app(app)
    for endpoint, limits in VIEW_LIMITS.items():
        view = limited = app.view_functions[endpoint]
        for setting, options in limits.items():
            limited = limiter.limit(_configured(setting), scope=setting.lower(), **options)(limited)
        app.view_functions[endpoint] = _limited_methods(view, limited, COUNTED_METHODS[endpoint])
    from tracker.api.views import blueprint as api_blueprint

    api_limits = []
    for setting, options in API_LIMITS.items():
        shared = limiter.shared_limit(_configured(setting), scope=setting.lower(), **options)
        shared(api_blueprint)
        api_limits.append(shared)
    if limiter.enabled:
        # Switched off (RATELIMIT_ENABLED=0), Flask-Limiter registers no hooks and has no
        # strategy or storage: there is nothing to count and nothing to gate.
        _skip_uncounted_requests(app, limiter, ApiLimits(limiter, api_limits))
    app.register_error_handler(RateLimitExceeded, _handle_rate_limited)
    app.extensions["tracker_limiter"] = limiter
    return limiter
