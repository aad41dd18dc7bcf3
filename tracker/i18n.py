"""Languages: Flask-Babel set up once, and the choice of language for a request.

Templates mark text with ``_('...')`` (installed by Flask-Babel's Jinja extension, in its
"newstyle" form: ``_('%(n)s cases', n=3)``, and the msgid is trusted HTML, its variables
escaped); Python code with ``gettext``/``lazy_gettext`` from ``flask_babel``. The API's
field names and codes stay English; only human messages are translated.

Which language a request gets:

- web pages: the user's choice on the account page (``User.language``), else the browser's
  ``Accept-Language``, else English;
- the JSON API (``/api/``): ``Accept-Language`` only, else English — a script says what it
  wants on each request, whoever owns its token;
- e-mails: the recipient's choice, else English (``recipient_locale``);
- the command line (``flask --app tracker …``): the environment's ``LANG`` (as any
  gettext program), else English. Its ``--help`` texts stay English.

The catalogues live in ``tracker/translations/<lang>/LC_MESSAGES/messages.po``; the
compiled ``.mo`` files are not kept in git: ``make`` compiles them when it installs, and
``compile_catalogues`` (called by ``create_app``) compiles any that is missing or older
than its ``.po``, so a fresh checkout works with no extra step.
"""

import functools
import logging
import os
import tempfile
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request
from flask.globals import _cv_app
from flask_babel import (
    Babel,
    Domain,
    LazyString,
    force_locale,
    format_datetime,
    format_decimal,
    format_percent,
    get_locale,
    gettext,
    refresh,
)
from jinja2 import pass_eval_context
from markupsafe import Markup

#: Languages with a catalogue under ``tracker/translations/`` (English is the source).
LANGUAGES = ("en", "es")
#: The names the language menu shows, each in its own language (as every mature product
#: does: someone who reads only Spanish must find "Español").
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
#: Each language's Babel locale, parsed once: Flask-Babel parses the selector's answer on
#: every request unless it is already a ``Locale``.
LOCALES = {language: Locale.parse(language) for language in LANGUAGES}

log = logging.getLogger(__name__)
babel = Babel()


class RequestDomain(Domain):
    """Flask-Babel's domain, with the translations looked up once per locale a request uses.

    Flask-Babel resolves the context, the domain, the locale and the catalogue's cache key on
    every string (a hundred times on a queue page); this keeps the catalogue beside the locale
    Flask-Babel chose, so the next string of the same locale costs two attribute reads.
    ``refresh`` and ``force_locale`` replace the locale object, which drops the shortcut.
    """

    def get_translations(self):
        context = _cv_app.get(None)
        state = context.g.__dict__.get("_flask_babel") if context is not None else None
        locale = getattr(state, "babel_locale", None)
        if locale is None:
            return super().get_translations()
        cached = getattr(state, "tracker_translations", None)
        if cached is not None and cached[0] is locale:
            return cached[1]
        translations = super().get_translations()
        state.tracker_translations = (locale, translations)
        return translations


def _template_gettext(message: str) -> str:
    return babel.domain_instance.get_translations().ugettext(message)


def _template_ngettext(singular: str, plural: str, count: int) -> str:
    return babel.domain_instance.get_translations().ungettext(singular, plural, count)


#: A catalogue's attribute holding its fixed strings' translations as pages show them.
_SHOWN = "tracker_shown_markup"
#: At most this many kept per catalogue: the templates' fixed strings, with room to spare.
_SHOWN_LIMIT = 4096


@pass_eval_context
def _template_translate(eval_context, message: str, /, **variables) -> str:
    """``_('…')`` in templates, as Jinja's newstyle ``gettext`` answers it (the msgid is a
    format string, its variables escaped), without its three context calls per string,
    which made every ``_()`` in a block that sets a variable copy the context.

    A string without variables is translated and marked safe once per catalogue (a page
    shows dozens, every one the same on every page in that language).
    """
    translations = babel.domain_instance.get_translations()
    if not eval_context.autoescape:
        return translations.ugettext(message) % variables
    if variables:
        return Markup(translations.ugettext(message)) % variables
    shown = translations.__dict__.get(_SHOWN)
    if shown is None:
        shown = translations.__dict__.setdefault(_SHOWN, {})
    markup = shown.get(message)
    if markup is None:
        markup = Markup(translations.ugettext(message)) % variables
        if len(shown) < _SHOWN_LIMIT:
            shown[message] = markup
    return markup


def select_locale() -> str:
    """The language of this request (see the module's docstring)."""
    from flask_login import current_user

    if not has_request_context():
        return command_line_locale()
    if not request.path.startswith("/api/"):
        preferred = getattr(current_user, "language", None) if current_user else None
        if preferred in LANGUAGES:
            return preferred
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _request_locale() -> Locale:
    """Flask-Babel's locale selector: ``select_locale``'s language as its parsed locale."""
    return LOCALES[select_locale()]


