"""Each page of issue 15's table under load, against the floor, at a million petitions.

    python -m bench.pages --database-url sqlite:////tmp/bench/pages.sqlite3
    python -m bench.pages --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_pages
        [--petitions 1000000] [--seconds 5] [--rounds 3] [--connections 16] [--workers 2]
        [--pages queue,case,api_list,api_case,api_history,login] [--profile PAGE] [--drop]
        [--without-templates]
        (also case_advocate: an advocate's case page, of their organization's cases)

The database named is kept between runs (seeding a million petitions takes minutes): when it
has no petitions it is migrated and seeded (COPY on PostgreSQL, where the database is created
if missing; one transaction of executemany batches on SQLite), else reused as it is. Every
petition has its history: a valid audit chain of 1 to 3 entries per case (submit, then
start_review, then grant, deny or return_for_information as its stage says). ``--drop``
removes the database at the end.

Two servers run side by side under gunicorn (``--workers`` sync workers each): the tracker
(production configuration, read logging on, the API's rate limits raised so they count but
never refuse) and the floor (``bench.floor_app``: bare Flask + SQLAlchemy running the page's
own query). wrk loads one page at a time for ``--seconds`` with ``--connections`` connections,
floor and tracker alternating which goes first, in ``--rounds`` interleaved rounds. Case pages
pick a random case of the reader's among 2,000 on each request. Reported per page: median
req/s over the rounds, p50 and p99 latency (median over rounds), the ratio tracker / floor
of those medians, the same ratio taken within each round (the two sides measured one after the
other, so a slow spell of a shared machine touches both: its median and range over the rounds
show how far the figure can be trusted), and the SQL statements of one request of each page
in-process (after a warm-up request).

``--without-templates`` serves ``bench.without_templates`` in the tracker's place: the same app
with no template rendered (each page a fixed text), so the ratios show the most a cheaper
template could give a page.
"""

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, func, insert, select, update

from bench.queue import FAR, petition_row
from tracker import create_app
from tracker.audit import services as audit
from tracker.audit.models import AuditChainHead, AuditEntry
from tracker.auth import services as auth_services
from tracker.auth import tokens
from tracker.auth.models import User, UserSession
from tracker.deadlines.models import Referral
from tracker.extensions import db
from tracker.petitions.models import Petition, petitioner_key
from tracker.petitions.search import search_text

PASSWORD = "bench password 1"
BATCH = 20_000
USER_AGENT = "tracker-bench"
#: The API's rate limits, counted but never reached: the bench's one token asks thousands of
#: times a second.
RAISED_API_LIMITS = {
    "RATELIMIT_API_PER_TOKEN": "100000000 per minute",
    "RATELIMIT_API_PER_ADDRESS": "100000000 per minute",
}
ROOT = Path(__file__).resolve().parent.parent
#: page: (tracker path, floor path, who asks); {case} is replaced by a random case number.
PAGES = {
    "queue": ("/petitions?stage=under_review", "/queue/under_review", "reviewer"),
    "case": ("/petitions/{case}", "/case_page/{case}", "reviewer"),
    "case_advocate": ("/petitions/{case}", "/case_page/{case}", "advocate"),
    "api_list": ("/api/v1/petitions?stage=under_review", "/queue/under_review", "token"),
    "api_case": ("/api/v1/petitions/{case}", "/case/{case}", "token"),
    "api_history": ("/api/v1/petitions/{case}/history", "/history/{case}", "token"),
    "login": ("/login", "/hello", "anonymous"),
}
#: The pages of the issue's table, run unless --pages names others (case_advocate: an
#: advocate's case page, of their organization's cases).
ISSUE_PAGES = [page for page in PAGES if page != "case_advocate"]


# --- seeding ------------------------------------------------------------------------------------


