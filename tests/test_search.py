"""Search as people type (issue 15): the table of queries and the cases they find, on both
databases (typos on PostgreSQL only), ranking, paging of ranked and common searches, and the
search words kept by every write of the fields they come from."""

from datetime import date

import pytest
from flask import g
from sqlalchemy import select

from tests.conftest import on_postgres, petition_values
from tests.helpers import form_with, page_text, petition_row
from tracker.extensions import db
from tracker.petitions import importing, queries, search, services
from tracker.petitions.filters import QueueFilters
from tracker.petitions.models import Petition
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]

#: name → the petition's fields beyond the defaults.
PEOPLE = {
    "dolores": {
        "petitioner_name": "Dolores María Fuentes-Ramírez",
        "register_number": "04512-093",
        "aliases": ["Lola Fuentes", "María D. Ramírez"],
        "docket_number": "1:04-cr-00123",
    },
    "garcia": {"petitioner_name": "James García", "register_number": "11111-222"},
    "garciano": {"petitioner_name": "Luis Garciano", "register_number": "33333-444"},
    "ana": {"petitioner_name": "Ana Nguyen", "register_number": "55555-666"},
    "anabel": {"petitioner_name": "Anabel Ortiz", "register_number": "77777-888"},
    "mariana": {"petitioner_name": "Mariana Oyelaran", "register_number": "99999-000"},
    "obrien": {
        "petitioner_name": "Seán O'Brien",
        "register_number": "24680-135",
        "docket_number": "3:11-CR-0456 (RJS)",
    },
    "soren": {"petitioner_name": "Søren Ølgaard", "register_number": "13579-246"},
}

#: query → the people it finds, best first (ties in the queue's order, oldest first).
TABLE = [
    # accents and case
    ("ramirez", ["dolores"]),
    ("RAMÍREZ", ["dolores"]),
    ("garcia", ["garcia", "garciano"]),
    ("García", ["garcia", "garciano"]),
    # word order, commas, hyphens
    ("fuentes dolores", ["dolores"]),
    ("Fuentes, Dolores", ["dolores"]),
    ("dolores fuentes-ramirez", ["dolores"]),
    ("ramirez maria dolores fuentes", ["dolores"]),
    # parts of words, ranked: whole word, start of one, inside one
    ("fuent", ["dolores"]),
    ("ana", ["ana", "anabel", "mariana"]),
    ("ana oyel", ["mariana"]),
    ("obrien", ["obrien"]),
    ("o'brien", ["obrien"]),
    ("sean", ["obrien"]),
    # a word of one or two letters starts a word (inside words it is in almost every case)
    ("ra", ["dolores"]),
    ("an", ["ana", "anabel"]),
    ("lola f", ["dolores"]),
    ("d", ["dolores"]),
    ("g", ["garcia", "garciano"]),
    ("o", ["anabel", "mariana", "obrien"]),
    ("s", ["obrien", "soren"]),
    ("ø", ["soren"]),
    ("s ø", ["soren"]),
    ("d r", ["dolores"]),
    ("x", []),
    # register numbers with or without the dash, case and docket numbers
    ("04512-093", ["dolores"]),
    ("04512093", ["dolores"]),
    ("1:04-cr-00123", ["dolores"]),
    ("04cr00123", ["dolores"]),
    ("3:11-cr-0456", ["obrien"]),
    ("rjs", ["obrien"]),
    # aliases
    ("lola", ["dolores"]),
    ("lola fuentes", ["dolores"]),
    ("d ramirez maria", ["dolores"]),
    # nothing
    ("lola garcia", []),
    ("zzz", []),
    ("%", []),
    ("__", []),
]
#: PostgreSQL also finds close spellings of a word no petition contains.
TYPOS = [
    ("ramirex", ["dolores"]),
    ("fuentez dolores", ["dolores"]),
    ("Oyelaren", ["mariana"]),
    ("anabell ortiz", ["anabel"]),
]


@pytest.fixture
def people(make_petition, make_user):
    advocate = make_user("advocate")
    cases = {
        name: make_petition(advocate=advocate, **fields).case_number
        for name, fields in PEOPLE.items()
    }
    return cases, make_user("supervisor")


def found(user, q, **filters) -> list[str]:
    """The case numbers the queue shows for ``q``, in its order, on one page."""
    g.pop("parsed_searches", None)
    queue_filters = QueueFilters(q=q, **filters)
    page = queries.queue_page(
        queries.queue_query(user, queue_filters),
        per_page=50,
        sort=queue_filters.sort,
        position=queries.QueuePosition(),
        q=q,
    )
    return [petition.case_number for petition in page.items]


