"""A bounded load test: gunicorn workers on PostgreSQL, concurrent API users, then checks.

    python -m bench.load_test [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                              [--users 50] [--seconds 60] [--workers 4]

Builds a scratch database with the migrations on that PostgreSQL server (dropped at the end),
seeds a few hundred petitions through the services (CSV imports, bulk start_review, grants and
denials) and gives every simulated user an account of their own and an API token
(``tracker.auth.tokens``): 40 % advocates across two organizations, 50 % reviewers, 10 %
supervisors. Then it starts ``gunicorn --workers N 'tracker:create_app()'`` in the production
configuration (a random SECRET_KEY) on a free port of 127.0.0.1, and every user, a thread with
its own keep-alive connection, loops until the deadline:

- queue reads: GET /api/v1/petitions with filters (stage, kind, q, assignee) and cursor paging;
- case reads: GET one petition, and its /history;
- edits: PATCH with If-Match (advocates on their own received cases, staff on undecided ones);
- transitions: start_review, grant, deny, return_for_information, and reopen by supervisors;
- contention: every couple of seconds a supervisor puts one case of a small hot set back under
  review, and the reviewers who notice read it and then all grant or deny it at the same
  instant (a shared event releases them together).

Afterwards: requests, throughput, latency percentiles overall and per kind of request, the
count of each status and of each (kind, status), and the checks, each PASS or FAIL (zero 5xx;
every successful transition has exactly one audit entry and every transition entry a success;
the audit chain verifies; no petition in an impossible state; per hot case, successful
grant/deny responses equal grant/deny entries). Exits 1 if any check fails. gunicorn is
stopped and the scratch database dropped whatever happens.
"""

import argparse
import contextlib
import csv
import http.client
import io
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy import select

from bench.common import scratch_app
from tracker.audit import services as audit
from tracker.audit.models import CASE_CATEGORY, AuditChainHead, AuditEntry
from tracker.audit.replay import current_state, replay
from tracker.auth import services as auth_services
from tracker.auth import tokens
from tracker.extensions import db
from tracker.petitions import importing
from tracker.petitions import services as petition_services
from tracker.petitions.models import EDITABLE_FIELDS, Petition
from tracker.workflow import DECIDED_STAGES, PETITION_TRANSITIONS, TRANSITIONS_BY_NAME, Stage

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
PASSWORD = "bench-password-long-enough"
HOST = "127.0.0.1"
API = "/api/v1"
#: No request may hang longer than this (gunicorn's own worker timeout is 30 s).
REQUEST_TIMEOUT = 30.0
#: Hot rounds: reviewers may join for this long after a round is armed, then all fire at once.
JOIN_WINDOW = 1.0
#: Pause between one round's firing and the arming of the next.
ROUND_GAP = 1.0
TRANSITION_ACTIONS = tuple(t.name for t in PETITION_TRANSITIONS)
DECIDED = tuple(s.value for s in DECIDED_STAGES)
READ_KINDS = ("list", "get", "history", "hot get")
#: Statuses each kind of request may get under contention, and why.
EXPLAINED = {
    403: "the case left a stage this user may edit between reading it and the PATCH",
    409: "wrong stage: another user moved the case first",
    412: "stale If-Match: the case changed since it was read",
}


def expected_statuses(kind: str) -> set[int]:
    if kind in READ_KINDS:
        return {200}
    if kind == "edit":
        return {200, 403, 412}
    return {200, 409, 412}  # transitions


# --- seeding ------------------------------------------------------------------------------------


@dataclass
class Account:
    index: int
    email: str
    role: str
    organization: str | None
    token: str = ""


@dataclass
class Seeded:
    accounts: list[Account]
    #: case number -> (stage, version, organization, advocate e-mail) when the run starts
    cases: dict[str, tuple[str, int, str, str]]
    hot: list[str]
    #: the chain's last entry id before the run: entries after it were written by the run
    baseline_entry_id: int


SURNAMES = ("Alvarez", "Brown", "Chen", "Douglas", "Evans", "Fischer", "Garcia", "Hughes")


