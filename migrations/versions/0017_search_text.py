"""Search as people type: petition.search_text and its index (issue 15).

Adds ``search_text``, the petition's folded search words, computed here for every existing
petition as ``tracker.petitions.search.search_text`` computes it (copied, so this migration
keeps meaning what it meant when written). The index: on PostgreSQL a
``pg_trgm`` GIN index on the column (it replaces ``ix_petition_name_trgm``, which no query
reads any more); on SQLite an FTS5 trigram table over the column, kept in step by triggers.
A later migration that rebuilds ``petition`` on SQLite (batch mode: copy, drop, rename) drops
its triggers and must create them again (``SQLITE_SEARCH``).

Revision ID: 0017_search
Revises: 0016_time
Create Date: 2026-11-30 05:40:00

"""

import re
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0017_search"
down_revision = "0016_time"
branch_labels = None
depends_on = None

BATCH = 20_000
_NOT_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile("['\u2019\u02bc]")

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE petition_search USING fts5("
    "search_text, content='petition', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER petition_search_insert AFTER INSERT ON petition BEGIN "
    "INSERT INTO petition_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER petition_search_delete AFTER DELETE ON petition BEGIN "
    "INSERT INTO petition_search(petition_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER petition_search_update AFTER UPDATE OF search_text ON petition BEGIN "
    "INSERT INTO petition_search(petition_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO petition_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO petition_search(petition_search) VALUES ('rebuild')",
)


def _fold(value):
    if not value:
        return ""
    # An apostrophe joins (O'Brien is obrien), other punctuation separates words.
    decomposed = unicodedata.normalize("NFKD", _APOSTROPHES.sub("", value))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def _search_text(name, aliases, case_number, register_number, docket_number) -> str:
    parts = [name, *(aliases or ())]
    for number in (case_number, register_number, docket_number):
        if number:
            parts += [number, _fold(number).replace(" ", "")]
    words = dict.fromkeys(" ".join(_fold(part) for part in parts if part).split())
    return f" {' '.join(words)} "


def upgrade():
    # NOT NULL from the start, with an empty default for the rows already there: SQLite adds
    # such a column in place, where making it NOT NULL afterwards rebuilds the whole table (a
    # copy of every row: minutes at a million petitions).
    op.add_column(
        "petition", sa.Column("search_text", sa.Text(), nullable=False, server_default="")
    )
    petition = sa.table(
        "petition",
        sa.column("id", sa.Integer()),
        sa.column("petitioner_name", sa.String()),
        sa.column("aliases", sa.JSON()),
        sa.column("case_number", sa.String()),
        sa.column("register_number", sa.String()),
        sa.column("docket_number", sa.String()),
        sa.column("search_text", sa.Text()),
    )
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(
                petition.c.id,
                petition.c.petitioner_name,
                petition.c.aliases,
                petition.c.case_number,
                petition.c.register_number,
                petition.c.docket_number,
            )
            .where(petition.c.id > last_id)
            .order_by(petition.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        computed = [(row.id, _search_text(*row[1:])) for row in rows]
        if connection.dialect.name == "postgresql":
            # One UPDATE … FROM (VALUES …) per thousand rows: a statement per row took over
            # 20 minutes for a million on a loaded PostgreSQL.
            for first in range(0, len(computed), 1000):
                words = sa.values(
                    sa.column("row_id", sa.Integer()), sa.column("words", sa.Text()), name="words"
                ).data(computed[first : first + 1000])
                connection.execute(
                    petition.update()
                    .where(petition.c.id == words.c.row_id)
                    .values(search_text=words.c.words)
                )
        else:  # SQLite has no column names for VALUES; its executemany is fast
            connection.execute(
                petition.update()
                .where(petition.c.id == sa.bindparam("row_id"))
                .values(search_text=sa.bindparam("words")),
                [{"row_id": row_id, "words": words} for row_id, words in computed],
            )
        last_id = rows[-1].id
    if connection.dialect.name == "postgresql":
        # Every write names the column (tracker.petitions.search.search_text); a row that
        # did not would be unsearchable, so no default. (SQLite keeps its empty default:
        # dropping it would rebuild the table.)
        op.alter_column("petition", "search_text", server_default=None)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("DROP INDEX IF EXISTS ix_petition_name_trgm")
        op.execute(
            "CREATE INDEX ix_petition_search_trgm ON petition USING gin (search_text gin_trgm_ops)"
        )
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_petition_search_trgm")
        op.execute(
            "CREATE INDEX ix_petition_name_trgm ON petition "
            "USING gin (lower(petitioner_name) gin_trgm_ops)"
        )
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS petition_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS petition_search")
    with op.batch_alter_table("petition") as batch:
        batch.drop_column("search_text")
