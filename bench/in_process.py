"""In process, each page's CPU time against its floor's: what a page's own work costs, and
what it would cost with one part of that work left out.

    python -m bench.in_process --database-url sqlite:////tmp/bench/pages.sqlite3
        [--pages case,case_advocate,api_case,api_history,login] [--views 200] [--rounds 5]
        [--leave-out templates|read_log|login_csrf]

The database is ``bench.pages``' (seed it first: ``python -m bench.pages … --seed-only``, which
asks for wrk to be installed).
No server and no load tool: the Flask test client asks the tracker (production
configuration, read logging on) and the floor (``bench.floor_app``) for each page in turn,
once for each of ``--views`` of the bench's cases (at most ``MAX_VIEWS``), every request in
its own app context as under a server. A round measures both sides' CPU time per view
(``time.process_time``: this process's own work, not time spent waiting for a core, nor
PostgreSQL's, which runs apart). Reported: the median over ``--rounds`` of each side and the
floor / tracker ratio, as ``bench.pages`` reports req/s.

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
#: The bench's cases of each reader (``bench.pages.credentials``).
MAX_VIEWS = 2000
#: As ``bench.pages`` serves the tracker: two API pages of 2,000 views and their warm-ups would
#: pass the production limit per token.
SETTINGS = {"SESSION_COOKIE_SECURE": False, **pages.RAISED_API_LIMITS}
DEFAULT_PAGES = "case,case_advocate,api_case,api_history,login"
ENVIRON = {"REMOTE_ADDR": "127.0.0.1"}


def left_out(part: str | None) -> contextlib.AbstractContextManager:
    """The patch that leaves ``part`` of the tracker's work out, undone on leaving."""
    if part is None:
        return contextlib.nullcontext()
    if part == "templates":
        return mock.patch.object(flask.templating, "_render", without_templates.not_rendered)
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


def refusal(chosen: list[str], views: int, rounds: int, leave_out: str | None) -> str | None:
    """What is wrong with the arguments, or None."""
    unknown = [page for page in chosen if page not in pages.PAGES]
    if unknown:
        return f"--pages: no such page {', '.join(unknown)} (pages: {', '.join(pages.PAGES)})"
    if not 1 <= views <= MAX_VIEWS:
        return f"--views: from 1 to {MAX_VIEWS} (the bench's cases), not {views}"
    if rounds < 1:
        return f"--rounds: at least 1, not {rounds}"
    if leave_out == "templates" and "login" in chosen:
        return "--leave-out templates: leave out login (its page is written from a kept copy)."
    if leave_out == "login_csrf" and "login" not in chosen:
        return "--leave-out login_csrf: only the sign-in page has it (--pages login)."
    if leave_out == "read_log" and chosen == ["login"]:
        return "--leave-out read_log: the sign-in page reads no case."
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pages", default=DEFAULT_PAGES)
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--leave-out", choices=LEAVE_OUTS)
    arguments = parser.parse_args()
    chosen = arguments.pages.split(",")
    refused = refusal(chosen, arguments.views, arguments.rounds, arguments.leave_out)
    if refused:
        sys.exit(refused)
    url, secret = arguments.database_url, secrets.token_urlsafe(48)
    os.environ["DATABASE_URL"] = url  # the floor's engine reads it when imported
    from sqlalchemy import func, select

    from bench import floor_app
    from tracker import create_app
    from tracker.extensions import db
    from tracker.petitions.models import Petition

    app = create_app("production", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=secret, **SETTINGS)
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