def petition_csv(start: int, count: int) -> bytes:
    """Valid petitions, pardons and commutations, each with its own register number."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EDITABLE_FIELDS)
    for n in range(start, start + count):
        pardon = n % 3 == 0
        writer.writerow(
            [
                "pardon" if pardon else "commutation",
                f"Petitioner {n:04d} {SURNAMES[n % len(SURNAMES)]}",
                f"{70000 + n // 1000:05d}-{n % 1000:03d}",
                (date(1960, 1, 1) + timedelta(days=37 * n % 9000)).isoformat(),
                "Conspiracy to distribute cocaine base (21 U.S.C. § 846)",
                "District of Maryland",
                "240 months' imprisonment",
                "2006-03-15",
                "released" if pardon else "in_prison",
                "" if pardon else "2031-06-01",
                "Would receive a far shorter sentence today; exemplary record in custody.",
            ]
        )
    return out.getvalue().encode()


def role_counts(users: int) -> tuple[int, int, int]:
    """(advocates, reviewers, supervisors): 40 %, 50 %, 10 %."""
    supervisors = max(1, round(users * 0.1))
    advocates = max(2, round(users * 0.4))
    reviewers = users - advocates - supervisors
    if reviewers < 2:
        raise SystemExit("--users must be at least 5 (advocates, reviewers and a supervisor)")
    return advocates, reviewers, supervisors


def seed(users: int, case_count: int, hot_count: int, rng: random.Random) -> Seeded:
    """Accounts, tokens and petitions, all through the services; committed."""
    advocates_n, reviewers_n, supervisors_n = role_counts(users)
    organizations = [
        auth_services.create_organization(None, name)
        for name in ("Load Test Defenders", "Load Test Clinic")
    ]
    people, accounts = [], []
    roles = ["advocate"] * advocates_n + ["reviewer"] * reviewers_n
    roles += ["supervisor"] * supervisors_n
    for index, role in enumerate(roles):
        organization = organizations[index % 2] if role == "advocate" else None
        user = auth_services.create_user(
            None,
            email=f"{role}{index:03d}@load.example",
            name=f"{role.capitalize()} {index}",
            role=role,
            password=PASSWORD,
            organization=organization,
        )
        people.append(user)
        accounts.append(
            Account(index, user.email, role, organization.name if organization else None)
        )
    db.session.commit()

    advocates = [p for p in people if p.role == "advocate"]
    staff = [p for p in people if p.role != "advocate"]
    numbers: list[str] = []
    start = 0
    for i, advocate in enumerate(advocates):
        count = case_count // len(advocates) + (i < case_count % len(advocates))
        rows = importing.read_csv(petition_csv(start, count))
        numbers += petition_services.import_petitions(advocate, rows)
        db.session.commit()
        start += count

    shuffled = rng.sample(numbers, len(numbers))
    under_review = shuffled[: int(len(numbers) * 0.6)]
    decided = int(len(numbers) * 0.2)
    petition_services.decide_petitions(staff[0], "start_review", None, dict.fromkeys(under_review))
    db.session.commit()
    for action, chunk in (
        ("grant", under_review[: decided // 2]),
        ("deny", under_review[decided // 2 : decided]),
    ):
        petition_services.decide_petitions(
            staff[1], action, f"Seeded {action}.", dict.fromkeys(chunk)
        )
        db.session.commit()
    hot = under_review[decided : decided + hot_count]

    for account, user in zip(accounts, people, strict=True):
        _, account.token = tokens.create_token(user, "load test")
    db.session.commit()

    cases = {
        p.case_number: (p.stage, p.version, p.organization.name, p.advocate.email)
        for p in db.session.scalars(select(Petition))
    }
    baseline = db.session.scalar(select(AuditChainHead.last_entry_id))
    db.session.commit()
    return Seeded(accounts, cases, hot, baseline)


# --- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn_server(database_url: str, workers: int, log_path: Path):
    """gunicorn serving the app in production configuration; terminated on the way out."""
    port = free_port()
    env = os.environ | {
        "TRACKER_CONFIG": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),  # 48 random bytes
        "DATABASE_URL": database_url,
    }
    command = [
        str(GUNICORN),
        "--workers",
        str(workers),
        "--bind",
        f"{HOST}:{port}",
        "tracker:create_app()",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        _wait_until_ready(process, port, log_path)
        print(f"server: {' '.join(command[1:])} (pid {process.pid})", flush=True)
        yield port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        print(f"server stopped (exit status {process.returncode})", flush=True)


def _wait_until_ready(process: subprocess.Popen, port: int, log_path: Path) -> None:
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{log_path.read_text()[-3000:]}")
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", f"{API}/openapi.json")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within 30 s:\n{log_path.read_text()[-3000:]}")


# --- the simulated users ------------------------------------------------------------------------


@dataclass
class Outcome:
    """A transition or edit the client sent, and what the server answered."""

    case_number: str
    action: str  # a transition's name, or "edit"
    status: int
    version: int | None  # the version in a 2xx response
    stage: str | None  # the stage in a 2xx response
    etag: str | None
    hot_round: int | None = None


class Api:
    """One user's keep-alive HTTP connection to the server; times every request."""

    def __init__(self, port: int, token: str, deadline: float):
        self.connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": "bench.load_test",
        }
        self.deadline = deadline
        self.samples: list[tuple[str, int, float]] = []  # (kind, status, seconds)
        self.transport_errors: list[str] = []
        self.connections_opened = 0

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def call(self, kind, method, path, body=None, if_match=None):
        """(status, JSON document or None, ETag); status -1 when the deadline has passed."""
        if self.expired:
            return -1, None, None
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        if self.connection.sock is None:
            self.connections_opened += 1  # the server closed the last one (or first request)
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.samples.append((kind, 0, time.perf_counter() - started))
            self.transport_errors.append(f"{method} {path}: {error!r}")
            return 0, None, None
        self.samples.append((kind, response.status, time.perf_counter() - started))
        document = None
        if data and "json" in (response.getheader("Content-Type") or ""):
            document = json.loads(data)
        return response.status, document, response.getheader("ETag")

    def close(self):
        self.connection.close()


