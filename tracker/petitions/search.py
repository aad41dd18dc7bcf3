"""Search as people type (issue 15): names and aliases in any order, case and accents ignored,
parts of words, case, register and docket numbers; typos on PostgreSQL.

Every petition carries ``search_text``: its name, aliases, case, register and docket numbers
folded (accents dropped, lower-cased, punctuation to spaces) into words, padded with a space
each side, written by the same service calls that write those fields (``search_text`` below is
the one function that computes it, as ``petitioner_key`` is for the petitioner). A query is
folded the same way into words, and a petition matches when each word is part of its text
(``LIKE '%word%'``), so "Fuentes, Dolores" finds "Dolores María Fuentes-Ramírez". A word of one
or two letters must start a word (``LIKE '% jo%'``): inside words such fragments are in most
petitions, and no trigram index can find them (a scan of every petition, 0.3–1.2 s at a
million, for "ma ra" or "lopez jo"); a word start is a trigram with the space before it.

The index: PostgreSQL's ``pg_trgm`` GIN index on the column answers the LIKEs and the typo
match (``word <% search_text``, word similarity); SQLite's FTS5 trigram table over the column
(``petition_search``, kept in step by triggers, as an index is) answers the same substrings.
A query of one-letter words alone ("x", "d r") has no trigram: where such letters are common
among the table's first rows a walk finds a page of them at once; else SQLite reads the
index's own terms (``petition_search_terms``) that start a word with each letter (" xa",
" x ") and asks the index for those, rather than reading every petition (1.8 s at a million).

Ranking, and why it is bounded: ranking every match of a common surname (a tenth of a million
petitions share one in the bench) cost 0.2–0.7 s. So a search first reads from the index the
ids of at most ``RANKED_MAX`` + 1 matching petitions (one statement). If there are no more than
``RANKED_MAX``, the page, its count and bulk selection read those ids (the search's index is
read once per request, not once per statement), and they are ranked — every word a whole word
of the text, then the start of one, then inside one, then (PostgreSQL) a close spelling — and
the queue's order follows within a rank. If more match, the words are common and ranking
them says little: the page walks the queue's own index in its order and keeps the matches (a
tenth of the rows match, so a page reads a few hundred), and the page says it is unranked.
"""

import re
import unicodedata
from dataclasses import dataclass

from flask import g, has_app_context
from sqlalchemy import and_, case, column, exists, false, func, literal, select, table, text
from sqlalchemy.sql.expression import ColumnElement

from tracker.extensions import db
from tracker.petitions.fields import CASE_NUMBER, REGISTER_NUMBER

#: More matches than this are shown in the queue's order, unranked (see the module's doc).
RANKED_MAX = 1_000
#: Shorter words must start a word of the text (see the module's doc).
INSIDE_MIN = 3
#: PostgreSQL: the table's first rows, where several words are proved common (``_dense``).
PROOF_ROWS = 15_000
#: A register number typed without its dash: five digits then three.
REGISTER_DIGITS = re.compile(r"^\d{8}$")
#: The SQLite FTS5 trigram table over ``petition.search_text`` (created by the migration).
FTS_TABLE = table("petition_search", column("rowid"), column("petition_search"))
#: SQLite: its terms (an ``fts5vocab`` table), for words of one letter (``_letter_phrase``).
FTS_TERMS = table("petition_search_terms", column("term"))
#: SQLite: words of one letter are common when the table's first GLANCE_ROWS rows have
#: GLANCE_COMMON matches: a walk in the queue's order then finds a page of them at once.
GLANCE_ROWS = 2_000
GLANCE_COMMON = 50
_NOT_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile("['\u2019\u02bc]")


def fold(value: str | None) -> str:
    """Accents dropped, lower-cased, anything but letters and digits a space."""
    if not value:
        return ""
    # An apostrophe joins (O'Brien is obrien), other punctuation separates words.
    decomposed = unicodedata.normalize("NFKD", _APOSTROPHES.sub("", value))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def _compact(value: str | None) -> str:
    """A number's letters and digits run together ("04512-093" → "04512093")."""
    return fold(value).replace(" ", "")


def search_text(values) -> str:
    """The petition's folded search words (from a dict of its values, or a Petition), padded
    with a space each side so that a whole word is ``LIKE '% word %'``."""
    read = values.get if isinstance(values, dict) else lambda name: getattr(values, name, None)
    parts = [read("petitioner_name"), *(read("aliases") or ())]
    for number in (read("case_number"), read("register_number"), read("docket_number")):
        if number:
            parts += [number, _compact(number)]
    words = dict.fromkeys(" ".join(fold(part) for part in parts if part).split())
    return f" {' '.join(words)} "


def _search_text_default(context) -> str:
    return search_text(context.get_current_parameters())


def query_words(q: str) -> list[str]:
    return list(dict.fromkeys(fold(q).split()))


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(column_, pattern: str):
    return column_.like(pattern, escape="\\")


