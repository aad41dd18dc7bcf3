"""Languages (issue 16, part 1): nothing readable is left unmarked, the Spanish catalogue is
complete, and pages, API problems, e-mails and the CLI speak the language they should.
"""

import ast
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import refresh
from sqlalchemy import select

from tests.api_helpers import petition_json, problem_of
from tests.conftest import csrf_token
from tests.helpers import audit_entries, page_text
from tests.template_text import unmarked_text
from tracker import i18n
from tracker.auth.models import User
from tracker.extensions import db
from tracker.notifications import delivery
from tracker.notifications.models import Notification
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "templates"
TRANSLATIONS = PROJECT_ROOT / "tracker" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
NAMES = re.compile(r"%\((\w+)\)[sd]")
SPANISH = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}


def template_files() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in (".html", ".txt"))


# --- every readable string is marked, and translated --------------------------------------------


@pytest.mark.parametrize("template", template_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_readable_string_of_a_template_is_marked(template):
    """Text between tags, readable attributes and prose literals all go through _()."""
    assert unmarked_text(template.read_text(encoding="utf-8")) == []


def test_the_checker_finds_unmarked_text():
    """The checker itself: each kind of unmarked text is found, marked text is not."""
    source = """{% extends "base.html" %}{% block title %}Cases{% endblock %}
      <p class="x">Hello {{ name }}</p><img alt="A photo" src="x">
      {{ 'Queue' if a else _('Ours') }}<code>flask run</code>{{ _('Marked') }}
      <span aria-label="{{ _('Fine') }}">{{ value }}</span>"""
    found = unmarked_text(source)
    assert found == ["Queue", "Cases", "Hello", 'alt="A photo"']


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    """The msgids ``pybabel extract`` finds in the code now (as ``make translations`` runs it)."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            Path(sys.executable).with_name("pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as file:
        return {_key(m.id) for m in read_po(file) if m.id}


def _key(msgid) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def _catalogue(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=language)


TRANSLATED = [language for language in i18n.LANGUAGES if language != "en"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_catalogue_translates_every_marked_string(extracted, language):
    catalogue = _catalogue(language)
    translated = {
        _key(m.id): m
        for m in catalogue
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(extracted - set(translated))
    assert not missing, f"untranslated (run `make translations`, then translate): {missing}"
    fuzzy = sorted(_key(m.id) for m in catalogue if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy translations to check: {fuzzy}"


def test_the_template_pot_is_up_to_date(extracted):
    with (TRANSLATIONS / "messages.pot").open("rb") as file:
        committed = {_key(m.id) for m in read_po(file) if m.id}
    assert committed == extracted, "run `make translations` and commit messages.pot"


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_translation_keeps_the_placeholders_of_its_original(language):
    for message in _catalogue(language):
        if not message.id:
            continue
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set().union(*(PLACEHOLDER.findall(text) for text in originals))
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, (message.id, text)


def test_a_stale_catalogue_is_compiled_at_startup(tmp_path):
    source = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
    target = tmp_path / "es" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "messages.po").write_bytes(source.read_bytes())
    assert i18n.compile_catalogues(tmp_path) == [target / "messages.mo"]
    assert (target / "messages.mo").stat().st_size > 10_000
    assert i18n.compile_catalogues(tmp_path) == []  # up to date: left alone


# --- pages ----------------------------------------------------------------------------------------


def test_the_login_page_follows_the_browser(client):
    spanish = client.get("/login", headers=SPANISH).get_data(as_text=True)
    assert '<html lang="es">' in spanish
    assert "Iniciar sesión" in spanish and "Log in" not in spanish
    english = client.get("/login", headers={"Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Log in" in english.get_data(as_text=True)


def test_an_unknown_language_falls_back_to_english(client):
    body = client.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in body and "Log in" in body


def test_the_case_page_in_spanish_with_dates_and_amounts_for_the_language(
    client, login_as, make_petition
):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate, sentence_date=date(2005, 6, 1))
    body = client.get(f"/petitions/{petition.case_number}", headers=SPANISH)
    text = page_text(body)
    assert body.status_code == 200
    for words in ("Solicitud", "Solicitante", "Conmutación de pena", "En prisión", "Historial"):
        assert words in text, words
    assert "Recibido" in text  # the stage badge
    assert "Petitioner" not in text and "Commutation of sentence" not in text


def test_the_users_choice_overrides_the_browser(client, login_as):
    user = login_as("advocate")
    page = client.get("/account", headers=SPANISH)
    assert "Idioma" in page.get_data(as_text=True)
    token = csrf_token(client, "/account")
    response = client.post(
        "/account/language", data={"csrf_token": token, "language": "en"}, headers=SPANISH
    )
    assert response.status_code == 302
    body = client.get("/petitions", headers=SPANISH, follow_redirects=True)
    assert '<html lang="en">' in body.get_data(as_text=True)
    assert "Your language is saved." in body.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).language == "en"

    token = csrf_token(client, "/account")
    client.post("/account/language", data={"csrf_token": token, "language": "es"})
    body = client.get("/petitions", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="es">' in body and "Nuestras solicitudes" in body


def test_the_browser_default_follows_accept_language_again(client, login_as):
    login_as("advocate")
    client.post(
        "/account/language", data={"csrf_token": csrf_token(client, "/account"), "language": "es"}
    )
    client.post(
        "/account/language", data={"csrf_token": csrf_token(client, "/account"), "language": ""}
    )
    body = client.get("/petitions", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in body


def test_a_change_of_language_is_audited_once(client, login_as):
    user = login_as("reviewer")
    for language in ("es", "es"):
        client.post(
            "/account/language",
            data={"csrf_token": csrf_token(client, "/account"), "language": language},
        )
    entries = audit_entries(action="language_changed", subject_user_id=user.id)
    assert len(entries) == 1
    assert entries[0].changes == {"language": [None, "es"]}
    assert entries[0].category == "security"


def test_an_unknown_language_is_refused_with_the_field_marked(client, login_as):
    login_as("advocate")
    response = client.post(
        "/account/language", data={"csrf_token": csrf_token(client, "/account"), "language": "xx"}
    )
    assert response.status_code == 422
    assert 'id="language"' in response.get_data(as_text=True)
    assert "invalid-feedback" in response.get_data(as_text=True)


def test_a_form_error_is_in_spanish(client, login_as):
    login_as("advocate")
    token = csrf_token(client, "/petitions/new")
    response = client.post(
        "/petitions/new", data={"csrf_token": token, "kind": "pardon"}, headers=SPANISH
    )
    assert response.status_code == 422
    text = page_text(response)
    assert "Corrija los campos marcados abajo." in text
    assert "Este campo es obligatorio." in text or "Elija una situación de custodia." in text


def test_a_flash_message_is_in_spanish(client, login_as):
    login_as("advocate")
    response = client.post(
        "/logout", data={"csrf_token": csrf_token(client)}, headers=SPANISH, follow_redirects=True
    )
    assert "Ha cerrado la sesión." in page_text(response)


def test_the_error_page_is_in_spanish(client, login_as):
    login_as("advocate")
    response = client.get("/petitions/CP-1999-999999", headers=SPANISH)
    assert response.status_code == 404
    text = page_text(response)
    assert "No encontrado" in text and "Volver a los casos" in text


def test_a_case_count_is_grouped_and_pluralised_for_the_language(app):
    # Flask-Babel keeps the locale on the app context, which the suite's fixture holds open.
    with app.test_request_context(headers=SPANISH):
        refresh()
        assert i18n.number_filter(1234567) == "1.234.567"
        assert i18n.date_filter(date(2026, 1, 5)) == "5 ene 2026"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()
        assert i18n.number_filter(1234567) == "1,234,567"
        assert i18n.date_filter("2026-01-05") == "2026-01-05"


# --- the API --------------------------------------------------------------------------------------


def test_api_problems_follow_accept_language_but_keep_field_names_and_codes(api_as):
    api = api_as("advocate")
    body = petition_json(kind="bogus", date_of_birth="1975-13-40")
    response = api.post("/api/v1/petitions", json=body, headers=SPANISH)
    problem = problem_of(response, 422)
    assert problem["title"] == "Contenido no procesable"
    fields = {error["field"]: error["message"] for error in problem["errors"]}
    assert fields["kind"] == "Elija indulto o conmutación."
    assert fields["date_of_birth"] == "Use una fecha como 2024-12-31."
    english = problem_of(api.post("/api/v1/petitions", json=body), 422)
    assert english["title"] == "Unprocessable Content"
    assert {e["field"] for e in english["errors"]} == set(fields)


def test_the_api_ignores_the_users_page_language(api_as, make_user):
    user = make_user("advocate")
    user.language = "es"
    db.session.commit()
    api = api_as(user=user)
    problem = problem_of(api.get("/api/v1/petitions/CP-1999-999999"), 404)
    assert problem["detail"] == "No case CP-1999-999999."
    spanish = problem_of(api.get("/api/v1/petitions/CP-1999-999999", headers=SPANISH), 404)
    assert spanish["detail"] == "No existe el caso CP-1999-999999."
    assert spanish["title"] == "No encontrado"


def test_a_workflow_refusal_in_spanish_names_the_stage(api_as, make_petition):
    api = api_as("reviewer")
    petition = make_petition(stage=Stage.GRANTED)
    response = api.post(
        f"/api/v1/petitions/{petition.case_number}/transitions",
        json={"action": "start_review"},
        headers=SPANISH,
    )
    problem = problem_of(response, 409)
    assert problem["current_stage"] == "granted"
    assert "'concedido' (granted)" in problem["detail"]


# --- e-mails and the CLI --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "subject", "line"),
    [
        (None, "was granted", "Open the case to read more"),
        ("es", "fue concedido", "Abra el caso para leer más"),
    ],
)
def test_an_email_is_in_the_recipients_language(app, make_petition, language, subject, line):
    petition = make_petition(stage=Stage.GRANTED)
    advocate = petition.advocate
    advocate.language = language
    db.session.commit()
    notification = db.session.scalars(
        select(Notification).where(Notification.user_id == advocate.id)
    ).first() or Notification(id=10**6, kind="grant", user_id=advocate.id, petition_id=petition.id)
    notification.kind = "grant"
    with app.test_request_context(headers={"Accept-Language": "en" if language else "es"}):
        # The request's own language (the sender's) does not leak into the recipient's mail.
        message = delivery.build_email(notification, petition.case_number, advocate)
    assert subject in message["Subject"]
    assert line in message.get_content()
    assert petition.case_number in message["Subject"]


def test_the_cli_speaks_the_environments_language(runner, monkeypatch):
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    result = runner.invoke(args=["create-token", "nobody@example.org", "--name", "x"])
    assert result.exit_code != 0
    assert "No hay ningún usuario con el correo nobody@example.org." in result.output
    monkeypatch.setenv("LANG", "C.UTF-8")
    refresh()  # each command is a process of its own; here they share the app context
    result = runner.invoke(args=["create-token", "nobody@example.org", "--name", "x"])
    assert "No user with the e-mail nobody@example.org." in result.output


def test_a_language_outside_the_list_is_refused_by_the_database(app_ctx, make_user):
    user = make_user("advocate")
    user.language = "fr"
    with pytest.raises(Exception, match="(?i)check|constraint"):
        db.session.flush()
    db.session.rollback()


def test_each_python_message_is_given_the_placeholders_it_names():
    """``_("Case %(case)s…", case=…)``: a misspelt keyword is a KeyError at run time, in the
    one language whose translation uses it. A call without keywords is formatted later."""
    calls = ("_", "_l", "gettext", "lazy_gettext", "ngettext")
    wrong = []
    for path in sorted((PROJECT_ROOT / "tracker").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in calls):
                continue
            texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
            named = {
                name for text in texts if isinstance(text, str) for name in NAMES.findall(text)
            }
            given = {keyword.arg for keyword in node.keywords}
            if node.func.id == "ngettext":
                given.add("num")
            if given and named != given:
                wrong.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {named} ≠ {given}")
    assert wrong == []