class HotRounds:
    """Rounds of contention on the hot cases: armed by one supervisor, joined by reviewers."""

    def __init__(self, cases: list[str], first_at: float):
        self.cases = cases
        self.lock = threading.Lock()
        self.number = -1
        self.case: str | None = None
        self.fire_at = 0.0
        self.fire = threading.Event()
        self.joined: set[int] = set()
        self.next_at = first_at
        self.participants: Counter = Counter()

    def due(self) -> bool:
        return bool(self.cases) and time.monotonic() >= self.next_at

    def next_case(self) -> str:
        return self.cases[(self.number + 1) % len(self.cases)]

    def arm(self, case: str) -> tuple[float, threading.Event]:
        with self.lock:
            self.number += 1
            self.case = case
            self.fire_at = time.monotonic() + JOIN_WINDOW
            self.fire = threading.Event()
            self.joined = set()
            return self.fire_at, self.fire

    def join(self, who: int):
        """(round, case, fire_at, event) if a round is open for this reviewer, else None."""
        with self.lock:
            if self.case is None or who in self.joined or self.fire.is_set():
                return None
            if time.monotonic() > self.fire_at - 0.1:
                return None
            self.joined.add(who)
            self.participants[self.number] += 1
            return self.number, self.case, self.fire_at, self.fire


