"""The queue: filters, search, order, pages, what advocates see, and a constant number of
SQL statements however many rows the page shows."""

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text

from tests.conftest import on_postgres
from tests.helpers import page_forms, page_text
from tracker.extensions import db
from tracker.petitions import queries
from tracker.petitions import services as petition_services
from tracker.petitions.filters import QueueFilters
from tracker.petitions.models import Petition
from tracker.workflow import Stage

CASE_LINK = re.compile(r'<a href="/petitions/(CP-\d{4}-\d{6})">')


def listed(response) -> list[str]:
    """The case numbers in the queue's table, in the order shown."""
    assert response.status_code == 200, response.status_code
    table = response.get_data(as_text=True).partition("<tbody>")[2].partition("</tbody>")[0]
    return CASE_LINK.findall(table)


@pytest.fixture
def docket(make_user, make_organization, make_petition):
    """Four cases over two organizations, one per stage, both kinds, some of them assigned.

    received      A  commutation  Maria Johnson    11111-111  assigned to the supervisor
    under_review  A  commutation  James Garcia     22222-222  assigned to Riley
    granted       B  pardon       Keisha Williams  —          nobody
    denied        B  commutation  Luis Nguyen      44444-444  nobody
    """
    org_a, org_b = make_organization("Org A"), make_organization("Org B")
    advocate_a = make_user("advocate", organization=org_a)
    advocate_b = make_user("advocate", organization=org_b)
    supervisor, riley = make_user("supervisor"), make_user("reviewer", name="Riley Reviewer")
    pardon = {
        "kind": "pardon",
        "register_number": None,
        "projected_release_date": None,
        "custody_status": "released",
    }
    cases = {
        "received": make_petition(
            advocate=advocate_a, petitioner_name="Maria Johnson", register_number="11111-111"
        ),
        "under_review": make_petition(
            Stage.UNDER_REVIEW,
            advocate=advocate_a,
            petitioner_name="James Garcia",
            register_number="22222-222",
        ),
        "granted": make_petition(
            Stage.GRANTED, advocate=advocate_b, petitioner_name="Keisha Williams", **pardon
        ),
        "denied": make_petition(
            Stage.DENIED,
            advocate=advocate_b,
            petitioner_name="Luis Nguyen",
            register_number="44444-444",
        ),
    }
    petition_services.assign_petition(cases["received"], supervisor, supervisor)
    petition_services.assign_petition(cases["under_review"], supervisor, riley)
    db.session.commit()
    return SimpleNamespace(
        org_a=org_a,
        org_b=org_b,
        advocate_a=advocate_a,
        supervisor=supervisor,
        riley=riley,
        case={name: petition.case_number for name, petition in cases.items()},
    )


def resolve(docket, text: str) -> str:
    """Fill the placeholders of the tables below with the docket's ids and case numbers."""
    return (
        text.replace("<riley>", str(docket.riley.id))
        .replace("<org A>", str(docket.org_a.id))
        .replace("<org B>", str(docket.org_b.id))
        .replace("<granted case>", docket.case["granted"])
        .replace("<granted case, lower-case>", docket.case["granted"].lower())
        .replace("<advocate A>", str(docket.advocate_a.id))
    )


def queue(client, docket, **filters):
    query = {name: resolve(docket, value) for name, value in filters.items()}
    return client.get("/petitions", query_string=query)


