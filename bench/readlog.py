"""The cost of read logging on the case page, in-process, at a million petitions.

    python -m bench.readlog [--petitions 1000000] [--reads 1000000] [--views 200]
                            [--rounds 5] [--database-url postgresql+psycopg://…]

Seeds the petitions as ``bench.queue`` does (and ``--reads`` read log entries, so the log is
not empty), signs in an advocate, a reviewer and a supervisor through the real pages
(staff enrol their second factor with pyotp), then loads case pages with the app's test
client, in interleaved rounds with read logging off (``READ_LOG_ENABLED``) and on: each
round views ``--views`` different cases per person in each mode. Prints the median time per
view of each mode, the difference (the cost of logging a read) and the SQL statements per
view. The supervisor's page also lists who has read the case (a query the others skip). The
time of the read log's own write (the pipeline's transaction apart, after the response) is
also measured alone, since on a loaded machine the page's own jitter hides it.
"""

import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from html import unescape

import pyotp
from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import event, insert, text

from bench.common import parser, scratch_app
from bench.queue import fill
from tracker import pipeline
from tracker.auth import services as auth_services
from tracker.extensions import db
from tracker.readlog.models import ReadLogEntry

PASSWORD = "bench password 1"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECRET = re.compile(r'<code class="user-select-all">([A-Z2-7]+)</code>')
BATCH = 50_000


def case_number(number: int) -> str:
    return f"CP-{2021 + number // 250_000}-{number:07d}"


def fill_reads(count: int, petitions: int, user_ids: list[int]) -> None:
    rng = random.Random(11)
    start = datetime.now(UTC) - timedelta(days=365)
    written = 0
    first_id = db.session.scalar(text("SELECT min(id) FROM petition"))
    while written < count:
        rows = [
            {
                "created_at": start + timedelta(seconds=number * 30),
                "user_id": rng.choice(user_ids),
                "interface": "web",
                "kind": "case_page",
                "petition_id": first_id + rng.randrange(petitions),
                "document_id": None,
                "reader_assigned": False,
                "ip_address": "10.0.0.1",
                "details": None,
            }
            for number in range(written, min(count, written + BATCH))
        ]
        db.session.execute(insert(ReadLogEntry), rows)
        db.session.commit()
        written += len(rows)
        print(f"  {written:,} reads", flush=True)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()


class FreshContextClient(FlaskClient):
    """Every request in its own app context, as under a server (the bench holds one open)."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def sign_in(app, email: str):
    """A test client signed in through the login page (and the second-factor enrolment)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": CSRF.search(page).group(1)},
    )
    if "/account/two-factor/setup" in response.headers.get("Location", ""):
        page = client.get("/account/two-factor/setup").get_data(as_text=True)
        code = pyotp.TOTP(SECRET.search(page).group(1)).now()
        response = client.post(
            "/account/two-factor/setup",
            data={"code": code, "csrf_token": unescape(CSRF.search(page).group(1))},
        )
        assert response.status_code == 200, response.status_code
    assert client.get("/petitions").status_code == 200
    return client


#: Time spent writing reads after the response (the pipeline's writes apart), per view.
LOGGING_TIMES: list[float] = []


def time_writes_apart() -> None:
    """Wrap the pipeline's writes apart so their time (the read log's own transaction) is
    measured alone, without the noise of rendering the page around it."""
    run_apart = pipeline._run_apart

    def timed(status: int) -> None:
        start = time.perf_counter()
        run_apart(status)
        if current_app.config["READ_LOG_ENABLED"]:
            LOGGING_TIMES.append(time.perf_counter() - start)

    pipeline._run_apart = timed


def view_round(app, client, numbers: list[int], enabled: bool) -> list[float]:
    app.config["READ_LOG_ENABLED"] = enabled
    durations = []
    for number in numbers:
        start = time.perf_counter()
        response = client.get(f"/petitions/{case_number(number)}")
        durations.append(time.perf_counter() - start)
        assert response.status_code == 200, (case_number(number), response.status_code)
    return durations