class User:
    """One simulated user: a thread looping over a mix of requests until the deadline."""

    def __init__(
        self,
        account: Account,
        port: int,
        deadline: float,
        seeded: Seeded,
        hot,
        rng_seed: int,
        coordinator: bool,
    ):
        self.account = account
        self.api = Api(port, account.token, deadline)
        self.rng = random.Random(rng_seed)
        self.hot_rounds: HotRounds = hot
        self.hot = set(seeded.hot)
        self.coordinator = coordinator
        self.is_staff = account.role != "advocate"
        #: case number -> (stage, version, advocate e-mail), as last seen by this user
        self.known = {
            number: (stage, version, advocate)
            for number, (stage, version, organization, advocate) in seeded.cases.items()
            if self.is_staff or organization == account.organization
        }
        self.outcomes: list[Outcome] = []
        self.edits = 0
        self.error: str | None = None
        self.thread = threading.Thread(target=self.run, name=account.email, daemon=True)

    # -- plumbing --

    def run(self):
        try:
            while not self.api.expired:
                if self.is_staff:
                    self.staff_step()
                else:
                    self.advocate_step()
        except Exception:  # a bug of the client: reported as a failed check, never hangs
            self.error = traceback.format_exc()
        finally:
            self.api.close()

    def remember(self, item: dict) -> None:
        self.known[item["case_number"]] = (item["stage"], item["version"], item["advocate"])

    def pick(self, stages=None, own=False) -> str | None:
        candidates = [
            number
            for number, (stage, _, advocate) in self.known.items()
            if number not in self.hot
            and (stages is None or stage in stages)
            and (not own or advocate == self.account.email)
        ]
        return self.rng.choice(candidates) if candidates else None

    # -- requests --

    def read_queue(self, stage=None, pages=None) -> list[dict]:
        """GET /petitions with some filters, following next_cursor for a page or three."""
        query = {"limit": self.rng.choice((10, 25, 50))}
        if stage is None:
            stage = self.rng.choice((None, None, "received", "under_review", "granted", "denied"))
        if stage:
            query["stage"] = stage
        if self.rng.random() < 0.2:
            query["kind"] = self.rng.choice(("pardon", "commutation"))
        if self.rng.random() < 0.15:
            query["q"] = f"Petitioner {self.rng.randrange(40):03d}"  # ten names each
        if self.is_staff and self.rng.random() < 0.2:
            query["assignee"] = "none"
        items: list[dict] = []
        for _ in range(pages or self.rng.randint(1, 3)):
            status, document, _ = self.api.call(
                "list", "GET", f"{API}/petitions?{urlencode(query)}"
            )
            if status != 200:
                break
            for item in document["items"]:
                self.remember(item)
            items += document["items"]
            if not document["next_cursor"]:
                break
            query["cursor"] = document["next_cursor"]
        return items

    def read_case(self, case_number: str, kind: str = "get") -> dict | None:
        status, document, _ = self.api.call(kind, "GET", f"{API}/petitions/{case_number}")
        if status != 200:
            return None
        self.remember(document)
        return document

    def read_history(self, case_number: str) -> None:
        self.api.call("history", "GET", f"{API}/petitions/{case_number}/history")

    def edit(self) -> None:
        """Read a case, then PATCH one field with If-Match: the version just read."""
        if self.is_staff:
            case_number = self.pick(stages=("received", "under_review"))
        else:
            case_number = self.pick(stages=("received",), own=True) or self.pick(("received",))
        if case_number is None:
            self.read_queue(stage="received", pages=1)
            return
        document = self.read_case(case_number)
        if document is None:
            return
        editable = ("received",) if not self.is_staff else ("received", "under_review")
        if document["stage"] not in editable:
            return
        self.edits += 1
        if self.is_staff:
            months, who = self.rng.randrange(60, 480), self.account.email
            body = {
                "sentence": f"{months} months' imprisonment (corrected by {who}, edit {self.edits})"
            }
        else:
            body = {
                "grounds": f"Updated grounds from {self.account.email}, edit {self.edits}: "
                "a decade of programming, mentoring and a job offer."
            }
        status, response, etag = self.api.call(
            "edit", "PATCH", f"{API}/petitions/{case_number}", body, document["version"]
        )
        self.record(case_number, "edit", status, response, etag)

    def transition(self, case_number, action, if_match=None, hot_round=None, kind=None):
        body = {"action": action}
        if TRANSITIONS_BY_NAME[action].reason_required:
            body["reason"] = f"{action.replace('_', ' ').capitalize()} by {self.account.email}."
        status, response, etag = self.api.call(
            kind or action, "POST", f"{API}/petitions/{case_number}/transitions", body, if_match
        )
        self.record(case_number, action, status, response, etag, hot_round)
        return status, response

    def record(self, case_number, action, status, response, etag, hot_round=None):
        if status < 0:
            return
        ok = 200 <= status < 300 and response is not None
        if ok:
            self.remember(response)
        self.outcomes.append(
            Outcome(
                case_number,
                action,
                status,
                response["version"] if ok else None,
                response["stage"] if ok else None,
                etag,
                hot_round,
            )
        )

    def work_queue(self) -> None:
        """Take a case near the head of a queue and move it along (with If-Match, mostly)."""
        sources = ["received", "under_review"] + (["decided"] if self.is_supervisor else [])
        weights = [40, 60] if not self.is_supervisor else [25, 35, 40]
        source = self.rng.choices(sources, weights)[0]
        stage = self.rng.choice(DECIDED) if source == "decided" else source
        items = [
            i for i in self.read_queue(stage=stage, pages=1) if i["case_number"] not in self.hot
        ]
        if not items:
            return
        item = self.rng.choice(items[:10])  # the head of the queue, where reviewers collide
        if self.rng.random() < 0.5:  # read it first, as a person would
            item = self.read_case(item["case_number"]) or item
        stage = item["stage"]
        if stage == "received":
            action = "start_review"
        elif stage == "under_review":
            action = self.rng.choices(("grant", "deny", "return_for_information"), (3, 3, 4))[0]
        elif self.is_supervisor:
            action = "reopen"
        else:
            return
        if_match = item["version"] if self.rng.random() < 0.8 else None
        self.transition(item["case_number"], action, if_match)

    @property
    def is_supervisor(self) -> bool:
        return self.account.role == "supervisor"

    # -- contention --

    def run_hot_round(self) -> None:
        """Put the next hot case under review, open a round, and release its reviewers."""
        rounds = self.hot_rounds
        if time.monotonic() + JOIN_WINDOW + 0.5 >= self.api.deadline:
            rounds.next_at = math.inf  # it could not fire before the deadline
            return
        case_number = rounds.next_case()
        document = self.read_case(case_number, kind="hot get")
        if document is None:
            return
        if document["stage"] in DECIDED:
            self.transition(case_number, "reopen", document["version"], kind="hot reopen")
        elif document["stage"] == "received":
            self.transition(
                case_number, "start_review", document["version"], kind="hot start_review"
            )
        fire_at, fire = rounds.arm(case_number)
        time.sleep(max(0.0, min(fire_at, self.api.deadline) - time.monotonic()))
        fire.set()
        rounds.next_at = fire_at + ROUND_GAP

    def join_hot_round(self) -> bool:
        ticket = self.hot_rounds.join(self.account.index)
        if ticket is None:
            return False
        number, case_number, fire_at, fire = ticket
        document = self.read_case(case_number, kind="hot get")
        if document is None or document["stage"] != "under_review":
            return True
        fire.wait(timeout=max(0.0, min(fire_at + 2.0, self.api.deadline) - time.monotonic()))
        if not fire.is_set():
            return True
        action = self.rng.choice(("grant", "deny"))
        if_match = document["version"] if self.rng.random() < 0.75 else None
        self.transition(case_number, action, if_match, hot_round=number, kind=f"hot {action}")
        return True

    # -- the mixes --

    def advocate_step(self) -> None:
        r = self.rng.random()
        if r < 0.40:
            self.read_queue()
        elif r < 0.65:
            case_number = self.pick()
            if case_number:
                self.read_case(case_number)
        elif r < 0.80:
            case_number = self.pick()
            if case_number:
                self.read_history(case_number)
        else:
            self.edit()

    def staff_step(self) -> None:
        if self.coordinator and self.hot_rounds.due():
            self.run_hot_round()
            return
        if self.account.role == "reviewer" and self.join_hot_round():
            return
        r = self.rng.random()
        if r < 0.25:
            self.read_queue()
        elif r < 0.40:
            case_number = self.pick()
            if case_number:
                self.read_case(case_number)
        elif r < 0.50:
            case_number = self.pick()
            if case_number:
                self.read_history(case_number)
        elif r < 0.65:
            self.edit()
        else:
            self.work_queue()