ALL = ["received", "under_review", "granted", "denied"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ALL),
        ({"stage": "received"}, ["received"]),
        ({"stage": "under_review"}, ["under_review"]),
        ({"stage": "granted"}, ["granted"]),
        ({"stage": "denied"}, ["denied"]),
        ({"kind": "pardon"}, ["granted"]),
        ({"kind": "commutation"}, ["received", "under_review", "denied"]),
        ({"assignee": "me"}, ["received"]),
        ({"assignee": "none"}, ["granted", "denied"]),
        ({"assignee": "<riley>"}, ["under_review"]),
        ({"organization": "<org A>"}, ["received", "under_review"]),
        ({"organization": "<org B>"}, ["granted", "denied"]),
        ({"kind": "commutation", "organization": "<org B>"}, ["denied"]),
        ({"stage": "received", "kind": "pardon"}, []),
    ],
    ids=lambda value: (
        "&".join(f"{k}={v}" for k, v in value.items()) or "none"
        if isinstance(value, dict)
        else None
    ),
)
def test_queue_filters(client, auth, docket, filters, expected):
    auth.login(docket.supervisor)
    response = queue(client, docket, **filters)
    assert listed(response) == [docket.case[name] for name in expected]
    assert f"{len(expected)} case" in page_text(response)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("<granted case>", ["granted"]),
        ("<granted case, lower-case>", ["granted"]),
        ("22222-222", ["under_review"]),
        ("keisha", ["granted"]),
        ("WILLIAMS", ["granted"]),
        ("sha wil", ["granted"]),
        ("  Garcia  ", ["under_review"]),
        # A letter or two starts a word (inside words they are in every case).
        ("J", ["received", "under_review"]),
        ("s", []),
        ("Nobody By That Name", []),
        ("%", []),
        ("_", []),
    ],
)
def test_queue_search(client, auth, docket, q, expected):
    auth.login(docket.supervisor)
    assert listed(queue(client, docket, q=q)) == [docket.case[name] for name in expected]


def test_queue_filters_are_kept_in_the_form(client, auth, docket):
    auth.login(docket.supervisor)
    response = queue(
        client, docket, q="Garcia", stage="under_review", assignee="<riley>", sort="newest"
    )
    [filters] = [form for form in page_forms(response) if form.method == "get"]
    assert (
        filters.fields
        | {
            "q": "Garcia",
            "stage": "under_review",
            "sort": "newest",
            "assignee": str(docket.riley.id),
        }
        == filters.fields
    )


@pytest.mark.parametrize(
    ("sort", "expected"),
    [(None, ALL), ("oldest", ALL), ("newest", ALL[::-1])],
)
def test_queue_order(client, auth, docket, sort, expected):
    auth.login(docket.supervisor)
    filters = {"sort": sort} if sort else {}
    assert listed(queue(client, docket, **filters)) == [docket.case[name] for name in expected]


def link(response, label: str) -> str | None:
    """The href of the pagination link named ``label``, or None when it is disabled."""
    found = re.search(rf'href="([^"]+)">{label}<', response.get_data(as_text=True))
    href = found.group(1).replace("&amp;", "&") if found else None
    return None if href == "#" else href


def test_queue_pages(app, client, auth, docket, monkeypatch):
    """Keyset pages: Next after the last case shown, Previous before the first, First."""
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 3)
    auth.login(docket.supervisor)
    oldest_first = [docket.case[name] for name in ALL]

    first = queue(client, docket)
    assert listed(first) == oldest_first[:3] and "4 cases" in page_text(first)
    assert link(first, "Previous") is None and link(first, "First") is None

    second = client.get(link(first, "Next"))
    assert listed(second) == oldest_first[3:] and "4 cases" in page_text(second)
    assert link(second, "Next") is None

    back = client.get(link(second, "Previous"))
    assert listed(back) == oldest_first[:3]
    assert link(back, "Previous") is None and link(back, "Next") is not None
    assert listed(client.get(link(second, "First"))) == oldest_first[:3]


@pytest.mark.parametrize("sort", ["oldest", "newest", "days_pending", "days_in_stage"])
def test_keyset_pages_walk_every_order_both_ways(app, client, auth, docket, monkeypatch, sort):
    """One case a page, forwards to the end and back to the start, in each order."""
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 1)
    auth.login(docket.supervisor)
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 10)
    everything = listed(client.get(f"/petitions?sort={sort}"))
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 1)
    response = client.get(f"/petitions?sort={sort}")
    forwards = listed(response)
    while link(response, "Next"):
        response = client.get(link(response, "Next"))
        forwards += listed(response)
    backwards = listed(response)
    while link(response, "Previous"):
        response = client.get(link(response, "Previous"))
        backwards = listed(response) + backwards
    assert len(forwards) == 4 and forwards == backwards == everything


