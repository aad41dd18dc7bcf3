"""The tracker as ``bench.pages`` serves it, except that no template is rendered: every
``render_template`` answers a fixed text of ``PAGE_LENGTH`` characters (about a case page's
HTML) without running the template, its context processors or Flask's template signals.
Everything else a page does is unchanged: the session's check, the reads, the forms and their
CSRF token, the read log, the request's hooks. (The sign-in page, written from a kept copy
that must hold the CSRF token's place, answers 500 here: ``bench.pages`` refuses it.)

For measuring, never for serving: ``python -m bench.pages … --without-templates`` runs it in
place of the tracker, so a page's ratio to the floor shows the most that making its template
cheaper could ever give (README, issue 15).

    gunicorn 'bench.without_templates:create_app()'
"""

import flask.templating

from tracker import create_app as create_tracker_app

PAGE_LENGTH = 15_000
PLACEHOLDER = "x" * PAGE_LENGTH


def not_rendered(app, template, context) -> str:
    return PLACEHOLDER


def create_app(*args, **kwargs):
    # render_template and render_template_string both end in this private helper of Flask's.
    flask.templating._render = not_rendered
    return create_tracker_app(*args, **kwargs)
