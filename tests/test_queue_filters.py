"""The one queue-filter parser (tracker.petitions.filters): the queue page, its bulk selection
and the API read filters through it, so they accept and refuse the same values."""

import pytest
from werkzeug.datastructures import MultiDict

from tracker.errors import PermissionDenied, ValidationFailed
from tracker.petitions import filters
from tracker.petitions.filters import API, WEB, QueueFilters
from tracker.workflow import Stage


@pytest.fixture
def staff(make_user):
    return make_user("supervisor")


def parse(pairs, viewer, dialect=WEB):
    return filters.parse(MultiDict(pairs), viewer, dialect)


def refused(pairs, viewer, dialect=WEB) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refusal:
        parse(pairs, viewer, dialect)
    return refusal.value.errors


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], QueueFilters()),
        ([("stage", "received")], QueueFilters(stages=("received",))),
        ([("stage", "pending"), ("stage", "denied")], QueueFilters(stages=("pending", "denied"))),
        ([("stage", "granted"), ("stage", "granted")], QueueFilters(stages=("granted",))),
        ([("kind", "pardon")], QueueFilters(kind="pardon")),
        ([("q", "  Garcia ")], QueueFilters(q="Garcia")),
        ([("q", "   ")], QueueFilters()),
        ([("assignee", "me")], QueueFilters(assignee="me")),
        ([("assignee", "none")], QueueFilters(assignee="none")),
    ],
    ids=str,
)
def test_the_web_and_the_api_read_the_same_filters_alike(staff, pairs, expected):
    assert parse(pairs, staff, WEB) == parse(pairs, staff, API) == expected


@pytest.mark.parametrize(
    "pairs",
    [
        [("stage", "limbo")],
        [("stage", "received"), ("stage", "PENDING")],
        [("kind", "amnesty")],
        [("kind", "pardon"), ("kind", "pardon")],
        [("q", "x" * 201)],
        [("q", "a"), ("q", "b")],
        [("assignee", "nobody")],
        [("assignee", "me"), ("assignee", "none")],
    ],
    ids=str,
)
def test_the_web_and_the_api_refuse_the_same_filters(staff, pairs):
    assert refused(pairs, staff, WEB).keys() == refused(pairs, staff, API).keys() == {pairs[0][0]}


def test_pending_is_every_stage_not_yet_decided():
    assert QueueFilters(stages=("pending",)).stage_set == {
        Stage.RECEIVED,
        Stage.UNDER_REVIEW,
        Stage.INFORMATION_REQUESTED,
    }
    # Closed is finished too: pending leaves it out (Stage.is_decided).
    assert QueueFilters(stages=("pending", "granted")).stage_set == set(Stage) - {
        Stage.DENIED,
        Stage.CLOSED,
    }


def test_each_interface_names_people_its_own_way(staff, make_user):
    reviewer = make_user("reviewer")
    assert parse([("assignee", str(reviewer.id))], staff, WEB).assignee == reviewer.id
    assert parse([("assignee", reviewer.email)], staff, API).assignee == reviewer.id
    assert refused([("assignee", reviewer.email)], staff, WEB).keys() == {"assignee"}
    assert refused([("assignee", str(reviewer.id))], staff, API).keys() == {"assignee"}
    advocate = make_user("advocate")
    assert refused([("assignee", str(advocate.id))], staff, WEB).keys() == {"assignee"}


def test_an_empty_value_is_any_on_the_page_but_invalid_in_the_api(staff):
    blank = [("stage", ""), ("kind", ""), ("assignee", ""), ("sort", "")]
    assert parse(blank, staff, WEB) == QueueFilters()
    assert refused(blank[:3], staff, API).keys() == {"stage", "kind", "assignee"}


def test_staff_filters_are_refused_to_advocates_in_the_api_before_any_422(make_user):
    advocate = make_user("advocate")
    with pytest.raises(PermissionDenied):
        parse([("assignee", "me"), ("stage", "limbo")], advocate, API)
    # The page does not offer them to advocates; a hand-typed one is left aside.
    assert parse([("assignee", "me"), ("organization", "1")], advocate, WEB) == QueueFilters()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"stage": "received"}, QueueFilters(stages=("received",))),
        ({"stage": ["received", "pending"]}, QueueFilters(stages=("received", "pending"))),
        ({"stage": None, "q": None}, QueueFilters()),
    ],
    ids=str,
)
def test_a_json_filter_takes_a_stage_or_a_list_of_them(staff, raw, expected):
    assert filters.parse(raw, staff, API) == expected


@pytest.mark.parametrize(
    "raw", [{"stage": 1}, {"stage": [1]}, {"stage": {"a": 1}}, {"kind": ["pardon"]}], ids=str
)
def test_a_json_filter_of_another_type_is_refused(staff, raw):
    with pytest.raises(ValidationFailed) as refusal:
        filters.parse(raw, staff, API)
    assert refusal.value.errors.keys() == raw.keys()


def test_query_args_give_back_what_parses_to_the_same_filters(staff, make_organization):
    organization = make_organization()
    given = {"q": "Garcia", "kind": "pardon", "assignee": "none", "sort": "newest"}
    given |= {"organization": str(organization.id)}
    parsed = parse([("stage", "pending"), ("stage", "granted"), *given.items()], staff)
    pairs = [
        (name, str(item))
        for name, value in parsed.query_args().items()
        for item in (value if isinstance(value, list) else [value])
    ]
    assert parse(pairs, staff) == parsed
    assert QueueFilters().query_args() == {}