def test_a_page_after_a_case_decided_meanwhile_does_not_shift(
    app, client, auth, docket, monkeypatch
):
    """OFFSET pages skipped a case when one before it left the list; keyset pages do not."""
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 1)
    auth.login(docket.supervisor)
    first = client.get("/petitions?stage=pending&sort=newest")
    assert listed(first) == [docket.case["under_review"]]
    petition = db.session.scalar(
        select(Petition).where(Petition.case_number == docket.case["under_review"])
    )
    petition_services.apply_transition(petition, docket.supervisor, "deny", "Not eligible.")
    db.session.commit()
    # The case shown left the list; the next page still starts right after it.
    assert listed(client.get(link(first, "Next"))) == [docket.case["received"]]


@pytest.mark.parametrize("garbled", ["x", "!!!", "MjAyNi0wMS0wMQ", "YWJjfDE", "\u0661"])
def test_a_page_link_not_written_by_the_site_is_a_400(client, auth, docket, garbled):
    auth.login(docket.supervisor)
    assert client.get("/petitions", query_string={"after": garbled}).status_code == 400
    assert client.get("/petitions", query_string={"before": garbled}).status_code == 400


def test_past_the_end_is_a_404(app, client, auth, docket, monkeypatch):
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 4)
    auth.login(docket.supervisor)
    last = queries.encode_position(
        SimpleNamespace(created_at=queries.datetime.max.replace(tzinfo=queries.UTC), id=10**9),
        "oldest",
    )
    assert client.get(f"/petitions?after={last}").status_code == 404


def test_next_page_link_keeps_the_filters(app, client, auth, docket, monkeypatch):
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 2)
    auth.login(docket.supervisor)

    response = queue(client, docket, kind="commutation", sort="newest")

    assert listed(response) == [docket.case["denied"], docket.case["under_review"]]
    next_link = re.search(r'href="([^"]+)">Next<', response.get_data(as_text=True))
    url = next_link.group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(url).query)
    assert query.pop("after")  # the last case shown: the page goes on after it
    assert query == {"kind": ["commutation"], "sort": ["newest"]}
    assert listed(client.get(url)) == [docket.case["received"]]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"organization": "<org B>"},
        {"q": "Keisha"},
        {"q": "<granted case>"},
        {"stage": "granted"},
        {"kind": "pardon"},
        {"assignee": "none"},
        {"sort": "newest"},
    ],
    ids=lambda f: "&".join(f"{k}={v}" for k, v in f.items()) or "none",
)
def test_advocates_only_see_their_organizations_cases(client, auth, docket, filters):
    auth.login(docket.advocate_a)
    own = {docket.case["received"], docket.case["under_review"]}

    shown = listed(queue(client, docket, **filters))

    assert set(shown) <= own
    if not filters or filters == {"sort": "newest"}:
        assert set(shown) == own


def test_advocates_get_no_staff_filters(client, auth, docket):
    auth.login(docket.advocate_a)
    body = page_text(client.get("/petitions"))
    assert 'name="assignee"' not in body and 'name="organization"' not in body
    assert "Riley Reviewer" not in body  # who works a case is staff-only


def test_the_rows_escape_what_people_typed(client, auth, docket):
    """Every typed value in the rows is escaped. Written straight into the rows here, as
    data imported or typed before a rule existed could be."""
    hostile = '<b>&"'  # short enough for a register number
    under_review = db.session.scalar(
        select(Petition).where(Petition.case_number == docket.case["under_review"])
    )
    under_review.petitioner_name = f"Name {hostile}"
    under_review.register_number = hostile
    docket.org_a.name = f"Org {hostile}"
    docket.riley.name = f"Riley {hostile}"
    db.session.commit()
    auth.login(docket.supervisor)

    rows = queue(client, docket, stage="under_review").get_data(as_text=True)
    rows = rows.partition("<tbody>")[2].partition("</tbody>")[0]

    escaped = "&lt;b&gt;&amp;&#34;"
    for shown in ("Name ", 'text-nowrap">', "Org ", "Riley "):
        assert f"{shown}{escaped}" in rows
    assert "<b" not in rows