@dataclass
class Run:
    users: list[User]
    elapsed: float
    hot: HotRounds
    samples: list[tuple[str, int, float]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def run_users(port: int, seeded: Seeded, seconds: float, rng: random.Random) -> Run:
    started = time.monotonic()
    deadline = started + seconds
    hot = HotRounds(seeded.hot, first_at=started + 1.0)
    supervisors = [a for a in seeded.accounts if a.role == "supervisor"]
    users = [
        User(
            account,
            port,
            deadline,
            seeded,
            hot,
            rng.randrange(2**32),
            coordinator=account is supervisors[0],
        )
        for account in seeded.accounts
    ]
    for user in users:
        user.thread.start()
    for user in users:
        user.thread.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT + 5)
    run = Run(users, time.monotonic() - started, hot)
    for user in users:
        run.samples += user.api.samples
        run.outcomes += user.outcomes
    return run


# --- the report ---------------------------------------------------------------------------------


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency_row(label: str, seconds: list[float], elapsed: float) -> str:
    ordered = sorted(seconds)
    ms = [percentile(ordered, p) * 1000 for p in (50, 90, 99)] + [ordered[-1] * 1000]
    figures = "".join(f"{value:>9.1f}" for value in ms)
    return f"  {label:<28}{len(ordered):>8,}{len(ordered) / elapsed:>9.1f}{figures}"