def _part(word: str) -> str:
    """What the text must contain: the word, or if it is short a word starting with it."""
    return word if len(word) >= INSIDE_MIN else f" {word}"


def _contains(word: str) -> str:
    """The LIKE pattern of ``_part``."""
    return f"%{_escaped(_part(word))}%"


@dataclass(frozen=True)
class Search:
    """A parsed query: an exact case or register number, or words."""

    case_number: str | None = None
    register_number: str | None = None
    words: tuple[str, ...] = ()
    #: PostgreSQL: words no petition contains, matched by similarity instead (typos).
    fuzzy: tuple[str, ...] = ()
    #: More than RANKED_MAX petitions match: walk the queue's order, unranked.
    common: bool = False
    #: Otherwise the ids of the petitions that match (read once, from the search's index).
    ids: tuple[int, ...] = ()
    #: PostgreSQL: several words, common among the table's first rows (``_dense``).
    dense: bool = False

    @property
    def ranked(self) -> bool:
        return bool(self.words) and not self.common

    @property
    def narrow(self) -> bool:
        """It names few cases (at most RANKED_MAX): the search's index should drive."""
        return bool(self.case_number or self.register_number) or self.ranked


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def parse(q: str) -> Search:
    """The query's kind, and for words the ids of the petitions they match, or that they are
    common (one bounded index read); on PostgreSQL, when nothing matches, which words are
    typos (one statement more, and a second index read if there are). Read once per request:
    the queue's conditions, its count and its ranking all ask."""
    if not has_app_context():
        return _parse(q)
    parsed = g.setdefault("parsed_searches", {})
    if q not in parsed:
        parsed[q] = _parse(q)
    return parsed[q]


def _parse(q: str) -> Search:
    q = q.strip()
    if CASE_NUMBER.match(q.upper()):
        return Search(case_number=q.upper())
    if REGISTER_NUMBER.match(q):
        return Search(register_number=q)
    if REGISTER_DIGITS.match(q):
        return Search(register_number=f"{q[:5]}-{q[5:]}")
    words = tuple(query_words(q))
    if not words:  # only punctuation: nothing to look for
        return Search()
    search = Search(words=words)
    if len(words) > 1 and _dialect() == "postgresql" and _dense(search):
        return Search(words=words, common=True, dense=True)
    ids = _first_matches(search)
    if not ids and _dialect() == "postgresql":
        # Only when the words match nothing can one be a word no petition contains (a typo).
        fuzzy = words if len(words) == 1 else _unknown(words)
        if fuzzy:
            search = Search(words=words, fuzzy=fuzzy)
            ids = _first_matches(search)
    if len(ids) > RANKED_MAX:
        return Search(words=words, fuzzy=search.fuzzy, common=True)
    return Search(words=words, fuzzy=search.fuzzy, ids=tuple(ids))


