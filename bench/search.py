"""Search as people type, timed in-process at a million petitions (issue 15, part 2).

    python -m bench.search --database-url sqlite:////tmp/search/pages.sqlite3
    python -m bench.search --database-url postgresql+psycopg://postgres@127.0.0.1:5432/search_pages
        [--petitions 1000000] [--runs 15] [--drop]

The database is bench/pages.py's (the same seed, shared: copy /work/seed's, see PROTOCOL):
when it has no petitions it is migrated and seeded by ``bench.pages.seed``, else reused after
``upgrade()`` (which backfills the search words of a database seeded before them). The seed's
names are ten first-and-last-name pairs, so each surname is a tenth of the petitions: the
common-name case. To it the bench gives 40 petitions rarer names (accents, hyphens, aliases,
docket numbers), written with their search words as the services write them (idempotent).

Each query kind is timed as the web queue reads it, in-process (``queue_page`` over
``queue_query``: the search's parse, the page of 25 and its bounded count; no template), as a
reviewer who sees every case, plainly and with a stage filter and the newest-first order; the
median and p95 of ``--runs`` runs each, and the rows on the page. In the same run, as a
reference, the old search (``lower(petitioner_name) LIKE '%q%'``) over the same queue.
"""

import argparse
import os
import secrets
import statistics
import time

from flask import g
from flask_migrate import upgrade
from sqlalchemy import func, select, update

from bench.pages import drop_database, prepare_database, seed
from tracker import create_app
from tracker.auth.models import User
from tracker.extensions import db
from tracker.petitions import queries, search
from tracker.petitions.filters import QueueFilters
from tracker.petitions.models import Petition

PER_PAGE = 25
RARE = [
    ("Dolores María Fuentes-Ramírez", ["Lola Fuentes"], "1:04-cr-00123"),
    ("Seán O'Brien-Nakamura", ["Sean Brien"], "3:11-cr-00456"),
    ("Zoë Kowalczyk", None, None),
    ("Ngozi Adébáyọ̀", ["Ngozi A."], "2:19-cr-00789"),
]


def kinds(case_number: str, register_number: str, typo: bool) -> dict[str, str]:
    table = {
        "exact case number": case_number,
        "register number with dash": register_number,
        "register number without dash": register_number.replace("-", ""),
        "docket number": "1:04-cr-00123",
        "common surname": "garcia",
        "rare surname": "kowalczyk",
        "two words": "dolores fuentes",
        "two words, other order, comma": "Fuentes, Dolores",
        "two common words": "garcia james",
        "partial word": "fuent",
        "alias": "lola",
        "one letter": "j",
        "one rare letter": "z",
        "a letter no word starts with": "x",
        "short words": "ma ra",
        "common word and two letters": "lopez jo",
        "common word and a letter": "lopez j",
        "two letters nobody has": "qx",
    }
    if typo:
        table["typo"] = "fuentez"
        table["typo of a common word"] = "jamse"
    return table


def add_rare_people() -> None:
    """Give 40 petitions (ten per name) rarer names, once."""
    if db.session.scalar(select(Petition.id).where(Petition.search_text.like("% kowalczyk %"))):
        return
    present = db.session.scalar(select(func.max(Petition.id)))
    for number, (name, aliases, docket) in enumerate(RARE * 10):
        # Spread over the stages (the seed's stage is the id minus one, modulo 4).
        petition = db.session.get(Petition, 2 + number * (present // 40) + number % 4)
        values = {
            "petitioner_name": name,
            "aliases": aliases,
            "docket_number": docket,
            "case_number": petition.case_number,
            "register_number": petition.register_number,
        }
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition.id)
            .values(
                petitioner_name=name,
                aliases=aliases,
                docket_number=docket,
                search_text=search.search_text(values),
            )
        )
    db.session.commit()


def old_condition(q: str):
    """The search before issue 15 (a plain LIKE on the lower-cased name; numbers exact)."""
    from tracker.petitions.fields import CASE_NUMBER, REGISTER_NUMBER

    q = q.strip()
    if CASE_NUMBER.match(q.upper()):
        return Petition.case_number == q.upper()
    if REGISTER_NUMBER.match(q):
        return Petition.register_number == q
    return func.lower(Petition.petitioner_name).contains(q.lower(), autoescape=True)


def page_new(user, filters: QueueFilters):
    g.pop("parsed_searches", None)
    return queries.queue_page(
        queries.queue_query(user, filters),
        PER_PAGE,
        filters.sort,
        queries.QueuePosition(),
        q=filters.q,
    )


def page_old(user, filters: QueueFilters):
    plain = QueueFilters(**{**filters.__dict__, "q": None})
    statement = queries.queue_query(user, plain).where(old_condition(filters.q))
    return queries.queue_page(statement, PER_PAGE, filters.sort, queries.QueuePosition())


def timed(run, runs: int) -> tuple[float, float, int]:
    if runs > 3:
        run()  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        page = run()
        times.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(page.items)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--database-url", required=True)
    args.add_argument("--petitions", type=int, default=1_000_000)
    args.add_argument("--runs", type=int, default=15)
    args.add_argument(
        "--old-runs", type=int, default=3, help="runs of the old search (a scan: seconds each)"
    )
    args.add_argument("--drop", action="store_true")
    arguments = args.parse_args()
    url = arguments.database_url
    prepare_database(url)
    os.environ.setdefault("SECRET_KEY", secrets.token_hex(16))
    app = create_app("production", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=os.environ["SECRET_KEY"])
    with app.app_context():
        start = time.perf_counter()
        upgrade()
        print(f"upgrade: {time.perf_counter() - start:.0f} s", flush=True)
        if not db.session.scalar(select(func.count()).select_from(Petition)):
            seed(arguments.petitions)
        add_rare_people()
        present = db.session.scalar(select(func.count()).select_from(Petition))
        dialect = db.engine.dialect.name
        print(f"database: {dialect}, {present:,} petitions; load {os.getloadavg()}")
        reviewer = db.session.scalar(select(User).where(User.email == "r3@example.org"))
        sample = db.session.get(Petition, present // 2)
        table = kinds(sample.case_number, sample.register_number, dialect == "postgresql")
        print(
            "| query | kind | filters | new p50 ms | new p95 ms | rows | ranked "
            "| old p50 ms | old p95 ms | old rows |"
        )
        print("|---|---|---|---:|---:|---:|---|---:|---:|---:|")
        for variant, extra in (
            ("none", {}),
            ("stage, newest", {"stages": ("under_review",), "sort": "newest"}),
        ):
            for kind, q in table.items():
                filters = QueueFilters(q=q, **extra)
                new = timed(lambda filters=filters: page_new(reviewer, filters), arguments.runs)
                old = timed(lambda filters=filters: page_old(reviewer, filters), arguments.old_runs)
                g.pop("parsed_searches", None)
                ranked = search.parse(q).ranked
                print(
                    f"| {q} | {kind} | {variant} | {new[0]:.1f} | {new[1]:.1f} | {new[2]} "
                    f"| {'yes' if ranked else 'no'} | {old[0]:.1f} | {old[1]:.1f} | {old[2]} |",
                    flush=True,
                )
        print(f"load average at the end: {os.getloadavg()}")
        db.engine.dispose()
    if arguments.drop:
        drop_database(url)


if __name__ == "__main__":
    main()