def report(run: Run, seeded: Seeded, arguments) -> None:
    samples = run.samples
    print()
    print(
        f"== Results: {len(seeded.accounts)} users for {arguments.seconds:g} s, "
        f"{arguments.workers} gunicorn workers"
    )
    if not samples:
        print("no requests were made")
        return
    print(f"total requests: {len(samples):,} in {run.elapsed:.1f} s")
    print(f"throughput: {len(samples) / run.elapsed:,.1f} req/s")
    connections = sum(u.api.connections_opened for u in run.users)
    print(
        f"TCP connections opened: {connections:,} (the clients ask for keep-alive; "
        "gunicorn's sync workers close the connection after each response)"
    )
    print()
    print(f"  {'latency (ms)':<28}{'count':>8}{'req/s':>9}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
    print(latency_row("all requests", [s for _, _, s in samples], run.elapsed))
    by_kind = defaultdict(list)
    for kind, _, seconds in samples:
        by_kind[kind].append(seconds)
    for kind in sorted(by_kind, key=lambda k: (-len(by_kind[k]), k)):
        print(latency_row(kind, by_kind[kind], run.elapsed))
    print()
    statuses = Counter(status for _, status, _ in samples)
    print(
        "status codes: "
        + ", ".join(
            f"{status if status else 'transport error'}: {count:,}"
            for status, count in sorted(statuses.items())
        )
    )
    print()
    print("count per (kind, status):")
    pairs = Counter((kind, status) for kind, status, _ in samples)
    for (kind, status), count in sorted(pairs.items()):
        note = ""
        if status >= 400 or status == 0:
            note = EXPLAINED.get(status, "") if status in expected_statuses(kind) else "UNEXPECTED"
        print(f"  {kind:<28}{status:>5}{count:>8,}  {note}".rstrip())
    rounds = run.hot
    hot_attempts = [o for o in run.outcomes if o.hot_round is not None]
    if rounds.number >= 0:
        played = rounds.number + 1
        most = max(Counter(o.hot_round for o in hot_attempts).values(), default=0)
        print()
        print(
            f"hot set: {len(seeded.hot)} cases, {played} rounds, {len(hot_attempts)} "
            f"simultaneous grant/deny attempts "
            f"({len(hot_attempts) / played:.1f} per round on average, "
            f"at most {most})"
        )


# --- the checks ---------------------------------------------------------------------------------


class Checks:
    def __init__(self):
        self.failed = 0

    def __call__(self, ok: bool, name: str, detail: str = "", problems=()) -> None:
        print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f" — {detail}" if detail else ""))
        for problem in list(problems)[:10]:
            print(f"        {problem}")
        self.failed += not ok