def _dense(search: Search) -> bool:
    """Whether more than RANKED_MAX of the table's first PROOF_ROWS rows match (a few ms).

    PostgreSQL reckons that several words match as if they were unrelated (a tenth times a
    tenth), so it reads words that go together ("garcia james", one petition in ten in the
    bench) from the trigram index, every posting of their trigrams: 20–50 ms a statement at
    a million petitions, twice a page (the bounded read here and the page's count). A walk
    through the first rows proves them common first, and ``condition`` shows the planner
    how common. It glances at a fifth of those rows first, in the same statement: words
    that are not as common (most searches) stop there.
    """
    # The longest word first: it is the likeliest to fail, and a row stops at the first miss.
    words = sorted(search.words, key=len, reverse=True)
    glance = (RANKED_MAX + 1) // 5
    proof = select(_matches_in_first_rows(words, PROOF_ROWS, RANKED_MAX + 1)).where(
        _matches_in_first_rows(words, PROOF_ROWS // 5, glance) >= glance
    )
    return (db.session.scalar(proof) or 0) > RANKED_MAX


def _first_matches(search: Search) -> list[int]:
    return list(db.session.scalars(_matching_ids(search).limit(RANKED_MAX + 1)))


def _unknown(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words no petition contains, in one statement (an index probe each)."""
    from tracker.petitions.models import Petition

    known = db.session.execute(
        select(*[exists().where(_like(Petition.search_text, _contains(word))) for word in words])
    ).one()
    return tuple(word for word, present in zip(words, known, strict=True) if not present)


def _fts_phrase(words) -> str | None:
    """An FTS5 query: each word as a quoted trigram phrase, a short one with the space before
    it (the start of a word); a word of one letter is no trigram (see ``_letter_phrase``)."""
    phrases = [w if len(w) >= INSIDE_MIN else f" {w}" for w in words]
    indexed = [p for p in phrases if len(p) >= 3]
    if not indexed:
        return None
    return " AND ".join('"' + p.replace('"', '""') + '"' for p in indexed)


def _common_letters(letters) -> bool:
    """SQLite: whether words of one letter match often among the table's first rows (1–2 ms).

    Such a word has no trigram: a walk through the rows finds common ones at once ("j": one
    petition in a few), but reads every row for a rare one ("x": 1.8 s at a million).
    """
    found = _matches_in_first_rows(letters, GLANCE_ROWS, GLANCE_COMMON)
    return db.session.scalar(select(found)) >= GLANCE_COMMON


def _matches_in_first_rows(words, rows: int, at_most: int):
    """How many of the table's first ``rows`` rows match every word, counting to ``at_most``
    (a scalar subquery)."""
    from tracker.petitions.models import Petition

    first_rows = select(Petition.search_text).limit(rows).subquery()
    found = (
        select(literal(1))
        .select_from(first_rows)
        .where(*[_like(first_rows.c.search_text, _contains(word)) for word in words])
        .limit(at_most)
    )
    return select(func.count()).select_from(found.subquery()).scalar_subquery()


def _letter_phrase(letters) -> str | None:
    """SQLite: an FTS5 query for words starting with each letter, from the index's own terms:
    every trigram that is a space, the letter and one character more (" xa", " x ", " xø")
    is one way a word starts with it. None when some letter starts no word at all."""
    ranges = []
    for letter in letters:
        start = f" {letter}"
        terms = db.session.scalars(
            select(FTS_TERMS.c.term).where(
                FTS_TERMS.c.term >= start, FTS_TERMS.c.term < f" {chr(ord(letter) + 1)}"
            )
        ).all()
        if not terms:
            return None
        ranges.append("(" + " OR ".join('"' + t.replace('"', '""') + '"' for t in terms) + ")")
    return " AND ".join(ranges)


def _word_conditions(search: Search) -> list:
    from tracker.petitions.models import Petition

    conditions = []
    for word in search.words:
        if word in search.fuzzy:
            conditions.append(Petition.search_text.bool_op("%>")(word))
        else:
            conditions.append(_like(Petition.search_text, _contains(word)))
    return conditions


def _matching_ids(search: Search):
    """The ids of petitions matching the words, read through the index (no other filter)."""
    from tracker.petitions.models import Petition

    if _dialect() == "sqlite":
        letters = [word for word in search.words if len(word) == 1]
        others = [word for word in search.words if len(word) > 1]
        phrase = _fts_phrase(others)
        # Letters alone and common: the walk below finds a page of them at once. Else each
        # letter's word starts come from the index: with a word ("lopez j"), a LIKE on every
        # petition the word matches read a tenth of the table when few have the letter.
        if letters and (others or not _common_letters(letters)):
            starts = _letter_phrase(letters)
            if starts is None:
                return select(Petition.id).where(false())
            phrase = f"{phrase} AND {starts}" if phrase else starts
        if phrase is not None:
            return (
                select(FTS_TABLE.c.rowid.label("id"))
                .select_from(FTS_TABLE)
                .where(text("petition_search MATCH :phrase").bindparams(phrase=phrase))
            )
    return select(Petition.id).where(*_word_conditions(search))


def condition(search: Search) -> ColumnElement:
    """Which petitions match: the same on the queue, the API and bulk selection."""
    from tracker.petitions.models import Petition

    if search.case_number:
        return Petition.case_number == search.case_number
    if search.register_number:
        return Petition.register_number == search.register_number
    if not search.words:
        return false()
    if search.dense:
        # The longest word as the index's LIKE, the others as a test the planner reckons
        # nearly always true: it expects as many matches as the longest word has (the words
        # go together), and reads the queue's order, or every row for the count, stopping
        # early, rather than every posting of the words' trigrams.
        longest = max(search.words, key=len)
        return and_(
            _like(Petition.search_text, _contains(longest)),
            *[
                func.strpos(Petition.search_text, _part(word)) != 0
                for word in search.words
                if word != longest
            ],
        )
    if search.common:
        # Read in the queue's order (PostgreSQL's planner may choose the trigram index), row
        # by row, stopping at the page: a common word matches one row in a few.
        return and_(*_word_conditions(search))
    return Petition.id.in_(search.ids)


def rank(search: Search) -> ColumnElement:
    """0 every word a whole word of the text, 1 the start of one, 2 inside one, 3 a close
    spelling (PostgreSQL): the worst of the words'."""
    from tracker.petitions.models import Petition

    column_ = Petition.search_text
    ranks = []
    for word in search.words:
        if word in search.fuzzy:
            ranks.append(literal(3))
            continue
        escaped = _escaped(word)
        ranks.append(
            case(
                (_like(column_, f"% {escaped} %"), 0),
                (_like(column_, f"% {escaped}%"), 1),
                else_=2,
            )
        )
    if len(ranks) == 1:
        return ranks[0]
    return (func.greatest if _dialect() == "postgresql" else func.max)(*ranks)
