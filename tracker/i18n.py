"""Languages: Flask-Babel set up once, and the choice of language for a request.

Templates mark text with ``_('...')`` (installed by Flask-Babel's Jinja extension);
Python code with ``gettext``/``lazy_gettext`` from ``flask_babel``. The API's field names
and codes stay English; only human messages are translated.
"""

from flask import Flask, request
from flask_babel import Babel, get_locale

#: Languages with a catalogue under ``tracker/translations/`` (English is the source).
LANGUAGES = ("en", "es")

babel = Babel()


def select_locale() -> str:
    """The user's chosen language, else the browser's ``Accept-Language``, else English."""
    from flask_login import current_user

    preferred = getattr(current_user, "language", None) if current_user else None
    if preferred in LANGUAGES:
        return preferred
    if not request:
        return "en"
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
