"""The floor: the most a bare Flask + SQLAlchemy app serves here, running each page's own queries.

No authentication, sessions, forms, templates, audit or read log: the page's reads, their rows
as JSON. ``bench.pages`` serves it under gunicorn beside the tracker and compares each page.

- ``/queue/<stage>``: the queue's 26 rows of one stage in queue order (the queue, the API list);
- ``/case/<case_number>``: one case by number (the API's case);
- ``/history/<case_number>``: a case's audit entries (the API's history);
- ``/case_page/<case_number>``: what the case page reads to show a case — the case with
  whether it has notes, documents, referrals, information requests, recommendations and other
  petitions of its petitioner (one EXISTS each), those other petitions when it has any, and
  its history with the people in it. The tracker reads a collection only when that first
  query says it is not empty, as the floor does; the benchmark's cases have none of the first
  five and nine other petitions each, so both read the same three things;
- ``/hello``: nothing (the sign-in page).

    DATABASE_URL=… gunicorn --workers 2 bench.floor_app:app
"""

import os

from flask import Flask
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"])
app = Flask(__name__)
QUEUE = "SELECT * FROM petition WHERE stage = :stage ORDER BY created_at, id LIMIT 26"
CASE = "SELECT * FROM petition WHERE case_number = :case_number"
HISTORY = (
    "SELECT a.* FROM audit_entry a JOIN petition p ON p.id = a.petition_id"
    " WHERE p.case_number = :case_number ORDER BY a.id"
)
CASE_PAGE = (
    "SELECT p.*, "
    + ", ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE petition_id = p.id) AS has_{table}"
        for table in ("note", "information_request", "referral", "recommendation", "document")
    )
    + ", EXISTS (SELECT 1 FROM petition o WHERE o.petitioner_key = p.petitioner_key"
    " AND o.id != p.id) AS has_related FROM petition p WHERE p.case_number = :case_number"
)
TIMELINE = (
    "SELECT a.*, actor.name AS actor_name, actor.role AS actor_role,"
    " subject.name AS subject_name, subject.role AS subject_role FROM audit_entry a"
    ' LEFT JOIN "user" actor ON actor.id = a.actor_id'
    ' LEFT JOIN "user" subject ON subject.id = a.subject_user_id'
    " WHERE a.petition_id = :id AND a.category = 'case' ORDER BY a.id"
)
RELATED = (
    "SELECT id, case_number, kind, stage, created_at, decided_at FROM petition"
    " WHERE petitioner_key = :key AND id != :id ORDER BY created_at, id"
)


def rows(sql: str, connection=None, **parameters) -> list[dict]:
    if connection is None:
        with engine.connect() as connection:
            return rows(sql, connection, **parameters)
    result = connection.execute(text(sql), parameters).mappings()
    return [{k: str(v) for k, v in r.items()} for r in result]


def case_page(case_number: str) -> dict:
    with engine.connect() as connection:
        (petition,) = rows(CASE_PAGE, connection, case_number=case_number)
        related = []
        if petition["has_related"] in ("True", "1"):
            related = rows(RELATED, connection, key=petition["petitioner_key"], id=petition["id"])
        history = rows(TIMELINE, connection, id=petition["id"])
        return {"petition": petition, "history": history, "related": related}


app.add_url_rule("/hello", "hello", lambda: "hello")
app.add_url_rule("/queue/<stage>", "queue", lambda stage: rows(QUEUE, stage=stage))
app.add_url_rule(
    "/case/<case_number>", "case", lambda case_number: rows(CASE, case_number=case_number)
)
app.add_url_rule(
    "/history/<case_number>", "history", lambda case_number: rows(HISTORY, case_number=case_number)
)
app.add_url_rule("/case_page/<case_number>", "case_page", case_page)