@pytest.mark.parametrize(("q", "expected"), TABLE, ids=[q for q, _ in TABLE])
def test_search_table(people, q, expected):
    cases, supervisor = people
    assert found(supervisor, q) == [cases[name] for name in expected]


@pytest.mark.skipif(not on_postgres(), reason="typo tolerance is PostgreSQL's (pg_trgm)")
@pytest.mark.parametrize(("q", "expected"), TYPOS, ids=[q for q, _ in TYPOS])
def test_typos_on_postgresql(people, q, expected):
    cases, supervisor = people
    assert found(supervisor, q) == [cases[name] for name in expected]


def test_a_case_number_finds_its_case_first(people):
    cases, supervisor = people
    assert found(supervisor, cases["anabel"].lower()) == [cases["anabel"]]
    assert found(supervisor, cases["anabel"][-6:]) == [cases["anabel"]]


def test_the_search_keeps_the_other_filters(people, make_petition):
    cases, supervisor = people
    under_review = make_petition(
        stage=Stage.UNDER_REVIEW, petitioner_name="Ana Lucía Prado", register_number="12121-212"
    )
    assert found(supervisor, "ana", stages=("under_review",)) == [under_review.case_number]
    assert found(supervisor, "ana", sort="newest")[:2] == [under_review.case_number, cases["ana"]]


def test_ranked_pages_follow_each_other(people):
    """Keyset pages of a ranked search: forwards one at a time, then back."""
    cases, supervisor = people
    filters = QueueFilters(q="ana")
    statement = queries.queue_query(supervisor, filters)
    seen, position, pages = [], queries.QueuePosition(), []
    while True:
        page = queries.queue_page(statement, 1, "oldest", position, q="ana")
        pages.append(page)
        seen += [p.case_number for p in page.items]
        if not page.has_next:
            break
        position = queries.parse_position({"after": page.next_position})
    assert seen == [cases["ana"], cases["anabel"], cases["mariana"]]
    assert [page.ranks for page in pages] == [[0], [1], [2]]
    back = queries.queue_page(
        statement, 1, "oldest", queries.parse_position({"before": pages[-1].prev_position}), "ana"
    )
    assert [p.case_number for p in back.items] == [cases["anabel"]]


def test_a_common_word_is_shown_in_queue_order_and_pages(people, monkeypatch):
    """More matches than RANKED_MAX: not ranked, the queue's order, keyset pages as ever."""
    cases, supervisor = people
    monkeypatch.setattr(search, "RANKED_MAX", 2)
    g.pop("parsed_searches", None)
    filters = QueueFilters(q="ana")
    statement = queries.queue_query(supervisor, filters)
    first = queries.queue_page(statement, 2, "oldest", queries.QueuePosition(), q="ana")
    assert first.unranked_search and first.ranks is None
    after = queries.parse_position({"after": first.next_position})
    second = queries.queue_page(statement, 2, "oldest", after, q="ana")
    listed = [p.case_number for p in first.items + second.items]
    assert listed == [cases["ana"], cases["anabel"], cases["mariana"]]  # queue order


@pytest.mark.parametrize("q", ["fuentes dolores", "ramirez lo", "lola f"])
def test_words_common_among_the_first_rows_find_the_same(people, monkeypatch, q):
    """PostgreSQL proves several words common among the table's first rows and tells its
    planner so (one word through the index, the others a plain test): the same cases."""
    cases, supervisor = people
    monkeypatch.setattr(search, "RANKED_MAX", 0)
    g.pop("parsed_searches", None)
    assert search.parse(q).common
    assert search.parse(q).dense == on_postgres()
    assert found(supervisor, q) == [cases["dolores"]]


def test_the_web_queue_and_the_api_search_alike(people, client, auth, api_as):
    cases, supervisor = people
    auth.login(supervisor)
    page = client.get("/petitions", query_string={"q": "Fuentes, Dolores"})
    assert page.status_code == 200 and cases["dolores"] in page.get_data(as_text=True)
    assert cases["garcia"] not in page.get_data(as_text=True)
    api = api_as("reviewer")
    body = api.get("/api/v1/petitions?q=04512093").get_json()
    assert [item["case_number"] for item in body["items"]] == [cases["dolores"]]
    body = api.get("/api/v1/petitions?q=garcia").get_json()
    assert sorted(item["case_number"] for item in body["items"]) == sorted(
        [cases["garcia"], cases["garciano"]]
    )