def _history(row: dict, petition_id: int, reviewer_id: int) -> list[dict]:
    """The audit entries that brought the petition to its stage."""
    created = row["created_at"]
    entries = [
        {"action": "submit", "actor_id": row["advocate_id"], "to_stage": "received"},
    ]
    if row["stage"] != "received":
        entries.append(
            {"action": "start_review", "actor_id": reviewer_id, "from_stage": "received"}
            | {"to_stage": "under_review"}
        )
    moves = {
        "granted": "grant",
        "denied": "deny",
        "information_requested": "return_for_information",
    }
    if row["stage"] in moves:
        entries.append(
            {"action": moves[row["stage"]], "actor_id": reviewer_id, "reason": "r"}
            | {"from_stage": "under_review", "to_stage": row["stage"]}
        )
    for version, entry in enumerate(entries, start=1):
        entry |= {
            "created_at": created + timedelta(hours=version),
            "category": "case",
            "petition_id": petition_id,
            "details": {"version": version},
        }
    row["version"] = len(entries)
    return entries


def _chain(entries: list[dict], last_id: int, last_hash: str) -> tuple[int, str]:
    for entry in entries:
        last_id += 1
        for name in audit.HASHED_COLUMNS:
            entry.setdefault(name, None)
        entry |= {"id": last_id, "prev_hash": last_hash, "ip_address": None, "user_agent": None}
        entry["entry_hash"] = last_hash = audit.entry_hash(entry)
    return last_id, last_hash


def _copy(connection, table, rows: list[dict]) -> None:
    """PostgreSQL: COPY the rows into the table (JSON as text, values as psycopg adapts them)."""
    columns = list(rows[0])
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(
                    [json.dumps(row[c]) if isinstance(row[c], dict) else row[c] for c in columns]
                )


def _write(rows: list[dict], table) -> None:
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
    else:
        connection.execute(insert(table), rows)


def seed(count: int) -> None:
    """People, then ``count`` petitions with their histories and a referral in 100, in one
    transaction."""
    organizations = [auth_services.create_organization(None, f"Org {n}") for n in (1, 2)]
    advocates = [
        auth_services.create_user(
            None,
            email=f"a{n}@example.org",
            name=f"Advocate {n}",
            role="advocate",
            password=PASSWORD,
            organization=organization,
        )
        for n, organization in enumerate(organizations)
    ]
    reviewers = [
        auth_services.create_user(
            None,
            email=f"r{n}@example.org",
            name=f"Reviewer {n}",
            role="reviewer",
            password=PASSWORD,
        )
        for n in range(20)
    ]
    db.session.flush()
    if db.engine.dialect.name == "sqlite":
        # Random-order inserts (the entries' unique hashes) stay in memory: 1 GiB of cache.
        db.session.execute(sa.text("PRAGMA cache_size = -1000000"))
    head = db.session.get(AuditChainHead, audit.CHAIN_HEAD_ID)
    last_id, last_hash = head.last_entry_id, head.last_hash
    rng = random.Random(7)
    start = time.perf_counter()
    for first in range(0, count, BATCH):
        petitions, entries, referrals = [], [], []
        for number in range(first, min(count, first + BATCH)):
            row = petition_row(number, rng, organizations, advocates, reviewers)
            row["id"] = number + 1
            row["petitioner_key"] = petitioner_key(row)
            row["search_text"] = search_text(row)
            reviewer_id = row["assignee_id"] or reviewers[0].id
            entries += _history(row, row["id"], reviewer_id)
            petitions.append(row)
            if number % 100 == 0:
                row["referral_due_on"] = date(2025, 5, 1) if number % 300 == 0 else FAR
                referrals.append(
                    {
                        "petition_id": row["id"],
                        "agency": "fbi",
                        "sent_on": date(2025, 1, 1),
                        "due_on": row["referral_due_on"],
                        "created_by_id": reviewers[0].id,
                        "created_at": row["created_at"],
                    }
                )
        last_id, last_hash = _chain(entries, last_id, last_hash)
        _write(petitions, Petition.__table__)
        _write(entries, AuditEntry.__table__)
        _write(referrals, Referral.__table__)
        done = min(count, first + BATCH)
        print(f"  {done:,} petitions ({time.perf_counter() - start:.0f} s)", flush=True)
    db.session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == audit.CHAIN_HEAD_ID)
        .values(last_entry_id=last_id, last_hash=last_hash)
    )
    if db.engine.dialect.name == "postgresql":
        for table in ("petition", "audit_entry", "referral"):
            db.session.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
            )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