# --- statements per page ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "advocate"])
def test_queue_statement_count_does_not_grow_with_the_rows(
    client, auth, make_user, make_petition, count_statements, role
):
    viewer = make_user(role)
    supervisor = viewer if role == "supervisor" else make_user("supervisor")
    auth.login(viewer)

    def add_cases(how_many):
        # Each case with its own organization (for staff) and its own assignee, so that a
        # lazy load per row could not be answered from the session's identity map.
        for _ in range(how_many):
            petition = make_petition(advocate=viewer if role == "advocate" else None)
            petition_services.assign_petition(petition, supervisor, make_user("reviewer"))
        db.session.commit()

    add_cases(5)
    with count_statements() as few:
        assert len(listed(client.get("/petitions"))) == 5
    add_cases(20)
    with count_statements() as many:
        assert len(listed(client.get("/petitions"))) == 25

    assert few, "the listener saw no statement at all"
    assert len(many) == len(few), f"{len(few)} statements for 5 rows, {len(many)} for 25"


def test_count_stops_at_the_cap(app, client, auth, docket, monkeypatch):
    """Counting half a million rows on every page view is what the cap avoids."""
    monkeypatch.setattr("tracker.petitions.queries.COUNT_CAP", 3)
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 2)
    auth.login(docket.supervisor)
    first = client.get("/petitions")
    assert "More than 3 cases" in page_text(first)
    assert len(listed(first)) == 2
    assert len(listed(client.get(link(first, "Next")))) == 2


def test_a_first_page_that_is_not_full_is_not_counted(app, client, auth, docket, count_statements):
    """Its rows are the total: no count statement."""
    auth.login(docket.supervisor)
    with count_statements() as statements:
        response = client.get("/petitions?stage=received")
    assert "1 case" in page_text(response)
    assert not [s for s in statements if s.startswith("SELECT count(") and "petition" in s]


# --- several stages, named sets, and filters that are refused rather than ignored ---------------


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (["received", "under_review"], ["received", "under_review"]),
        (["granted", "denied"], ["granted", "denied"]),
        (["pending"], ["received", "under_review"]),
        (["pending", "denied"], ["received", "under_review", "denied"]),
        (["pending", "received"], ["received", "under_review"]),
        (["received", "under_review", "granted", "denied"], ALL),
    ],
    ids="&".join,
)
def test_the_stage_filter_takes_several_stages_and_pending(client, auth, docket, stages, expected):
    auth.login(docket.supervisor)
    response = client.get("/petitions", query_string={"stage": stages})
    assert listed(response) == [docket.case[name] for name in expected]
    [filters] = [form for form in page_forms(response) if form.method == "get"]
    assert filters.fields["stage"] == (stages if len(stages) > 1 else stages[0])


def test_the_stage_filter_is_a_multi_select_offering_pending(client, auth, docket):
    auth.login(docket.supervisor)
    body = client.get("/petitions").get_data(as_text=True)
    select = re.search(r"<select[^>]*name=\"stage\"[^>]*>.*?</select>", body, re.S).group(0)
    assert "multiple" in select.partition(">")[0]
    assert re.findall(r'value="([a-z_]+)"', select) == [
        "pending",
        "received",
        "under_review",
        "information_requested",
        "granted",
        "denied",
        "closed",
    ]


@pytest.mark.parametrize(
    ("filters", "field", "message"),
    [
        ({"stage": "limbo"}, "stage", "Unknown stage 'limbo'"),
        ({"stage": ["received", "limbo"]}, "stage", "Unknown stage 'limbo'"),
        ({"stage": "Received"}, "stage", "Unknown stage"),
        ({"kind": "amnesty"}, "kind", "One of: pardon, commutation."),
        ({"kind": ["pardon", "commutation"]}, "kind", "Give 'kind' once."),
        ({"sort": "sideways"}, "sort", "One of: oldest, newest, days_pending, days_in_stage."),
        ({"older_than_days": "soon"}, "older_than_days", "A whole number of days"),
        ({"assignee": "999999"}, "assignee", "Choose a reviewer or supervisor"),
        ({"assignee": "<advocate A>"}, "assignee", "Choose a reviewer or supervisor"),
        ({"assignee": "everyone"}, "assignee", "Choose a reviewer or supervisor"),
        ({"organization": "999999"}, "organization", "Choose an organization"),
        ({"organization": "Org A"}, "organization", "Choose an organization"),
        ({"q": "x" * 201}, "q", "At most 200 characters."),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, dict) else None,
)
def test_an_invalid_filter_is_a_422_naming_it_under_its_field(
    client, auth, docket, filters, field, message
):
    """Before, an unknown stage showed every case: a misspelt filter widened the list."""
    auth.login(docket.supervisor)
    query = {
        name: value if isinstance(value, list) else resolve(docket, value)
        for name, value in filters.items()
    }

    response = client.get("/petitions", query_string=query)

    assert response.status_code == 422
    body = page_text(response)
    error = re.search(rf'<div id="{field}-error" class="invalid-feedback d-block">([^<]*)<', body)
    assert error and message in error.group(1), body
    assert re.search(rf'aria-describedby="({field}-help )?{field}-error"', body)
    assert "<tbody>" not in body, "no cases are listed for filters that were refused"


