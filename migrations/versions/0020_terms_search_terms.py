"""Search: the SQLite trigram index's terms, readable (``petition_search_terms``).

An ``fts5vocab`` table over ``petition_search``: it stores nothing, it lists the trigrams the
index holds. A search of one-letter words ("x", "j r") has no trigram of its own; the terms
that start with a space and the letter (" xa", " xi", " x ") are exactly the ways a word can
start with it, which the index then answers (``tracker.petitions.search``). PostgreSQL's
``pg_trgm`` indexes a word's start as it is: nothing to do there.

Revision ID: 0020_terms
Revises: 0019_dash
Create Date: 2026-11-30 12:40:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0020_terms"
down_revision = "0019_dash"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE petition_search_terms USING fts5vocab(petition_search, row)"
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS petition_search_terms")