def statements_per_view(app, client, number: int, enabled: bool) -> int:
    app.config["READ_LOG_ENABLED"] = enabled
    sent = []

    def listener(*args):
        sent.append(args[2])

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        client.get(f"/petitions/{case_number(number)}")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(sent)


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--petitions", type=int, default=1_000_000)
    args.add_argument("--reads", type=int, default=1_000_000)
    args.add_argument("--views", type=int, default=200)
    args.add_argument("--rounds", type=int, default=5)
    arguments = args.parse_args()
    with scratch_app(arguments.database_url) as app:
        app.config["RATELIMIT_ENABLED"] = False
        app.test_client_class = FreshContextClient
        organizations = [auth_services.create_organization(None, f"Org {n}") for n in (1, 2)]
        advocates = [
            auth_services.create_user(
                None,
                email=f"a{n}@example.org",
                name="A",
                role="advocate",
                password=PASSWORD,
                organization=organization,
            )
            for n, organization in enumerate(organizations)
        ]
        reviewers = [
            auth_services.create_user(
                None, email=f"r{n}@example.org", name="R", role="reviewer", password=PASSWORD
            )
            for n in range(20)
        ]
        supervisor = auth_services.create_user(
            None, email="s@example.org", name="S", role="supervisor", password=PASSWORD
        )
        db.session.commit()
        start = time.perf_counter()
        fill(arguments.petitions, organizations, advocates, reviewers)
        print(f"wrote {arguments.petitions:,} petitions in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        user_ids = [u.id for u in [*reviewers, supervisor, *advocates]]
        fill_reads(arguments.reads, arguments.petitions, user_ids)
        print(f"wrote {arguments.reads:,} reads in {time.perf_counter() - start:.1f} s")
        emails = {
            "advocate": advocates[0].email,
            "reviewer": reviewers[3].email,
            "supervisor": supervisor.email,
        }
        db.session.remove()
        people = {who: sign_in(app, email) for who, email in emails.items()}
        rng = random.Random(3)
        results = {(who, mode): [] for who in people for mode in (False, True)}
        for client in people.values():  # warm up: templates compiled, caches filled
            view_round(app, client, [0, 2, 4], True)
            view_round(app, client, [6, 8, 10], False)
        time_writes_apart()
        LOGGING_TIMES.clear()
        for _ in range(arguments.rounds):
            for who, client in people.items():
                for mode in (False, True) if rng.random() < 0.5 else (True, False):
                    # Advocates see their organization's cases: the even numbers.
                    numbers = [
                        rng.randrange(arguments.petitions // 2) * 2 for _ in range(arguments.views)
                    ]
                    results[who, mode] += view_round(app, client, numbers, mode)
        print(
            f"\ncase page, in-process, {arguments.petitions:,} petitions and {arguments.reads:,} "
            f"reads, {db.engine.dialect.name}; median of {arguments.rounds} × {arguments.views} "
            "views per mode:"
        )
        ordered = sorted(LOGGING_TIMES)
        print(
            f"  writing the read (its own transaction, after the response), per view: "
            f"median {statistics.median(ordered) * 1000:.3f} ms, "
            f"mean {statistics.fmean(ordered) * 1000:.3f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99)] * 1000:.3f} ms over {len(ordered)} views"
        )
        for who, client in people.items():
            off = statistics.median(results[who, False]) * 1000
            on = statistics.median(results[who, True]) * 1000
            statements_off = statements_per_view(app, client, 12, False)
            statements_on = statements_per_view(app, client, 14, True)
            print(
                f"  {who:<10} without logging {off:6.2f} ms   with logging {on:6.2f} ms   "
                f"cost {on - off:+5.2f} ms   statements {statements_off} → {statements_on}"
            )


if __name__ == "__main__":
    main()