def test_advocates_get_422_for_an_unknown_stage_too(client, auth, docket):
    auth.login(docket.advocate_a)
    assert client.get("/petitions?stage=pendingg").status_code == 422
    # The staff filters are not offered to advocates: whatever they name is left aside.
    assert len(listed(client.get("/petitions?assignee=somebody"))) == 2


def test_the_typed_search_is_kept_when_refused(client, auth, docket):
    auth.login(docket.supervisor)
    response = client.get("/petitions", query_string={"q": "y" * 250, "stage": "limbo"})
    assert response.status_code == 422
    [filters] = [form for form in page_forms(response) if form.method == "get"]
    assert filters.fields["q"] == "y" * 250


@pytest.mark.parametrize(
    "reserved",
    [
        ("endpoint", "x"),
        ("_method", "DELETE"),
        ("_external", "1"),
        ("_anchor", "top"),
        ("_scheme", "javascript"),
    ],
    ids=lambda pair: pair[0],
)
def test_pagination_links_are_built_from_the_parsed_filters_only(
    app, client, auth, docket, monkeypatch, reserved
):
    """Issue 10: ?page=1&endpoint=x (or _method, …) was a 500 once the queue had two pages."""
    monkeypatch.setitem(app.config, "PETITIONS_PER_PAGE", 1)
    auth.login(docket.supervisor)
    name, value = reserved

    response = client.get(
        "/petitions",
        query_string=[
            ("page", "1"),
            (name, value),
            ("kind", "commutation"),
            ("stage", "received"),
            ("stage", "under_review"),
        ],
    )

    assert response.status_code == 200
    next_link = re.search(r'href="([^"]+)">Next<', response.get_data(as_text=True))
    url = next_link.group(1).replace("&amp;", "&")
    # Relative, on this site, no fragment: before, _scheme=javascript made the link
    # javascript://localhost/petitions?…
    assert urlsplit(url)[:3] == ("", "", "/petitions") and not urlsplit(url).fragment
    query = parse_qs(urlsplit(url).query)
    assert query.pop("after")
    assert query == {"kind": ["commutation"], "stage": ["received", "under_review"]}
    assert listed(client.get(url)) == [docket.case["under_review"]]


def test_a_deactivated_reviewer_stays_a_valid_assignee_filter(client, auth, docket):
    from tracker.auth import services as auth_services

    auth_services.set_user_active(docket.supervisor, docket.riley, False)
    db.session.commit()
    auth.login(docket.supervisor)
    response = queue(client, docket, assignee="<riley>")
    # Accepted (not a 422); their open case went back to the queue when they left.
    assert listed(response) == []


def test_a_staff_first_page_keeps_its_statement_never_its_rows(client, auth, docket, make_petition):
    queries._first_pages.clear()
    auth.login(docket.supervisor)
    first = listed(queue(client, docket, stage="received"))
    assert len(queries._first_pages) == 1

    added = make_petition()
    assert listed(queue(client, docket, stage="received")) == [*first, added.case_number]
    assert len(queries._first_pages) == 1  # the same statement, read again
    assert listed(queue(client, docket, stage="granted")) == [docket.case["granted"]]
    assert len(queries._first_pages) == 2

    # A search, "assigned to me" and an advocate's view are built each time.
    queue(client, docket, q="Maria")
    queue(client, docket, assignee="me")
    assert len(queries._first_pages) == 2
    auth.login(docket.advocate_a)
    kept = len(queries._first_pages)  # signing in again may read a page as the supervisor
    queue(client, docket, stage="received")
    assert len(queries._first_pages) == kept


