"""Settings for the clemency petition tracker, read from the environment.

Pick a class with ``TRACKER_CONFIG`` (development, testing, production);
``create_app`` defaults to development so a fresh clone runs with one command.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SQLITE_URL = f"sqlite:///{BASE_DIR / 'instance' / 'tracker.sqlite3'}"

#: Development-only key; production refuses to start with it (see ProductionConfig.validate).
INSECURE_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL)
    #: hide_parameters: SQL logs and database errors never show values (case data). No
    #: pool_pre_ping: a connection is pinged only after it sat idle in the pool
    #: (``tracker.database.PING_AFTER_IDLE_SECONDS``), not before every request.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"hide_parameters": True}
    #: Local zone in which time stamps are shown; they are stored in UTC.
    DISPLAY_TIMEZONE = os.environ.get("DISPLAY_TIMEZONE", "America/New_York")
    PETITIONS_PER_PAGE = _env_int("PETITIONS_PER_PAGE", 25)
    #: Days an agency has to answer a referral, by agency (issue 12), and the advocate an
    #: information request; the due date stays editable on each.
    REFERRAL_DUE_DAYS = {
        "fbi": _env_int("REFERRAL_DUE_DAYS_FBI", 120),
        "us_attorney": 30,
        "bop": 30,
        "sentencing_judge": 30,
        "victim_notification": 30,
        "other": 30,
    }
    INFORMATION_DUE_DAYS = _env_int("INFORMATION_DUE_DAYS", 30)
    #: ``flask reminders``: items due within this many days (or overdue), and undecided cases
    #: pending longer than REMINDER_PENDING_DAYS.
    REMINDER_DAYS_AHEAD = _env_int("REMINDER_DAYS_AHEAD", 7)
    REMINDER_PENDING_DAYS = _env_int("REMINDER_PENDING_DAYS", 365)
    #: A callable returning the current aware datetime (tests fix it); None: the wall clock.
    CLOCK = None
    AUDIT_ENTRIES_PER_PAGE = _env_int("AUDIT_ENTRIES_PER_PAGE", 50)
    #: Read logging (tracker.readlog). Only benchmarks turn it off; production refuses to.
    READ_LOG_ENABLED = _env_bool("READ_LOG_ENABLED", True)
    #: See ProductionConfig (off elsewhere: a test process builds hundreds of apps).
    TUNE_GARBAGE_COLLECTOR = False
    READ_LOG_ENTRIES_PER_PAGE = _env_int("READ_LOG_ENTRIES_PER_PAGE", 50)
    #: Unusual access: a user whose case reads in a day exceed this × their role's median.
    READ_LOG_UNUSUAL_FACTOR = float(os.environ.get("READ_LOG_UNUSUAL_FACTOR", "3"))
    #: A day of the read log is sealed (digested) this long after it ends (UTC).
    READ_LOG_DIGEST_GRACE = timedelta(minutes=_env_int("READ_LOG_DIGEST_GRACE_MINUTES", 10))
    #: How many of a case's readers its page lists (supervisors).
    READ_LOG_READERS_SHOWN = _env_int("READ_LOG_READERS_SHOWN", 20)
    #: Eligibility (tracker/eligibility.py): years a pardon applicant waits after release, and
    #: a denied petitioner before filing again a petition of the same kind (0: no wait).
    PARDON_WAITING_YEARS = _env_int("PARDON_WAITING_YEARS", 5)
    REAPPLICATION_WAITING_YEARS = _env_int("REAPPLICATION_WAITING_YEARS", 2)
    #: How many of the newest audit entries the web "verify" button checks.
    AUDIT_WEB_VERIFY_LIMIT = _env_int("AUDIT_WEB_VERIFY_LIMIT", 10_000)
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    #: The largest document one may attach (bytes). Only the routes that take a document
    #: accept a body this large (tracker.body_limit); every other keeps MAX_CONTENT_LENGTH.
    MAX_DOCUMENT_BYTES = _env_int("MAX_DOCUMENT_BYTES", 20 * 1024 * 1024)
    #: Where documents' bytes live: unset for instance/documents/, or s3://bucket/prefix.
    DOCUMENT_STORAGE_URL = os.environ.get("DOCUMENT_STORAGE_URL")
    #: The endpoint of an S3-compatible server (MinIO, Ceph…); unset for AWS itself.
    DOCUMENT_STORAGE_ENDPOINT_URL = os.environ.get("DOCUMENT_STORAGE_ENDPOINT_URL")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=_env_int("SESSION_IDLE_MINUTES", 30))
    #: Absolute session lifetime, whatever the activity.
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=_env_int("SESSION_ABSOLUTE_HOURS", 12))
    #: The cookie carries only the server-side session's key, whose idle and absolute
    #: timeouts the server checks (tracker.auth.sessions): it is written when it changes and
    #: lasts the absolute lifetime, not signed and sent again with every page.
    SESSION_REFRESH_EACH_REQUEST = False

    #: Throttling of wrong passwords per (e-mail, client address) and of wrong second-factor
    #: codes per account, instead of a lockout: from the Nth failure on, each failure makes
    #: the next attempt wait, LOGIN_THROTTLE_BASE doubled at each further failure, at most
    #: LOGIN_THROTTLE_MAX.
    LOGIN_THROTTLE_AFTER = _env_int("LOGIN_THROTTLE_AFTER", 5)
    LOGIN_THROTTLE_BASE = timedelta(seconds=_env_int("LOGIN_THROTTLE_BASE_SECONDS", 2))
    LOGIN_THROTTLE_MAX = timedelta(minutes=_env_int("LOGIN_THROTTLE_MAX_MINUTES", 15))
    #: Failed passwords are forgotten this long after the last one (a success forgets them).
    LOGIN_FAILURE_MEMORY = timedelta(hours=_env_int("LOGIN_FAILURE_MEMORY_HOURS", 24))

    #: Per-client rate limits (Flask-Limiter notation, "N per minute; M per hour"). The
    #: defaults leave an office behind one address room for normal work; see the README.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    #: memory:// keeps counts per process; with several app servers use one Redis
    #: (redis://host:6379/0), so every server counts the same requests.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: If that Redis cannot be reached, each process counts in memory meanwhile (and logs a
    #: warning) rather than answering 500: the limits hold, per process, until it is back.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "tracker")
    RATELIMIT_STRATEGY = "moving-window"
    #: Sign-in attempts (POST /login) per client address, and failed ones among them.
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "60 per minute; 600 per hour")
    RATELIMIT_LOGIN_FAILURES = os.environ.get(
        "RATELIMIT_LOGIN_FAILURES", "20 per minute; 100 per hour"
    )
    #: Second-factor codes per client address (the account's own throttle comes first).
    RATELIMIT_TWO_FACTOR = os.environ.get("RATELIMIT_TWO_FACTOR", "20 per minute; 100 per hour")
    #: Password changes and token creations per signed-in user.
    RATELIMIT_PASSWORD_CHANGE = os.environ.get("RATELIMIT_PASSWORD_CHANGE", "20 per hour")
    RATELIMIT_TOKEN_CREATION = os.environ.get("RATELIMIT_TOKEN_CREATION", "20 per hour")
    #: Pages anyone may read without signing in (the public statistics), per client address.
    RATELIMIT_PUBLIC_PAGES = os.environ.get("RATELIMIT_PUBLIC_PAGES", "60 per minute; 600 per hour")
    #: API requests per bearer token and per client address (scripts of a whole office).
    RATELIMIT_API_PER_TOKEN = os.environ.get("RATELIMIT_API_PER_TOKEN", "5000 per minute")
    RATELIMIT_API_PER_ADDRESS = os.environ.get("RATELIMIT_API_PER_ADDRESS", "20000 per minute")
    #: How many proxies in front of the app set X-Forwarded-For (0: none, the client
    #: address is the connection's). Set it to exactly the number you run, or clients
    #: can forge their address and dodge every per-address limit.
    TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)

    #: Repeated identical security events (failed logins, refused probes) from one client
    #: are written once per window, then once more with their count (see the README).
    AUDIT_REPEAT_WINDOW = timedelta(minutes=_env_int("AUDIT_REPEAT_WINDOW_MINUTES", 15))

    #: argon2id cost (argon2-cffi's RFC 9106 defaults; OWASP's floor is m=19 MiB, t=2).
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = _env_int("ARGON2_MEMORY_COST", 65536)  # KiB
    ARGON2_PARALLELISM = _env_int("ARGON2_PARALLELISM", 4)

    #: TOTP for reviewers and supervisors; only DevelopmentConfig lets the environment turn it off.
    TWO_FACTOR_REQUIRED = True
    TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "Clemency Tracker")
    #: Strict-Transport-Security max-age; 0 sends no header (production sets a year).
    HSTS_SECONDS = 0

    #: E-mail notifications over SMTP (see the README, "Notifications").
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)  # STARTTLS after connecting
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)  # TLS from the first byte (port 465)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get(
        "MAIL_DEFAULT_SENDER", "Clemency Tracker <no-reply@localhost>"
    )
    MAIL_TIMEOUT = _env_int("MAIL_TIMEOUT", 30)
    #: The address users open the app at: the links in e-mails start with it.
    APP_BASE_URL = os.environ.get("APP_BASE_URL", "http://127.0.0.1:5000")
    #: A failed e-mail is retried after the base delay, doubled each time (at most the
    #: maximum), and marked failed (shown to supervisors) after the last attempt.
    NOTIFICATION_MAX_ATTEMPTS = _env_int("NOTIFICATION_MAX_ATTEMPTS", 8)
    NOTIFICATION_RETRY_BASE = timedelta(seconds=_env_int("NOTIFICATION_RETRY_BASE_SECONDS", 60))
    NOTIFICATION_RETRY_MAX = timedelta(hours=_env_int("NOTIFICATION_RETRY_MAX_HOURS", 6))
    #: How long ``notifications deliver --loop`` sleeps when nothing is due.
    NOTIFICATION_POLL_SECONDS = _env_int("NOTIFICATION_POLL_SECONDS", 10)

    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    DEBUG = False
    TESTING = False

    @classmethod
    def validate(cls, settings: dict) -> None:
        """Raise RuntimeError when the settings are unsafe for this environment."""


class DevelopmentConfig(Config):
    SECRET_KEY = os.environ.get("SECRET_KEY", INSECURE_DEV_SECRET_KEY)
    #: ``TWO_FACTOR_REQUIRED=0`` keeps the demo one command (``make run`` sets it); the
    #: login page then says that the second factor is off. No other configuration reads it.
    TWO_FACTOR_REQUIRED = _env_bool("TWO_FACTOR_REQUIRED", True)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret-key-that-is-long-enough-for-tests"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    # Argon2 at production cost would dominate the suite; the parameters are
    # still argon2id and the production values are asserted in their own test.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
    # Long enough that no test outlives a wait by being slow (tests move the clock instead).
    LOGIN_THROTTLE_BASE = timedelta(minutes=1)
    LOGIN_THROTTLE_MAX = timedelta(hours=1)
    # The production limits, in memory; the suite clears the counts before each test
    # (tests/conftest.py), so only a test that means to reach a limit reaches it.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    TRUSTED_PROXY_COUNT = 0
    # Outside the checkout; content-addressed, so test runs may share it harmlessly.
    DOCUMENT_STORAGE_URL = os.environ.get(
        "TEST_DOCUMENT_STORAGE_URL", str(Path(tempfile.gettempdir()) / "tracker-test-documents")
    )


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    #: Freeze the objects built at start and collect the young ones less often
    #: (``tracker.tune_garbage_collector``): once per process, which a server's is.
    TUNE_GARBAGE_COLLECTOR = _env_bool("TUNE_GARBAGE_COLLECTOR", True)
    HSTS_SECONDS = _env_int("HSTS_SECONDS", 31_536_000)
    SQLALCHEMY_ENGINE_OPTIONS = {
        "hide_parameters": True,
        "pool_size": 5,
        "max_overflow": 5,
    }

    @classmethod
    def validate(cls, settings: dict) -> None:
        key = settings.get("SECRET_KEY")
        if not key or key == INSECURE_DEV_SECRET_KEY or len(key.encode()) < 32:
            raise RuntimeError(
                "Production needs SECRET_KEY set to a random value of at least 32 bytes "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        if settings.get("DEBUG"):
            raise RuntimeError("Production refuses to start with DEBUG on.")
        if not settings.get("READ_LOG_ENABLED"):
            raise RuntimeError("Production refuses to start with READ_LOG_ENABLED off.")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