def run_checks(run: Run, seeded: Seeded, log_path: Path) -> int:
    check = Checks()
    print()
    print("== Checks")
    samples = run.samples
    server_errors = [s for s in samples if s[1] >= 500]
    log = log_path.read_text(errors="replace")
    tracebacks = log.count("Traceback (most recent call last)")
    alarms = sum(1 for line in log.splitlines() if "[ERROR]" in line or "[CRITICAL]" in line)
    check(
        not server_errors,
        "zero 5xx responses",
        f"{len(server_errors)} 5xx; in the gunicorn log {tracebacks} tracebacks, "
        f"{alarms} ERROR/CRITICAL lines",
    )
    if tracebacks:
        first = log.find("Traceback (most recent call last)")
        print("        first traceback in the server log:")
        print("\n".join("        | " + line for line in log[first:].splitlines()[:40]))

    transport = [e for u in run.users for e in u.api.transport_errors]
    crashed = [u.error for u in run.users if u.error]
    alive = [u.account.email for u in run.users if u.thread.is_alive()]
    check(
        not transport and not crashed and not alive,
        "every user ran to the deadline (no timeouts, resets or client errors)",
        f"{len(transport)} transport errors, {len(crashed)} client errors, "
        f"{len(alive)} users still running",
        transport + crashed + alive,
    )

    unexplained = Counter(
        (kind, status)
        for kind, status, _ in samples
        if status >= 400 and status not in expected_statuses(kind)
    )
    check(
        not unexplained,
        "every 4xx is an expected one (409, 412; 403 for edits)",
        f"{sum(unexplained.values())} unexpected",
        [f"{kind} {status}: {n}" for (kind, status), n in unexplained.items()],
    )

    entries = db.session.execute(
        select(AuditEntry.id, AuditEntry.action, AuditEntry.details, Petition.case_number)
        .join(Petition, AuditEntry.petition_id == Petition.id)
        .where(
            AuditEntry.id > seeded.baseline_entry_id,
            AuditEntry.action.in_([*TRANSITION_ACTIONS, "edit"]),
        )
    ).all()

    for kinds, label in ((TRANSITION_ACTIONS, "transition"), (("edit",), "edit")):
        successes = Counter(
            (o.case_number, o.action, o.version)
            for o in run.outcomes
            if o.action in kinds and 200 <= o.status < 300
        )
        recorded = Counter(
            (e.case_number, e.action, (e.details or {}).get("version"))
            for e in entries
            if e.action in kinds
        )
        problems = [
            f"{c} {a} version {v}: {n} successful response(s), {recorded[(c, a, v)]} audit entries"
            for (c, a, v), n in successes.items()
            if n != 1 or recorded[(c, a, v)] != 1
        ] + [
            f"{c} {a} version {v}: {n} audit entries, no successful response"
            for (c, a, v), n in recorded.items()
            if (c, a, v) not in successes
        ]
        check(
            not problems,
            f"every successful {label} has exactly one audit entry (case, action, version), "
            f"and every {label} entry a success",
            f"{sum(successes.values())} successes, {sum(recorded.values())} entries",
            problems,
        )

    wrong_stage = [
        f"{o.case_number} {o.action} answered stage {o.stage}, version {o.version}"
        for o in run.outcomes
        if o.action in TRANSITION_ACTIONS
        and 200 <= o.status < 300
        and o.stage != TRANSITIONS_BY_NAME[o.action].target.value
    ]
    bad_etag = [
        f"{o.case_number} {o.action}: ETag {o.etag}, version {o.version}"
        for o in run.outcomes
        if 200 <= o.status < 300 and o.etag != f'"{o.version}"'
    ]
    check(
        not wrong_stage and not bad_etag,
        "each successful transition answers the stage it moved to, with a matching ETag",
        f"{len(wrong_stage)} other stages, {len(bad_etag)} ETag mismatches",
        wrong_stage + bad_etag,
    )

    result = audit.verify_chain()
    check(result.intact, "the audit chain verifies", result.message)

    # The workflow's own stages and decided stages (declared once, tracker.workflow): a case
    # is decided or closed iff its decision is recorded (the reason may be missing only from
    # a withdrawal), as the table's constraint says.
    decided = [stage.value for stage in DECIDED_STAGES]
    recorded = sa.and_(
        Petition.decided_at.is_not(None),
        Petition.decided_by_id.is_not(None),
        Petition.disposition.is_not(None),
        sa.or_(Petition.decision_reason.is_not(None), Petition.disposition == "withdrawn"),
    )
    unrecorded = sa.and_(
        Petition.decided_at.is_(None),
        Petition.decided_by_id.is_(None),
        Petition.decision_reason.is_(None),
        Petition.disposition.is_(None),
    )
    impossible = db.session.execute(
        select(Petition.case_number, Petition.stage).where(
            sa.not_(
                sa.and_(
                    Petition.stage.in_([stage.value for stage in Stage]),
                    sa.or_(
                        sa.and_(Petition.stage.in_(decided), recorded),
                        sa.and_(Petition.stage.not_in(decided), unrecorded),
                    ),
                )
            )
        )
    ).all()
    total = db.session.scalar(select(sa.func.count()).select_from(Petition))
    stages = Counter(db.session.scalars(select(Petition.stage)))
    check(
        not impossible,
        "no petition in an impossible state (a stage of the workflow; decided or closed "
        "iff the decision is recorded)",
        f"{len(impossible)} of {total}; now "
        + ", ".join(f"{stage} {stages[stage.value]}" for stage in Stage),
        [f"{c}: {s}" for c, s in impossible],
    )

    by_case = defaultdict(list)
    for entry in db.session.scalars(
        select(AuditEntry).where(AuditEntry.category == CASE_CATEGORY).order_by(AuditEntry.id)
    ):
        by_case[entry.petition_id].append(entry)
    mismatched = []
    for petition in db.session.scalars(select(Petition)):
        history = by_case[petition.id]
        last_version = max(((e.details or {}).get("version") or 0 for e in history), default=0)
        if replay(history) != current_state(petition) or last_version != petition.version:
            mismatched.append(f"{petition.case_number}: replay or version differs")
    check(
        not mismatched,
        "replaying each case's audit entries rebuilds its stage and fields, and its "
        "newest entry names its version",
        f"{len(mismatched)} of {total} differ",
        mismatched,
    )

    hot_problems, lines = [], []
    for case_number in seeded.hot:
        won = sum(
            1
            for o in run.outcomes
            if o.case_number == case_number
            and o.action in ("grant", "deny")
            and 200 <= o.status < 300
        )
        tried = sum(
            1 for o in run.outcomes if o.case_number == case_number and o.hot_round is not None
        )
        recorded = sum(
            1 for e in entries if e.case_number == case_number and e.action in ("grant", "deny")
        )
        lines.append(f"{case_number}: {tried} attempts, {won} successes, {recorded} entries")
        if won != recorded:
            hot_problems.append(lines[-1])
    winners = Counter(
        o.hot_round for o in run.outcomes if o.hot_round is not None and 200 <= o.status < 300
    )
    hot_problems += [f"round {r}: {n} winners" for r, n in winners.items() if n > 1]
    check(
        not hot_problems,
        "contended cases: per hot case, successful grant/deny responses = grant/deny "
        "audit entries, and at most one winner per round",
        f"{len(seeded.hot)} hot cases, {run.hot.number + 1} rounds",
        hot_problems or lines,
    )

    print()
    print(f"{'FAILED' if check.failed else 'PASSED'}: {check.failed} check(s) failed")
    return check.failed


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    args = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    args.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="a PostgreSQL server URL; a scratch database is created on it and "
        "dropped (default: %(default)s)",
    )
    args.add_argument("--users", type=int, default=50, help="simulated users (default: 50)")
    args.add_argument("--seconds", type=float, default=60, help="duration (default: 60)")
    args.add_argument("--workers", type=int, default=4, help="gunicorn workers (default: 4)")
    args.add_argument("--cases", type=int, default=400, help="petitions seeded (default: 400)")
    args.add_argument("--hot", type=int, default=5, help="hot, contended cases (default: 5)")
    args.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    arguments = args.parse_args()
    if sa.make_url(arguments.database_url).get_backend_name() != "postgresql":
        args.error("--database-url must be a PostgreSQL server URL")
    if not GUNICORN.exists():
        args.error(f"gunicorn is not installed in this environment ({GUNICORN})")
    rng = random.Random(arguments.seed)

    with tempfile.TemporaryDirectory() as directory, scratch_app(arguments.database_url) as app:
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}", flush=True)
        started = time.perf_counter()
        seeded = seed(arguments.users, arguments.cases, arguments.hot, rng)
        roles = Counter(a.role for a in seeded.accounts)
        stages = Counter(stage for stage, *_ in seeded.cases.values())
        print(
            f"seeded in {time.perf_counter() - started:.1f} s: "
            f"{roles['advocate']} advocates (2 organizations), {roles['reviewer']} reviewers, "
            f"{roles['supervisor']} supervisors, one API token each; {len(seeded.cases)} "
            "petitions ("
            + ", ".join(f"{s} {n}" for s, n in sorted(stages.items()))
            + f"); hot set {', '.join(seeded.hot)}",
            flush=True,
        )
        db.session.remove()

        log_path = Path(directory) / "gunicorn.log"
        with gunicorn_server(database_url, arguments.workers, log_path) as port:
            print(f"running {len(seeded.accounts)} users for {arguments.seconds:g} s…", flush=True)
            run = run_users(port, seeded, arguments.seconds, rng)
        report(run, seeded, arguments)
        failed = run_checks(run, seeded, log_path)
        db.session.remove()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
