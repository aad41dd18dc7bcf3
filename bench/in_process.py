"""In process, each page's CPU time against its floor's: what a page's own work costs, and
what it would cost with one part of that work left out.

    python -m bench.in_process --database-url sqlite:////tmp/bench/pages.sqlite3
        [--pages case,case_advocate,api_case,api_history,login] [--views 200] [--rounds 5]
        [--leave-out templates|read_log|login_csrf]

The database is ``bench.pages``' (seed it first: ``python -m bench.pages … --seed-only``).
No server and no load tool: the Flask test client asks the tracker (production
configuration, read logging on) and the floor (``bench.floor_app``) for each page in turn,
once for each of ``--views`` of the bench's cases, every request in its own app context as
under a server. A round measures both sides' CPU time per view (``time.process_time``: this
process's own work, not time spent waiting for a core). Reported: the median over
``--rounds`` of each side and the floor / tracker ratio, as ``bench.pages`` reports req/s.

``--leave-out`` patches one part of the tracker's work out, for measuring only (issue 15:
how far each part keeps a page from 0.5× the floor):

- ``templates``: no template rendered, as ``bench.without_templates`` (not the sign-in page);
- ``read_log``: no read logged (``tracker.readlog.services.record_read`` does nothing);
- ``login_csrf``: the sign-in page without its CSRF token, so without the cookie that carries
  the token's secret.
"""

import argparse
import contextlib
import os
import secrets
import statistics
import sys
import time
from unittest import mock

import flask.templating

from bench import pages, without_templates

LEAVE_OUTS = ("templates", "read_log", "login_csrf")
DEFAULT_PAGES = "case,case_advocate,api_case,api_history,login"
ENVIRON = {"REMOTE_ADDR": "127.0.0.1"}


def left_out(part: str | None) -> contextlib.AbstractContextManager:
    """The patch that leaves ``part`` of the tracker's work out, undone on leaving."""
    if part is None:
        return contextlib.nullcontext()
    if part == "templates":
        return mock.patch.object(flask.templating, "_render", without_templates._not_rendered)
    if part == "read_log":
        from tracker.readlog import services

        return mock.patch.object(services, "record_read", lambda *args, **kwargs: None)
    if part == "login_csrf":
        from tracker.auth import views

        # Long as a real token, so the page's length is unchanged.
        return mock.patch.object(views, "generate_csrf", lambda: "t" * 91)
    raise ValueError(f"--leave-out: one of {', '.join(LEAVE_OUTS)}, not {part!r}")


def cpu_per_view(client, paths: list[str], headers: dict) -> float:
    """The process's CPU milliseconds per request over ``paths``; every answer must be 200."""
    start = time.process_time()
    for path in paths:
        response = client.get(path, headers=headers, environ_base=ENVIRON)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code}, not 200")
    return (time.process_time() - start) / len(paths) * 1000


def measure(tracker_client, floor_client, page: str, who: dict, views: int, rounds: int):
    """(tracker ms, floor ms): the medians over ``rounds`` of each side's CPU per view."""
    tracker_path, floor_path, asker = pages.PAGES[page]
    cases = pages.cases_of(who, asker)[:views]
    tracker_paths = [tracker_path.format(case=case) for case in cases]
    floor_paths = [floor_path.format(case=case) for case in cases]
    headers = {"User-Agent": pages.USER_AGENT, **who[asker]}
    sides = ((tracker_client, tracker_paths, headers), (floor_client, floor_paths, {}))
    for client, paths, sent in sides:  # warm-up: templates, caches, the OS's page cache
        cpu_per_view(client, paths, sent)
    tracker, floor = [], []
    for _ in range(rounds):
        tracker.append(cpu_per_view(*sides[0]))
        floor.append(cpu_per_view(*sides[1]))
    return statistics.median(tracker), statistics.median(floor)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--database-url", required=True)
    args.add_argument("--pages", default=DEFAULT_PAGES)
    args.add_argument("--views", type=int, default=200)
    args.add_argument("--rounds", type=int, default=5)
    args.add_argument("--leave-out", choices=LEAVE_OUTS)
    arguments = args.parse_args()
    chosen = arguments.pages.split(",")
    unknown = [page for page in chosen if page not in pages.PAGES]
    if unknown:
        sys.exit(f"--pages: no such page {', '.join(unknown)} (pages: {', '.join(pages.PAGES)})")
    if arguments.leave_out == "templates" and "login" in chosen:
        sys.exit("--leave-out templates: leave out login (its page is written from a kept copy).")
    url, secret = arguments.database_url, secrets.token_urlsafe(48)
    os.environ.update(
        {
            "TRACKER_CONFIG": "production",
            "SECRET_KEY": secret,
            "DATABASE_URL": url,  # the floor's engine reads it when imported
            "SESSION_COOKIE_SECURE": "0",
            "RATELIMIT_API_PER_TOKEN": "100000000 per minute",
            "RATELIMIT_API_PER_ADDRESS": "100000000 per minute",
        }
    )
    from sqlalchemy import func, select

    from bench import floor_app
    from tracker import create_app
    from tracker.extensions import db
    from tracker.petitions.models import Petition

    app = create_app("production", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=secret)
    with app.app_context():
        if not db.session.scalar(select(func.count()).select_from(Petition)):
            sys.exit("No petitions: seed first (python -m bench.pages … --seed-only).")
        who = pages.credentials(app)
        dialect = db.engine.dialect.name
    tracker_client = pages.FreshContextClient(app, app.response_class, use_cookies=False)
    floor_client = floor_app.app.test_client()
    left = f", {arguments.leave_out} left out" if arguments.leave_out else ""
    print(
        f"In process, {dialect}: CPU ms per view, median of {arguments.rounds}"
        f" rounds of {arguments.views} views{left}\n"
    )
    print("| page | tracker ms | floor ms | ratio |\n|---|---:|---:|---:|")
    with left_out(arguments.leave_out):
        for page in chosen:
            tracker, floor = measure(
                tracker_client, floor_client, page, who, arguments.views, arguments.rounds
            )
            print(f"| {page} | {tracker:.3f} | {floor:.3f} | {floor / tracker:.2f} |", flush=True)


if __name__ == "__main__":
    main()
