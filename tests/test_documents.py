"""Documents (issue 13, part 1): content judged from the bytes, the size limit (chunked uploads
too, never read whole into memory), who may attach and see what, superseding, the audit
entries, and the S3 storage against a real S3-compatible server on loopback (moto's)."""

import io
import socket

import boto3
import pytest
from moto.server import ThreadedMotoServer
from werkzeug.test import EnvironBuilder

from tests.api_helpers import PROBLEM_JSON, problem_of
from tests.conftest import csrf_token
from tests.document_helpers import HTML, JPEG, PDF, PNG, api_upload, upload_fields
from tests.helpers import audit_entries, count, page_text
from tests.test_readlog import reads
from tracker.documents import services, storage
from tracker.documents.models import Document
from tracker.extensions import db
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]


@pytest.fixture
def advocate_api(api_as):
    return api_as("advocate")


@pytest.fixture
def case(advocate_api, make_petition):
    return make_petition(advocate=advocate_api.user)


def documents_of(petition) -> list[Document]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            db.select(Document).where(Document.petition_id == petition.id).order_by(Document.id)
        )
    )


def stored_bytes(document_json: dict) -> bytes:
    return b"".join(storage.storage().chunks(document_json["sha256"]))


# --- content judged from the bytes --------------------------------------------------------------