def test_bulk_selection_selects_what_the_search_finds(people, client, auth):
    cases, supervisor = people
    auth.login(supervisor)
    form = form_with(client.get("/petitions", query_string={"q": "garcia"}), "reason")
    chosen = {"all_matching": "y", "action": "start_review", "reason": ""}
    confirm = client.post("/petitions/bulk", data=form.fields | chosen)
    assert "Start review 2 cases?" in page_text(confirm)
    client.post("/petitions/bulk/apply", data=form_with(confirm, "selection").fields)
    stages = {name: petition_row(petition_id(cases[name]))["stage"] for name in cases}
    assert {name for name, stage in stages.items() if stage == "under_review"} == {
        "garcia",
        "garciano",
    }


def petition_id(case_number: str) -> int:
    return db.session.scalar(select(Petition.id).where(Petition.case_number == case_number))


# --- the search words follow every write ------------------------------------------------------


def test_an_edit_changes_what_finds_the_case(people):
    cases, supervisor = people
    petition = services.get_visible_petition(supervisor, cases["anabel"])
    services.update_petition(
        petition,
        supervisor,
        {"petitioner_name": "Anabel Ortiz-Núñez", "aliases": ["Bela"], "docket_number": "9-cr-7"},
        None,
    )
    db.session.commit()
    assert found(supervisor, "nunez") == [cases["anabel"]]
    assert found(supervisor, "bela")[0] == cases["anabel"]
    assert found(supervisor, "9cr7") == [cases["anabel"]]
    assert petition.search_text == search.search_text(petition)


def test_corrections_with_an_answer_update_the_search_and_the_petitioner(make_petition, make_user):
    petition = make_petition(stage=Stage.INFORMATION_REQUESTED, register_number="86420-975")
    supervisor = make_user("supervisor")
    services.apply_transition(
        petition,
        petition.advocate,
        "provide_information",
        response="Here is the corrected name.",
        corrections={"petitioner_name": "Renée Zapata", "register_number": "86420-976"},
    )
    db.session.commit()
    db.session.refresh(petition)
    assert petition.petitioner_key == "R:86420-976"
    assert petition.search_text == search.search_text(petition)
    assert found(supervisor, "renee zapata") == [petition.case_number]
    assert found(supervisor, "86420976") == [petition.case_number]


def test_imported_petitions_are_found(make_user):
    advocate = make_user("advocate")
    values = petition_values(petitioner_name="Zoë Ἀθηνᾶ Kowalczyk", register_number="13579-246")
    csv = ",".join(values) + "\n" + ",".join(f'"{value}"' for value in values.values())
    [case_number] = services.import_petitions(advocate, importing.read_csv(csv))
    db.session.commit()
    assert found(make_user("supervisor"), "zoe kowalczyk") == [case_number]


def test_fold():
    assert search.fold("Dolores María Fuentes-Ramírez") == "dolores maria fuentes ramirez"
    assert search.fold("  O'BRIEN,  Seán ") == "obrien sean"
    text = search.search_text(
        {
            "petitioner_name": "Zoë",
            "aliases": ["Z. K."],
            "case_number": "CP-2026-000001",
            "register_number": "04512-093",
            "docket_number": None,
            "born": date(1970, 1, 1),
        }
    )
    assert text == " zoe z k cp 2026 000001 cp2026000001 04512 093 04512093 "


def test_the_page_says_when_a_search_is_not_ranked(people, client, auth, monkeypatch):
    cases, supervisor = people
    auth.login(supervisor)
    assert "add a word" not in page_text(client.get("/petitions", query_string={"q": "ana"}))
    monkeypatch.setattr(search, "RANKED_MAX", 2)
    assert "add a word" in page_text(client.get("/petitions", query_string={"q": "ana"}))


@pytest.mark.parametrize("q", ["fuentes dolores", "04512093"])
def test_a_search_costs_a_statement_or_two(people, client, auth, count_statements, q):
    """Beyond the queue's own: the bounded index read of the matching ids (which the page
    and its count then read), and on PostgreSQL for several words the walk through the first
    rows that would prove them common; numbers none."""
    cases, supervisor = people
    auth.login(supervisor)
    assert client.get("/petitions").status_code == 200
    with count_statements() as plain:
        client.get("/petitions", query_string={"stage": "received"})
    with count_statements() as searched:
        response = client.get("/petitions", query_string={"stage": "received", "q": q})
    assert cases["dolores"] in response.get_data(as_text=True)
    extra = 0 if q.isdigit() else 1 + (1 if on_postgres() else 0)
    assert len(searched) - len(plain) == extra, searched
