"""The floor: the most a bare Flask + SQLAlchemy app serves here, running each page's own query.

No authentication, sessions, forms, templates, audit or read log: one query per page, its rows
as JSON. ``bench.pages`` serves it under gunicorn beside the tracker and compares each page.

    DATABASE_URL=… gunicorn --workers 2 bench.floor_app:app
"""

import os

from flask import Flask
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"])
app = Flask(__name__)
QUEUE = "SELECT * FROM petition WHERE stage = :stage ORDER BY created_at, id LIMIT 26"
CASE = "SELECT * FROM petition WHERE case_number = :case_number"
HISTORY = "SELECT a.* FROM audit_entry a JOIN petition p ON p.id = a.petition_id WHERE p.case_number = :case_number ORDER BY a.id"  # noqa: E501


def rows(sql: str, **parameters) -> list[dict]:
    with engine.connect() as connection:
        return [
            {k: str(v) for k, v in r.items()}
            for r in connection.execute(text(sql), parameters).mappings()
        ]  # noqa: E501


app.add_url_rule("/hello", "hello", lambda: "hello")
app.add_url_rule("/queue/<stage>", "queue", lambda stage: rows(QUEUE, stage=stage))
app.add_url_rule(
    "/case/<case_number>", "case", lambda case_number: rows(CASE, case_number=case_number)
)  # noqa: E501
app.add_url_rule(
    "/history/<case_number>", "history", lambda case_number: rows(HISTORY, case_number=case_number)
)  # noqa: E501