def test_a_pdf_renamed_png_is_stored_as_a_pdf(advocate_api, case, app):
    response = api_upload(
        advocate_api, case.case_number, content=PDF, filename="scan.png", content_type="image/png"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["content_type"] == "application/pdf"
    assert body["filename"] == "scan.png" and body["size"] == len(PDF)
    with app.app_context():
        assert stored_bytes(body) == PDF


@pytest.mark.parametrize(("content", "mime"), [(PNG, "image/png"), (JPEG, "image/jpeg")])
def test_png_and_jpeg_are_accepted(advocate_api, case, content, mime):
    response = api_upload(
        advocate_api,
        case.case_number,
        content=content,
        filename="x.bin",
        content_type="application/octet-stream",
    )
    assert response.status_code == 201
    assert response.get_json()["content_type"] == mime


def test_an_html_file_named_pdf_is_refused_415_and_nothing_is_kept(advocate_api, case):
    before = (count(Document), len(audit_entries(petition_id=case.id)))
    response = api_upload(
        advocate_api,
        case.case_number,
        content=HTML,
        filename="judgment.pdf",
        content_type="application/pdf",
    )
    problem = problem_of(response, 415)
    assert "PDF, PNG or JPEG" in problem["detail"] and "content" in problem["detail"]
    assert (count(Document), len(audit_entries(petition_id=case.id))) == before


def test_the_web_form_refuses_html_with_a_message_under_the_field(client, login_as, make_petition):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    token = csrf_token(client, f"/petitions/{petition.case_number}")
    response = client.post(
        f"/petitions/{petition.case_number}/documents",
        data={
            "csrf_token": token,
            "document-file": (io.BytesIO(HTML), "letter.pdf"),
            "document-document_type": "letter_of_support",
            "document-visibility": "shared",
            "document-description": "From the warden",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 415
    text = page_text(response)
    assert "Attach a PDF, PNG or JPEG file." in text
    assert "From the warden" in text  # what was typed is kept
    assert count(Document) == 0


# --- the size limit -----------------------------------------------------------------------------


@pytest.fixture
def small_documents(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_DOCUMENT_BYTES", 4096)


def test_a_document_over_the_limit_is_413(advocate_api, case, small_documents):
    big = PDF + b"0" * 5000
    response = api_upload(advocate_api, case.case_number, content=big)
    problem = problem_of(response, 413)
    assert "4 KiB" in problem["detail"]
    assert count(Document) == 0


def test_a_document_at_the_limit_is_accepted(advocate_api, case, small_documents):
    exact = PDF + b"0" * (4096 - len(PDF))
    assert api_upload(advocate_api, case.case_number, content=exact).status_code == 201


def multipart_body(fields: dict) -> tuple[bytes, str]:
    environ = EnvironBuilder(method="POST", data=fields).get_environ()
    return environ["wsgi.input"].read(), environ["CONTENT_TYPE"]


def test_a_chunked_upload_over_the_limit_is_413(advocate_api, case, small_documents, client):
    # The multipart body sent chunked (no Content-Length), as gunicorn passes it on.
    body, content_type = multipart_body(upload_fields(content=PDF + b"0" * 50_000))
    response = client.post(
        f"/api/v1/petitions/{case.case_number}/documents",
        input_stream=io.BytesIO(body),
        headers={
            "Authorization": f"Bearer {advocate_api.token}",
            "Content-Type": content_type,
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413 and response.mimetype == PROBLEM_JSON
    assert count(Document) == 0


def test_a_chunked_upload_within_the_limit_is_read_whole(
    advocate_api, case, client, app, monkeypatch
):
    # Larger than MAX_CONTENT_LENGTH: the chunked body is buffered to the route's own limit.
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    content = PDF + b"1" * 200_000
    body, content_type = multipart_body(upload_fields(content=content))
    response = client.post(
        f"/api/v1/petitions/{case.case_number}/documents",
        input_stream=io.BytesIO(body),
        headers={
            "Authorization": f"Bearer {advocate_api.token}",
            "Content-Type": content_type,
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201
    assert response.get_json()["size"] == len(content)
    with app.app_context():
        assert stored_bytes(response.get_json()) == content


def test_documents_may_be_larger_than_other_bodies(advocate_api, case, app, monkeypatch):
    """MAX_CONTENT_LENGTH keeps holding elsewhere; the document routes take MAX_DOCUMENT_BYTES."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 32 * 1024)
    content = PDF + b"2" * 100_000
    assert api_upload(advocate_api, case.case_number, content=content).status_code == 201
    response = advocate_api.post("/api/v1/petitions", json={"grounds": "x" * 40_000})
    assert response.status_code == 413


class CountingStream:
    """A stream that says how much was read from it."""

    def __init__(self, size: int):
        self.remaining, self.read_total = size, 0
        self.first = True

    def read(self, amount: int = -1) -> bytes:
        amount = min(amount, self.remaining)
        piece = (PDF[:amount] if self.first else b"") or b"3" * amount
        self.first = False
        piece = piece[:amount]
        self.remaining -= len(piece)
        self.read_total += len(piece)
        return piece


def test_reading_stops_at_the_limit_and_never_holds_the_file(app, small_documents):
    stream = CountingStream(50 * 1024 * 1024)  # 50 MiB announced
    with (
        app.test_request_context(),
        pytest.raises(services.DocumentTooLarge),
        services.received_file(stream, "big.pdf"),
    ):
        pass
    # One read past the limit at most, not the 50 MiB.
    assert stream.read_total <= 4096 + services.READ_SIZE


# --- who may attach, who may see ----------------------------------------------------------------


def test_a_presentence_report_is_internal_whoever_uploads_it(advocate_api, case, api_as):
    response = api_upload(
        advocate_api, case.case_number, document_type="presentence_report", visibility="shared"
    )
    assert response.status_code == 201
    document = response.get_json()
    assert document["visibility"] == "internal"
    [entry] = audit_entries(action="document_uploaded", petition_id=case.id)
    assert entry.details["visibility"] == "internal"
    # The advocate no longer sees it; staff do.
    listed = advocate_api.get(f"/api/v1/petitions/{case.case_number}/documents").get_json()
    assert listed["items"] == []
    assert advocate_api.get(document["content_url"]).status_code == 404
    reviewer = api_as("reviewer")
    assert reviewer.get(document["content_url"]).status_code == 200


def test_an_internal_document_is_404_for_the_advocate_on_every_route(
    advocate_api, case, api_as, client, login_as
):
    reviewer = api_as("reviewer")
    response = api_upload(reviewer, case.case_number, visibility="internal")
    assert response.status_code == 201
    document = response.get_json()
    assert reviewer.get(f"/api/v1/petitions/{case.case_number}/documents").get_json()["items"]
    refusals = len(audit_entries(action="access_refused"))

    assert advocate_api.get(document["content_url"]).status_code == 404
    assert advocate_api.get(f"/api/v1/petitions/{case.case_number}/documents").get_json() == {
        "items": []
    }
    [refusal] = audit_entries(action="access_refused")[refusals:]
    assert refusal.details["document_id"] == document["id"]
    # On the web, as the same advocate: not listed on the case page, not downloadable.
    from tests.conftest import AuthActions

    AuthActions(client).login(advocate_api.user)
    page = client.get(f"/petitions/{case.case_number}").get_data(as_text=True)
    assert "judgment.pdf" not in page
    assert client.get(f"/documents/{document['id']}/content").status_code == 404


def test_another_organizations_documents_are_404(advocate_api, case, api_as):
    document = api_upload(advocate_api, case.case_number).get_json()
    other = api_as("advocate")
    assert other.get(document["content_url"]).status_code == 404
    assert other.get(f"/api/v1/petitions/{case.case_number}/documents").status_code == 404
    assert api_upload(other, case.case_number).status_code == 404
    assert other.get("/api/v1/documents/999999/content").status_code == 404
    assert len(documents_of(case)) == 1


def test_advocates_attach_only_while_the_case_waits_on_them(api_as, make_petition):
    advocate = api_as("advocate")
    under_review = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate.user)
    problem = problem_of(api_upload(advocate, under_review.case_number), 403)
    assert "received" in problem["detail"]
    asked = make_petition(stage=Stage.INFORMATION_REQUESTED, advocate=advocate.user)
    assert api_upload(advocate, asked.case_number).status_code == 201  # answering the request
    reviewer = api_as("reviewer")
    granted = make_petition(stage=Stage.GRANTED, advocate=advocate.user)
    assert api_upload(reviewer, granted.case_number).status_code == 201  # staff: any time


def test_advocates_attach_shared_documents_only(advocate_api, case):
    response = api_upload(advocate_api, case.case_number, visibility="internal")
    problem = problem_of(response, 422)
    assert problem["errors"][0]["field"] == "visibility"


def test_unknown_type_and_missing_fields_are_422(advocate_api, case):
    problem = problem_of(api_upload(advocate_api, case.case_number, document_type="diary"), 422)
    assert problem["errors"][0]["field"] == "document_type"
    response = advocate_api.post(
        f"/api/v1/petitions/{case.case_number}/documents",
        data={"document_type": "judgment"},
        content_type="multipart/form-data",
    )
    assert problem_of(response, 422)["errors"][0]["field"] == "file"
    response = advocate_api.post(f"/api/v1/petitions/{case.case_number}/documents", json={})
    assert problem_of(response, 415)


# --- listing, downloading, superseding, auditing ------------------------------------------------


def test_the_list_has_the_fields_of_the_issue(advocate_api, case):
    api_upload(advocate_api, case.case_number, description="Amended judgment")
    [item] = advocate_api.get(f"/api/v1/petitions/{case.case_number}/documents").get_json()["items"]
    assert {
        "id",
        "document_type",
        "visibility",
        "filename",
        "size",
        "sha256",
        "content_type",
        "uploaded_by",
        "uploaded_at",
    } <= item.keys()
    assert item["uploaded_by"] == advocate_api.user.email
    assert item["description"] == "Amended judgment" and item["superseded_by"] is None


def test_a_download_is_an_attachment_of_the_stored_type_and_is_audited(advocate_api, case):
    name = "Jugement « final ».pdf"
    document = api_upload(advocate_api, case.case_number, filename=name).get_json()
    response = advocate_api.get(document["content_url"])
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Jugement%20%C2%AB%20final%20%C2%BB.pdf" in disposition
    [entry] = audit_entries(action="document_downloaded")
    assert (entry.actor_id, entry.petition_id) == (advocate_api.user.id, case.id)
    assert entry.details == {"document_id": document["id"], "visibility": "shared", "via": "api"}
    # ...and the read is in the access log, with the document and its case.
    [read] = reads(kind="document_download")
    assert (read.user_id, read.petition_id, read.document_id, read.interface) == (
        advocate_api.user.id,
        case.id,
        document["id"],
        "api",
    )


def test_superseding_keeps_the_old_document_marked(advocate_api, case):
    old = api_upload(advocate_api, case.case_number).get_json()
    new = api_upload(
        advocate_api, case.case_number, content=PNG, filename="new.png", supersedes=str(old["id"])
    ).get_json()
    items = advocate_api.get(f"/api/v1/petitions/{case.case_number}/documents").get_json()["items"]
    assert [(i["id"], i["superseded_by"]) for i in items] == [
        (old["id"], new["id"]),
        (new["id"], None),
    ]
    assert advocate_api.get(old["content_url"]).data == PDF  # still there
    [uploaded] = audit_entries(action="document_uploaded", petition_id=case.id)[1:]
    assert uploaded.details["supersedes"] == old["id"]
    [superseded] = audit_entries(action="document_superseded", petition_id=case.id)
    assert superseded.details["document_id"] == old["id"]
    assert superseded.details["superseded_by"] == new["id"]
    again = api_upload(advocate_api, case.case_number, supersedes=str(old["id"]))
    assert problem_of(again, 409)
    assert len(documents_of(case)) == 2


def test_a_document_of_another_case_cannot_be_superseded(advocate_api, case, make_petition):
    other_case = make_petition(advocate=advocate_api.user)
    old = api_upload(advocate_api, other_case.case_number).get_json()
    problem = problem_of(api_upload(advocate_api, case.case_number, supersedes=str(old["id"])), 422)
    assert problem["errors"][0]["field"] == "supersedes"


def test_upload_and_audit_entry_are_one_transaction(advocate_api, case, app, monkeypatch):
    """An upload whose audit entry fails leaves no document row."""
    from tracker.audit import services as audit

    def broken(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError, match="audit down"):  # the test app propagates errors
        api_upload(advocate_api, case.case_number)
    assert count(Document) == 0


# --- the web ------------------------------------------------------------------------------------


def test_attach_on_the_case_page_and_download(client, login_as, make_petition):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    token = csrf_token(client, f"/petitions/{petition.case_number}")
    response = client.post(
        f"/petitions/{petition.case_number}/documents",
        data={
            "csrf_token": token,
            "document-file": (io.BytesIO(PDF), "release-plan.pdf"),
            "document-document_type": "release_plan",
            "document-visibility": "shared",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "release-plan.pdf" in page and "Release plan" in page
    [document] = documents_of(petition)
    download = client.get(f"/documents/{document.id}/content")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"] == "attachment; filename=release-plan.pdf"


def test_a_new_petition_with_a_document(client, login_as):
    from tests.helpers import petition_by_case_number, petition_form

    login_as("advocate")
    token = csrf_token(client, "/petitions/new")
    form = petition_form() | {
        "csrf_token": token,
        "document_type": "judgment",
        "document": (io.BytesIO(PDF), "judgment.pdf"),
    }
    response = client.post("/petitions/new", data=form, content_type="multipart/form-data")
    assert response.status_code == 302, page_text(response)
    case_number = response.headers["Location"].rsplit("/", 1)[-1]
    [document] = documents_of(petition_by_case_number(case_number))
    assert (document.document_type, document.visibility) == ("judgment", "shared")


def test_a_new_petition_with_a_refused_document_is_not_submitted(client, login_as):
    from tests.helpers import petition_form
    from tracker.petitions.models import Petition

    login_as("advocate")
    before = count(Petition)
    token = csrf_token(client, "/petitions/new")
    form = petition_form() | {
        "csrf_token": token,
        "document_type": "judgment",
        "document": (io.BytesIO(HTML), "judgment.pdf"),
    }
    response = client.post("/petitions/new", data=form, content_type="multipart/form-data")
    assert response.status_code == 415
    assert "Attach a PDF, PNG or JPEG file." in page_text(response)
    assert "Jordan Q. Example" in response.get_data(as_text=True)  # the fields kept
    assert count(Petition) == before and count(Document) == 0


# --- S3 -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """moto's standalone S3-compatible server, on a free loopback port, for this module."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_server, app, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"tracker-documents-{free_port()}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    store = storage.storage_for(f"s3://{bucket}/case-files", app.instance_path, s3_server)
    assert isinstance(store, storage.S3Storage)
    monkeypatch.setitem(app.extensions, "document_storage", store)
    return store


def test_documents_in_an_s3_bucket(s3_storage, advocate_api, case, api_as):
    content = JPEG + b"4" * 300_000
    response = api_upload(advocate_api, case.case_number, content=content, filename="photo.jpg")
    assert response.status_code == 201
    document = response.get_json()
    listed = s3_storage.client.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"case-files/{document['sha256']}"]
    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=listed[0]["Key"])
    assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == len(content)
    download = api_as("reviewer").get(document["content_url"])
    assert download.status_code == 200 and download.data == content


def test_a_missing_s3_object_is_an_error_not_an_empty_file(s3_storage, app):
    with app.app_context(), pytest.raises(FileNotFoundError):
        next(s3_storage.chunks("0" * 64))


def test_storage_urls(tmp_path):
    assert isinstance(storage.storage_for(None, str(tmp_path)), storage.LocalStorage)
    local = storage.storage_for(None, str(tmp_path))
    assert local.path_of("ab" + "0" * 62) == tmp_path / "documents" / "ab" / ("ab" + "0" * 62)
    with pytest.raises(ValueError):
        local.path_of("../../etc/passwd")
    with pytest.raises(RuntimeError):
        storage.storage_for("ftp://host/x", str(tmp_path))