def prepare_database(url: str) -> None:
    """Create the PostgreSQL database if missing (a SQLite file's folder)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
        if not exists:
            connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    admin.dispose()


def drop_database(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    admin.dispose()


# --- credentials --------------------------------------------------------------------------------


def _session_key(user: User, now: datetime) -> str:
    """A new signed-in session of ``user`` (second factor given); its key."""
    key = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            second_factor_at=now,
            ip_address="127.0.0.1",
            user_agent=USER_AGENT,
        )
    )
    return key


def credentials(app) -> dict:
    """Signed-in session cookies of a reviewer and an advocate, an API token, and cases (the
    advocate's: of their organization)."""
    reviewer = db.session.scalar(select(User).where(User.email == "r3@example.org"))
    advocate = db.session.scalar(select(User).where(User.email == "a0@example.org"))
    now = datetime.now(UTC)
    keys = {"reviewer": _session_key(reviewer, now), "advocate": _session_key(advocate, now)}
    _token, plaintext = tokens.create_token(reviewer, f"bench {now.isoformat()}")
    total = db.session.scalar(select(func.max(Petition.id)))
    rng = random.Random(5)
    cases = [
        db.session.scalar(select(Petition.case_number).where(Petition.id == rng.randint(1, total)))
        for _ in range(2000)
    ]
    # The advocate's: random cases kept when of their organization (half are), each read by
    # its id (a filter on the organization made SQLite read the organization's index).
    advocate_cases = []
    while len(advocate_cases) < 2000:
        row = db.session.execute(
            select(Petition.case_number, Petition.organization_id).where(
                Petition.id == rng.randint(1, total)
            )
        ).one_or_none()
        if row is not None and row.organization_id == advocate.organization_id:
            advocate_cases.append(row.case_number)
    user_ids = {"reviewer": reviewer.id, "advocate": advocate.id}
    db.session.commit()
    db.session.close()  # no transaction left open here while the servers run
    from flask_login.utils import _create_identifier

    with app.test_request_context(
        environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": USER_AGENT}
    ):
        identifier = _create_identifier()
    serializer = app.session_interface.get_signing_serializer(app)
    # As a browser's cookie is after its first page: with the session's CSRF secret, which
    # the first form on a page puts there (Flask-WTF's ``generate_csrf``). Without it every
    # page would make a new one and send the cookie back re-signed, which no browser asks for
    # twice.
    cookies = {
        who: serializer.dumps(
            {
                "sid": keys[who],
                "_user_id": str(user_ids[who]),
                "_fresh": True,
                "_id": identifier,
                "csrf_token": secrets.token_hex(20),
            }
        )
        for who in keys
    }
    name = app.config["SESSION_COOKIE_NAME"]
    return {
        "reviewer": {"Cookie": f"{name}={cookies['reviewer']}"},
        "advocate": {"Cookie": f"{name}={cookies['advocate']}"},
        "token": {"Authorization": f"Bearer {plaintext}"},
        "anonymous": {},
        "cases": cases,
        "advocate_cases": advocate_cases,
    }


def cases_of(who: dict, asker: str) -> list[str]:
    """The cases a page asks for: an advocate's of their organization, else any."""
    return who["advocate_cases"] if asker == "advocate" else who["cases"]


# --- servers and load ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(application: str, environment: dict, workers: int, log: Path):
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    process = subprocess.Popen(
        [gunicorn, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", application],
        cwd=ROOT,
        env=os.environ | environment,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if process.poll() is not None:
                raise RuntimeError(f"{application} exited; see {log}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(
    base: str, path: str, headers: dict, cases: list[str], args, workdir: Path, seconds=None
) -> dict:
    """Load one page; returns req/s, p50 and p99 (ms) and the count of non-2xx answers."""
    script = workdir / "paths.lua"
    paths = [path.format(case=case) for case in cases] if "{case}" in path else [path]
    script.write_text(
        "local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        "request = function() return wrk.format(nil, paths[math.random(#paths)]) end\n"
    )
    command = [
        "wrk",
        f"-t{min(2, args.connections)}",
        f"-c{args.connections}",
        f"-d{seconds or args.seconds}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        "-H",
        f"User-Agent: {USER_AGENT}",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, base], capture_output=True, text=True, check=True).stdout
    latencies = {int(q): float(v) * UNITS[u] for q, v, u in LATENCY.findall(output)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latencies.get(50, float("nan")),
        "p99": latencies.get(99, float("nan")),
        "errors": int(errors.group(1)) if errors else 0,
    }


class FreshContextClient(FlaskClient):
    """Every request in its own app context (its own session), as under a server."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def statements_per_request(app, path: str, headers: dict) -> int:
    client = FreshContextClient(app, app.response_class, use_cookies=False)
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    headers = {"User-Agent": USER_AGENT, **headers}
    client.get(path, headers=headers, environ_base=environ)  # warm-up: templates, caches
    sent = []
    listener = lambda *a: sent.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        response = client.get(path, headers=headers, environ_base=environ)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert response.status_code == 200, (path, response.status_code)
    return len(sent)


def profile(app, path: str, headers: dict, views: int) -> None:
    """Print a pyinstrument profile of ``views`` in-process requests of one page."""
    from pyinstrument import Profiler  # pip install pyinstrument (not a dependency)

    client = FreshContextClient(app, app.response_class, use_cookies=False)
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    headers = {"User-Agent": USER_AGENT, **headers}
    client.get(path, headers=headers, environ_base=environ)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(views):
        client.get(path, headers=headers, environ_base=environ)
    elapsed = (time.perf_counter() - start) / views * 1000
    cpu = (time.process_time() - cpu) / views * 1000
    print(f"{path}: {elapsed:.2f} ms wall, {cpu:.2f} ms CPU per request in-process (no profiler)")
    start, cpu = time.perf_counter(), time.process_time()
    with Profiler(interval=0.0002) as profiler:
        for _ in range(views):
            client.get(path, headers=headers, environ_base=environ)
    elapsed = (time.perf_counter() - start) / views * 1000
    cpu = (time.process_time() - cpu) / views * 1000
    print(profiler.output_text(unicode=True, color=False, show_all=True))
    # On a loaded machine the wall time is mostly waiting for a core (the database's too):
    # the CPU time is this process's own work.
    print(f"{path}: {elapsed:.2f} ms wall, {cpu:.2f} ms CPU per request in-process (profiled)")
    import cProfile
    import pstats

    cpu_profile = cProfile.Profile(time.process_time)
    cpu_profile.enable()
    for _ in range(views):
        client.get(path, headers=headers, environ_base=environ)
    cpu_profile.disable()
    stats = pstats.Stats(cpu_profile)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)


def paired_ratios(floor: list[dict], tracker: list[dict]) -> list[float]:
    """Tracker / floor req/s within each round (results in round order)."""
    return [t["rps"] / f["rps"] for f, t in zip(floor, tracker, strict=True)]


def report_round(round_number: int, page: str, side: str, result: dict) -> None:
    errors = f"  NON-2XX {result['errors']}" if result["errors"] else ""
    print(
        f"  round {round_number + 1} {page:<12} {side:<8} {result['rps']:8.1f} req/s"
        f"  p50 {result['p50']:7.1f} ms  p99 {result['p99']:7.1f} ms{errors}",
        flush=True,
    )


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--database-url", required=True)
    args.add_argument("--petitions", type=int, default=1_000_000)
    args.add_argument("--seconds", type=int, default=5)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--connections", type=int, default=16)
    args.add_argument("--workers", type=int, default=2)
    args.add_argument("--pages", default=",".join(ISSUE_PAGES))
    args.add_argument("--drop", action="store_true", help="drop the database at the end")
    args.add_argument("--seed-only", action="store_true", help="seed (if empty) and stop")
    args.add_argument("--profile", metavar="PAGE", help="profile PAGE in-process and stop")
    args.add_argument(
        "--without-templates",
        action="store_true",
        help="serve the tracker with no template rendered (bench.without_templates)",
    )
    arguments = args.parse_args()
    # A terminated run still stops its servers (the context managers' finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk).")
    if arguments.without_templates and "login" in arguments.pages.split(","):
        # Its kept HTML is checked for the CSRF token's place, which the fixed text lacks.
        sys.exit("--without-templates: leave out login (its page is written from a kept copy).")
    url = arguments.database_url
    secret = secrets.token_urlsafe(48)
    environment = {
        "TRACKER_CONFIG": "production",
        "SECRET_KEY": secret,
        "DATABASE_URL": url,
        "SESSION_COOKIE_SECURE": "0",
        **RAISED_API_LIMITS,
    }
    prepare_database(url)
    os.environ.update(environment)
    app = create_app("production", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=secret)
    with app.app_context():
        upgrade()
        present = db.session.scalar(select(func.count()).select_from(Petition))
        if not present:
            start = time.perf_counter()
            seed(arguments.petitions)
            print(
                f"seeded {arguments.petitions:,} petitions in {time.perf_counter() - start:.0f} s"
            )
        entries = db.session.scalar(select(func.count()).select_from(AuditEntry))
        present = db.session.scalar(select(func.count()).select_from(Petition))
        print(
            f"database: {db.engine.dialect.name}, {present:,} petitions, {entries:,} audit entries"
        )
        if arguments.seed_only:
            return
        who = credentials(app)
        if arguments.profile:
            tracker_path, _, asker = PAGES[arguments.profile]
            profile(app, tracker_path.format(case=cases_of(who, asker)[0]), who[asker], 300)
            return
        pages = arguments.pages.split(",")
        statements = {
            page: statements_per_request(
                app,
                PAGES[page][0].format(case=cases_of(who, PAGES[page][2])[0]),
                who[PAGES[page][2]],
            )
            for page in pages
        }
        db.session.remove()
        db.engine.dispose()
    tracker_application = (
        "bench.without_templates:create_app()"
        if arguments.without_templates
        else "tracker:create_app()"
    )
    results = {(page, side): [] for page in pages for side in ("floor", "tracker")}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        floor_env = {"DATABASE_URL": url}
        with (
            server(
                "bench.floor_app:app", floor_env, arguments.workers, workdir / "floor.log"
            ) as floor,
            server(
                tracker_application, environment, arguments.workers, workdir / "tracker.log"
            ) as tracker,
        ):
            for page in pages:  # warm-up: workers started, templates compiled, caches filled
                tracker_path, floor_path, asker = PAGES[page]
                cases = cases_of(who, asker)
                run_wrk(floor, floor_path, {}, cases, arguments, workdir, seconds=2)
                run_wrk(tracker, tracker_path, who[asker], cases, arguments, workdir, 2)
            for round_number in range(arguments.rounds):
                for page in pages:
                    tracker_path, floor_path, asker = PAGES[page]
                    sides = [
                        ("floor", floor, floor_path, {}),
                        ("tracker", tracker, tracker_path, who[asker]),
                    ]
                    if round_number % 2:
                        sides.reverse()
                    for side, base, path, headers in sides:
                        cases = cases_of(who, asker)
                        result = run_wrk(base, path, headers, cases, arguments, workdir)
                        results[page, side].append(result)
                        report_round(round_number, page, side, result)
    backend = sa.make_url(url).get_backend_name()
    print(
        f"\n{arguments.rounds} rounds × {arguments.seconds} s, {arguments.connections} "
        f"connections, {arguments.workers} gunicorn workers each, {present:,} petitions "
        f"({backend}){'; tracker WITHOUT TEMPLATES' if arguments.without_templates else ''}; "
        "statements: every one sent, transaction control included:\n"
    )
    print(
        "| page | floor req/s | tracker req/s | ratio | ratio within a round: median (range) "
        "| tracker p50 / p99 ms | floor p50 / p99 ms | statements |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for page in pages:
        median = {
            side: {
                k: statistics.median(r[k] for r in results[page, side])
                for k in ("rps", "p50", "p99")
            }
            for side in ("floor", "tracker")
        }
        floor, tracker = median["floor"], median["tracker"]
        paired = paired_ratios(results[page, "floor"], results[page, "tracker"])
        print(
            f"| {page} | {floor['rps']:,.0f} | {tracker['rps']:,.0f} "
            f"| {tracker['rps'] / floor['rps']:.2f} "
            f"| {statistics.median(paired):.2f} ({min(paired):.2f}–{max(paired):.2f}) "
            f"| {tracker['p50']:.1f} / {tracker['p99']:.1f} "
            f"| {floor['p50']:.1f} / {floor['p99']:.1f} | {statements[page]} |"
        )
    if arguments.drop:
        drop_database(url)


if __name__ == "__main__":
    main()
