"""Shared set-up for the benchmarks: an app on a fresh database built by the migrations,
the cases they decide, and a run of the same benchmark on older code (``--compare``)."""

import argparse
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from tracker import create_app
from tracker.extensions import db

PASSWORD = "bench-password-long-enough"
ROOT = Path(__file__).resolve().parent.parent
#: Where a benchmark run by ``--compare`` on older code writes its figures (JSON).
RESULTS_FILE = "BENCH_RESULTS_FILE"
#: {label: this process's CPU seconds} of every ``timed`` block of the run.
CPU_TIMES: dict[str, float] = {}


def parser(description: str, *, compare: bool = False) -> argparse.ArgumentParser:
    """The options every benchmark takes; ``compare``: also ``--database-name`` and
    ``--compare`` (``run_compared``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (a scratch database is created on it and dropped); "
        "default: a temporary SQLite file",
    )
    if not compare:
        return parser
    parser.add_argument(
        "--database-name",
        help="the scratch PostgreSQL database's name (default: tracker_bench_<random>); "
        "with --compare, the old code's run adds _old",
    )
    parser.add_argument(
        "--compare",
        metavar="GIT_REF",
        help="first run this benchmark (this harness) on the tracker code of GIT_REF, e.g. "
        "origin/main, then on this tree, and print both figures side by side",
    )
    return parser


@contextlib.contextmanager
def scratch_app(server_url: str | None, name: str | None = None):
    """An app on a new, migrated database that is thrown away afterwards."""
    if server_url:
        url = sa.make_url(server_url)
        name = name or f"tracker_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        database_url = url.set(database=name).render_as_string(hide_password=False)
        cleanup = lambda: _drop(admin, name)  # noqa: E731
        directory = None
    else:
        directory = tempfile.TemporaryDirectory()
        database_url = f"sqlite:///{Path(directory.name) / 'bench.sqlite3'}"
        cleanup = directory.cleanup
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    try:
        with app.app_context():
            upgrade()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        cleanup()


@contextlib.contextmanager
def kept_app(database_url: str):
    """An app on a database that outlives the run (``--keep``, ``--keep-database``): a SQLite
    file or a PostgreSQL database, created if missing and migrated to the head (a no-op once
    they ran), so that a benchmark seeds a million rows once and later runs (after a new
    migration too) reuse them. Drop it yourself when done (``DROP DATABASE``, or delete the
    file)."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "postgresql":
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)
            ).scalar()
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
        admin.dispose()
    elif url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def _drop(admin, name):
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@contextlib.contextmanager
def timed(label: str, results: dict):
    """Wall time into ``results``; printed with this process's CPU time, which a loaded
    machine inflates less (the database server's, on PostgreSQL, is not in it)."""
    start, cpu = time.perf_counter(), time.process_time()
    yield
    results[label] = time.perf_counter() - start
    cpu = time.process_time() - cpu
    CPU_TIMES[label] = cpu
    print(f"{label}: {results[label]:.2f} s (CPU of this process: {cpu:.2f} s)", flush=True)


def load_average() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


# --- the cases a decision benchmark decides ---------------------------------------------------


def petition_csv(rows: int, offset: int = 0) -> bytes:
    """A valid file of ``rows`` commutations, each with its own register number."""
    from tracker.petitions.models import EDITABLE_FIELDS

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EDITABLE_FIELDS)
    for n in range(offset, offset + rows):
        writer.writerow(
            [
                "commutation",
                f"Petitioner {n}",
                f"{n // 1000:05d}-{n % 1000:03d}",
                (date(1960, 1, 1) + timedelta(days=n % 9000)).isoformat(),
                "Conspiracy to distribute cocaine base (21 U.S.C. § 846)",
                "District of Maryland",
                "240 months' imprisonment",
                "2005-06-01",
                "in_prison",
                "2030-01-01",
                "Would receive a far shorter sentence today; served over 20 years.",
            ]
        )
    return out.getvalue().encode()


def advocate(name: str):
    """An advocate of a new organization of this name (committed)."""
    from tracker.auth import services as auth_services

    organization = auth_services.create_organization(None, name)
    user = auth_services.create_user(
        None,
        email=f"{name.lower().replace(' ', '-')}@bench.example",
        name=name,
        role="advocate",
        password=PASSWORD,
        organization=organization,
    )
    db.session.commit()
    return user