def command_line_locale() -> str:
    """The CLI's language: the environment's (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as
    gettext reads them, e.g. ``LANG=es_ES.UTF-8``), else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            language = value.split(".")[0].split("_")[0].lower()
            return language if language in LANGUAGES else "en"
    return "en"


def recipient_locale(user) -> str:
    """The language to write to ``user`` in (e-mails): their choice, else English."""
    language = getattr(user, "language", None)
    return language if language in LANGUAGES else "en"


@contextmanager
def language_of(user):
    """Render what is inside (an e-mail) in ``user``'s language."""
    with force_locale(recipient_locale(user)):
        yield


def lazy(function, *args, **kwargs) -> LazyString:
    """A string computed when shown, in the language of that moment (module-level messages
    with a number in them, e.g. ``lazy(gettext, "At most %(count)s items.", count=…)``)."""
    return LazyString(function, *args, **kwargs)


# --- formatting for the language -------------------------------------------------------
# English keeps the ISO dates the office and its tests have always used (unambiguous for
# American and European readers alike); other languages get CLDR's medium date, e.g.
# Spanish "5 ene 2026". Numbers follow CLDR in every language ("1,500.00" / "1500,00").
DATE_PATTERNS = {"en": "yyyy-MM-dd"}
DATETIME_PATTERNS = {"en": "yyyy-MM-dd HH:mm"}


def current_language() -> str:
    """The request's language ("en", "es"): the key of what is translated once per language.

    Asked some thirty times a case page (each kept field, date and label set): the locale
    Flask-Babel chose for the request is read where it keeps it, as ``RequestDomain`` does,
    rather than through its three context lookups each time; ``get_locale`` chooses it the
    first time (and outside a request)."""
    context = _cv_app.get(None)
    state = context.g.__dict__.get("_flask_babel") if context is not None else None
    locale = getattr(state, "babel_locale", None)
    if locale is None:
        locale = get_locale()
    return locale.language if locale is not None else "en"


def _as_date(value):
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return value


def date_filter(value) -> str:
    """``{{ petition.sentence_date|date }}``: a date (or ISO date string) for the language."""
    parsed = _as_date(value)
    if parsed is None:
        return "" if value is None else str(value)
    if isinstance(parsed, datetime):
        parsed = parsed.date()
    return date_writer()(parsed)


def date_writer():
    """``date_filter`` for the many dates of one page: the language looked up once, not per
    date (a date, not an ISO string)."""
    pattern = DATE_PATTERNS.get(current_language(), "medium")
    if pattern == "yyyy-MM-dd":
        return date.isoformat
    return functools.partial(babel_dates.format_date, format=pattern, locale=get_locale())


def datetime_filter(moment) -> str:
    """``{{ entry.created_at|datetime }}``: a moment in the display time zone, for the language."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    pattern = DATETIME_PATTERNS.get(current_language())
    if pattern:
        return local.strftime("%Y-%m-%d %H:%M")
    # Already in the display zone: Babel must not convert it again.
    return format_datetime(local.replace(tzinfo=None), "d MMM yyyy HH:mm")


def number_filter(value, digits: int | None = None) -> str:
    """``{{ count|number }}`` or ``{{ amount|number(2) }}``: grouped for the language."""
    if value is None or value == "":
        return ""
    if digits is None:
        return format_decimal(value)
    return format_decimal(value, format="#,##0." + "0" * digits)


def percent_filter(value) -> str:
    return format_percent(value)


# --- the catalogues --------------------------------------------------------------------
def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``.po`` whose ``.mo`` is missing or older; return those written.

    Each ``.mo`` is written to a temporary file and renamed, so several workers starting
    at once never read half a file. A read-only installation (compiled at build time)
    is left as it is.
    """
    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        try:
            with po_path.open("rb") as po_file:
                catalogue = read_po(po_file, locale=po_path.parent.parent.name)
            handle, temporary = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
            with os.fdopen(handle, "wb") as mo_file:
                write_mo(mo_file, catalogue)
            os.replace(temporary, mo_path)
        except OSError as error:
            log.warning("Could not compile %s: %s", po_path, error)
            continue
        written.append(mo_path)
    return written


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    compile_catalogues()
    babel.init_app(app, locale_selector=_request_locale)
    # One domain for every app (as Flask-Babel's own cached one); templates ask it directly.
    if not isinstance(babel.__dict__.get("domain_instance"), RequestDomain):
        babel.domain_instance = RequestDomain(domain=app.config.get("BABEL_DOMAIN", "messages"))
    app.jinja_env.install_gettext_callables(
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True
    )
    app.jinja_env.globals["_"] = _template_translate
    # Flask-Babel keeps the locale on ``g``, the app context's: a request served inside an
    # app context already pushed (tests, a CLI command) must not inherit another's language.
    app.before_request(refresh)
    app.jinja_env.globals.update(get_locale=get_locale, LANGUAGE_NAMES=LANGUAGE_NAMES)
    app.jinja_env.filters.update(
        date=date_filter,
        datetime=datetime_filter,
        number=number_filter,
        percent=percent_filter,
    )


__all__ = ["LANGUAGES", "gettext", "init_app", "language_of", "lazy", "select_locale"]