def filter_options(response, name: str) -> list[tuple[str, str]]:
    select_element = re.search(
        rf'<select[^>]* name="{name}".*?</select>', response.get_data(as_text=True), re.S
    )
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select_element.group(0))


def test_the_filters_people_are_the_same_read_with_the_rows_or_apart(
    client, auth, docket, make_user, make_organization
):
    """The page reads the filters' people in its own statement (a column of its rows); a page
    without rows reads them apart. Both in the same order: by name, the deactivated last."""
    from tracker.auth import services as auth_services

    for name in ("alex Reviewer", "Zoe Reviewer", "Émile Reviewer"):
        make_user("reviewer", name=name)
    make_organization("another org")
    auth_services.set_user_active(docket.supervisor, docket.riley, False)
    db.session.commit()
    auth.login(docket.supervisor)

    with_rows = queue(client, docket)
    without_rows = queue(client, docket, q="nobody of that name")

    assert listed(with_rows) and not listed(without_rows)
    for name in ("assignee", "organization"):
        assert filter_options(with_rows, name) == filter_options(without_rows, name)
    assignees = [label for _value, label in filter_options(with_rows, "assignee")]
    assert assignees[-1] == "Riley Reviewer (deactivated)"
    assert {"alex Reviewer", "Zoe Reviewer", "Émile Reviewer"} <= set(assignees)


@pytest.mark.skipif(on_postgres(), reason="SQLite's query plan; PostgreSQL plans from statistics")
@pytest.mark.parametrize(
    "filters",
    [
        QueueFilters(stages=("pending",)),
        QueueFilters(stages=("received", "granted"), sort="newest"),
        QueueFilters(stages=("pending",), assignee="none"),
    ],
    ids=repr,
)
def test_several_stages_are_read_in_queue_order_not_sorted(app_ctx, make_user, filters):
    """The stage index gives each stage in order but not their union: through it, SQLite
    would read every open case and sort them all for one page (0.5 s over a million)."""
    statement = queries.queue_query(make_user("supervisor"), filters).limit(26)
    sql = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = [row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    assert not any("TEMP B-TREE" in step for step in plan), plan


@pytest.mark.skipif(on_postgres(), reason="SQLite's query plan; PostgreSQL plans from statistics")
@pytest.mark.parametrize(
    "filters",
    [
        QueueFilters(referral_overdue=True),
        QueueFilters(referral_overdue=True, stages=("pending",)),
        QueueFilters(referral_overdue=True, sort="days_in_stage"),
        QueueFilters(referral_overdue=True, assignee="me", kind="pardon"),
    ],
    ids=repr,
)
def test_overdue_referrals_are_read_from_the_cases_with_a_referral_in_queue_order(
    app_ctx, make_user, filters
):
    """The cases with an open referral (their partial index in each queue order, which holds
    the due date, stage and assignee) drive the page and its count: no sort, no referral
    table. Searching the referrals and reading each overdue one's case by id cost 160–320 ms
    a page at a million cases; a correlated EXISTS, 0.8 s at 20,000."""
    statement = queries.queue_query(make_user("supervisor"), filters)
    for query in (statement.limit(26), queries.bounded_count(statement)):  # the page, its count
        sql = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = [row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
        assert any("INDEX ix_petition_referral_" in step for step in plan), plan
        assert not any("TEMP B-TREE" in step or "referral " in step for step in plan), plan


def test_kept_filter_fields_follow_the_people_and_the_selection(client, auth, docket):
    """The filter fields are kept once written (views.queue_filter_fields), by their state:
    a renamed reviewer and another selection show at once, a refused filter its message."""
    auth.login(docket.supervisor)
    assert "Riley Renamed" not in queue(client, docket, stage="under_review").get_data(as_text=True)
    docket.riley.name = "Riley Renamed"
    db.session.commit()
    body = queue(client, docket, stage="under_review").get_data(as_text=True)
    assert "Riley Renamed" in body
    assert '<option value="under_review" selected>' in body
    body = queue(client, docket, stage="received").get_data(as_text=True)
    assert '<option value="received" selected>' in body
    assert '<option value="under_review" selected>' not in body
    refused = queue(client, docket, stage="limbo")
    assert refused.status_code == 422 and 'id="stage-error"' in refused.get_data(as_text=True)