def staff(role: str):
    """A staff user of this role (committed)."""
    from tracker.auth import services as auth_services

    user = auth_services.create_user(
        None, email=f"{role}@bench.example", name=role.title(), role=role, password=PASSWORD
    )
    db.session.commit()
    return user


def cases_under_review(user, reviewer, count: int, offset: int) -> dict[str, int]:
    """``count`` new cases moved to under_review; their case numbers and versions."""
    from tracker.petitions import importing
    from tracker.petitions import services as petition_services

    case_numbers = petition_services.import_petitions(
        user, importing.read_csv(petition_csv(count, offset=offset))
    )
    db.session.commit()
    started = time.perf_counter()
    versions = petition_services.decide_petitions(
        reviewer, "start_review", None, dict.fromkeys(case_numbers)
    )
    db.session.commit()
    print(f"  (bulk start_review of {count:,} cases: {time.perf_counter() - started:.2f} s)")
    return versions


@contextlib.contextmanager
def counted_statements():
    """The SQL statements sent inside the block (a list; a batched insert counts once per
    batch)."""
    statements = []

    def count(conn, cursor, statement, *rest):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def print_outcome() -> None:
    """The cases per stage and the audit chain's verification, after the timed work."""
    from tracker.audit import services as audit
    from tracker.petitions.models import Petition

    decided = db.session.execute(
        sa.select(Petition.stage, sa.func.count()).group_by(Petition.stage).order_by(Petition.stage)
    ).all()
    print("stages: " + ", ".join(f"{stage} {n:,}" for stage, n in decided))
    print(audit.verify_chain().message)


# --- the same benchmark on older code --------------------------------------------------------


def run_compared(module: str, arguments, run) -> None:
    """``run(arguments) -> {label: seconds}``, after the same on ``--compare``'s code if given.

    The older code runs in a child process from an export of the git ref, with this tree's
    ``bench/`` copied over it (the same harness; only ``tracker/`` and the migrations differ),
    right before this tree's run, on a database of its own.
    """
    if not arguments.compare:
        save_results(run(arguments))
        return
    print(f"== {module} on {arguments.compare} ({load_average()})", flush=True)
    old, old_cpu = _run_old(module, arguments.compare, arguments.database_name)
    print(f"== {module} on this tree ({load_average()})", flush=True)
    new = run(arguments)
    print(f"== {arguments.compare} → this tree, same run ({load_average()}):")
    for label, seconds in new.items():
        if label in old:
            print(
                f"  {label}: {old[label]:.2f} s → {seconds:.2f} s "
                f"(CPU of the process: {old_cpu[label]:.2f} s → {CPU_TIMES[label]:.2f} s)"
            )


def save_results(results: dict) -> None:
    if os.environ.get(RESULTS_FILE):
        Path(os.environ[RESULTS_FILE]).write_text(json.dumps([results, CPU_TIMES]))


def _run_old(module: str, ref: str, database_name: str | None) -> dict:
    argv = _without_compare(sys.argv[1:])
    if database_name:
        argv = [*_without(argv, "--database-name"), "--database-name", f"{database_name}_old"]
    with tempfile.TemporaryDirectory(prefix="bench_old_") as directory:
        tree = Path(directory)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        subprocess.run(["rm", "-rf", str(tree / "bench")], check=True)
        subprocess.run(["cp", "-r", str(ROOT / "bench"), str(tree / "bench")], check=True)
        pybabel = Path(sys.executable).parent / "pybabel"
        subprocess.run(
            [str(pybabel), "-q", "compile", "--use-fuzzy", "-d", "tracker/translations"],
            cwd=tree,
            check=True,
        )
        results = tree / "results.json"
        # The child's own directory comes first on its path: it imports that tracker.
        env = os.environ | {RESULTS_FILE: str(results)}
        subprocess.run([sys.executable, "-m", module, *argv], cwd=tree, env=env, check=True)
        return json.loads(results.read_text())


def _without(argv: list[str], option: str) -> list[str]:
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument == option:
            skip = True
        elif not argument.startswith(option + "="):
            kept.append(argument)
    return kept


def _without_compare(argv: list[str]) -> list[str]:
    return _without(argv, "--compare")


def print_header() -> None:
    """Which database and which code (``--compare`` runs another tree's) a run measures."""
    import tracker

    print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    print(f"code: {Path(tracker.__file__).parent}; {load_average()}", flush=True)
