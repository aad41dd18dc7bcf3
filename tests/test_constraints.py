"""The database itself holds the rules: bad rows written straight through SQL are refused."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tracker.extensions import db
from tracker.workflow import Stage

PETITION_COLUMNS = (
    "case_number, kind, stage, petitioner_name, register_number, date_of_birth, offenses, "
    "sentencing_court, sentence, sentence_date, custody_status, organization_id, advocate_id, "
    "grounds, version, created_at, updated_at, decided_at, decided_by_id, decision_reason, "
    "petitioner_key, search_text, received_at, stage_entered_at, "
    "disposition, relief, commuted_sentence, new_release_date, remission_amount, relief_terms"
)


def good_petition_row(petition) -> dict:
    return {
        "case_number": "CP-1999-000001",
        "kind": "commutation",
        "stage": "received",
        "petitioner_name": "Row Writer",
        "register_number": "12345-678",
        "date_of_birth": "1970-01-01",
        "offenses": "x",
        "sentencing_court": "D. Md.",
        "sentence": "10 years",
        "sentence_date": "2000-01-01",
        "custody_status": "in_prison",
        "grounds": "y",
        "organization_id": petition.organization_id,
        "advocate_id": petition.advocate_id,
        "version": 1,
        "created_at": "2026-01-01 00:00:00",
        "updated_at": "2026-01-01 00:00:00",
        "decided_at": None,
        "decided_by_id": None,
        "decision_reason": None,
        "petitioner_key": "R:12345-678",
        "search_text": " row writer 12345 678 12345678 ",
        "received_at": "2026-01-01 00:00:00",
        "stage_entered_at": "2026-01-01 00:00:00",
        "disposition": None,
        "relief": None,
        "commuted_sentence": None,
        "new_release_date": None,
        "remission_amount": None,
        "relief_terms": None,
    }


def insert_petition(row: dict):
    placeholders = ", ".join(f":{name.strip()}" for name in PETITION_COLUMNS.split(","))
    db.session.execute(
        text(f"INSERT INTO petition ({PETITION_COLUMNS}) VALUES ({placeholders})"), row
    )


def test_a_good_row_is_accepted(make_petition):
    petition = make_petition()
    with db.session.begin_nested():
        insert_petition(good_petition_row(petition))


BAD_PETITION_ROWS = {
    "unknown stage": {"stage": "pardoned"},
    "unknown kind": {"kind": "amnesty"},
    "unknown custody status": {"custody_status": "on_the_moon"},
    "missing name": {"petitioner_name": None},
    "missing date of birth": {"date_of_birth": None},
    "missing grounds": {"grounds": None},
    "commutation without register number": {"register_number": None},
    "unknown organization": {"organization_id": 999999},
    "unknown advocate": {"advocate_id": 999999},
    "version zero": {"version": 0},
    "granted without decision": {"stage": "granted"},
    "decision on an undecided case": {"decided_at": "2026-01-02 00:00:00", "decision_reason": "x"},
    "duplicate case number": "duplicate",
}


@pytest.mark.parametrize("change", BAD_PETITION_ROWS.values(), ids=BAD_PETITION_ROWS.keys())
def test_bad_petition_rows_are_refused(make_petition, change):
    petition = make_petition()
    row = good_petition_row(petition)
    if change == "duplicate":
        row["case_number"] = petition.case_number
    else:
        row.update(change)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        insert_petition(row)


def test_decided_row_with_decision_is_accepted(make_petition, make_user):
    petition = make_petition()
    reviewer = make_user("reviewer")
    row = good_petition_row(petition) | {
        "stage": Stage.GRANTED.value,
        "decided_at": "2026-01-02 00:00:00",
        "decided_by_id": reviewer.id,
        "decision_reason": "Meets the criteria.",
        "disposition": "granted",
        "relief": "commutation_time_served",
    }
    with db.session.begin_nested():
        insert_petition(row)


def decided_row(petition, reviewer, **changes) -> dict:
    return (
        good_petition_row(petition)
        | {
            "decided_at": "2026-01-02 00:00:00",
            "decided_by_id": reviewer.id,
            "decision_reason": "Reviewed.",
        }
        | changes
    )


GOOD_ENDINGS = {
    "withdrawn without a reason": {
        "stage": "closed",
        "disposition": "withdrawn",
        "decision_reason": None,
    },
    "closed: deceased": {"stage": "closed", "disposition": "deceased"},
    "denied": {"stage": "denied", "disposition": "denied"},
    "pardon fully pardoned": {
        "stage": "granted",
        "disposition": "granted",
        "kind": "pardon",
        "relief": "full_pardon",
    },
    "reduced commutation with its date": {
        "stage": "granted",
        "disposition": "granted",
        "relief": "commutation_reduced",
        "new_release_date": "2026-06-30",
        "relief_terms": "Supervised release remains.",
    },
    "remission with its amount": {
        "stage": "granted",
        "disposition": "granted",
        "relief": "remission",
        "remission_amount": "1500.00",
    },
    "relief not recorded (before reliefs)": {
        "stage": "granted",
        "disposition": "granted",
        "relief": "unspecified",
    },
}
BAD_ENDINGS = {
    "decided without disposition": {"stage": "denied"},
    "closed without disposition": {"stage": "closed"},
    "closed with a reason missing (not withdrawn)": {
        "stage": "closed",
        "disposition": "moot",
        "decision_reason": None,
    },
    "disposition of another stage": {"stage": "denied", "disposition": "granted"},
    "granted as withdrawn": {
        "stage": "granted",
        "disposition": "withdrawn",
        "relief": "unspecified",
    },
    "unknown disposition": {"stage": "closed", "disposition": "vanished"},
    "granted without relief": {"stage": "granted", "disposition": "granted"},
    "relief on a denial": {"stage": "denied", "disposition": "denied", "relief": "respite"},
    "unknown relief": {"stage": "granted", "disposition": "granted", "relief": "amnesty"},
    "commutation relief on a pardon": {
        "stage": "granted",
        "disposition": "granted",
        "kind": "pardon",
        "relief": "respite",
    },
    "full pardon on a commutation": {
        "stage": "granted",
        "disposition": "granted",
        "relief": "full_pardon",
    },
    "remission without amount": {
        "stage": "granted",
        "disposition": "granted",
        "relief": "remission",
    },
    "remission of nothing": {
        "stage": "granted",
        "disposition": "granted",
        "relief": "remission",
        "remission_amount": "0",
    },
    "reduced commutation saying nothing": {
        "stage": "granted",
        "disposition": "granted",
        "relief": "commutation_reduced",
    },
}


@pytest.mark.parametrize("change", GOOD_ENDINGS.values(), ids=GOOD_ENDINGS.keys())
def test_good_endings_are_accepted(make_petition, make_user, change):
    petition, reviewer = make_petition(), make_user("reviewer")
    with db.session.begin_nested():
        insert_petition(decided_row(petition, reviewer, **change))


@pytest.mark.parametrize("change", BAD_ENDINGS.values(), ids=BAD_ENDINGS.keys())
def test_bad_endings_are_refused(make_petition, make_user, change):
    petition = make_petition()
    row = decided_row(petition, make_user("reviewer"), **change)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        insert_petition(row)


def test_an_open_case_has_no_disposition(make_petition):
    petition = make_petition()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        insert_petition(good_petition_row(petition) | {"disposition": "withdrawn"})


def insert_user(**overrides):
    row = {
        "email": "row@example.org",
        "name": "Row",
        "role": "reviewer",
        "organization_id": None,
        "password_hash": "x",
        "active": True,
        "must_change_password": False,
        "created_at": "2026-01-01 00:00:00",
    } | overrides
    columns = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    db.session.execute(text(f'INSERT INTO "user" ({columns}) VALUES ({values})'), row)


BAD_USER_ROWS = {
    "unknown role": {"role": "admin"},
    "advocate without organization": {"role": "advocate"},
    "upper-case e-mail (case-insensitive uniqueness)": {"email": "Row@Example.org"},
    "missing password hash": {"password_hash": None},
}


@pytest.mark.parametrize("change", BAD_USER_ROWS.values(), ids=BAD_USER_ROWS.keys())
def test_bad_user_rows_are_refused(app_ctx, change):
    with pytest.raises(IntegrityError), db.session.begin_nested():
        insert_user(**change)


def test_duplicate_email_is_refused(app_ctx):
    with db.session.begin_nested():
        insert_user()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        insert_user(name="Twin")


def test_bad_note_visibility_is_refused(make_petition):
    petition = make_petition()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            text(
                "INSERT INTO note (petition_id, author_id, visibility, body, created_at) "
                "VALUES (:p, :a, 'public', 'x', '2026-01-01 00:00:00')"
            ),
            {"p": petition.id, "a": petition.advocate_id},
        )
