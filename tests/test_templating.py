"""The templates' environment (tracker.templating): autoescaped output written as text is
the text markupsafe's escape gives, for every kind of value a template writes."""

import pytest
from flask import render_template_string
from jinja2 import Undefined
from markupsafe import Markup, escape

from tracker.templating import TrackerEnvironment, escaped_text


class WritesItself:
    def __html__(self):
        return "<b>safe</b>"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "<script>alert('x') & \"y\"</script>",
        Markup("<b>kept</b>"),
        Markup("&amp; <i>"),
        WritesItself(),
        0,
        2159,
        -1.5,
        None,
        True,
        Undefined(),
        ["<a>", 1],
    ],
)
def test_escaped_text_is_markupsafe_escape(value):
    assert escaped_text(value) == str(escape(value))
    assert type(escaped_text(value)) in (str, Markup)


def test_the_app_writes_templates_with_it(app):
    assert isinstance(app.jinja_env, TrackerEnvironment)
    with app.test_request_context():
        page = render_template_string(
            "{{ typed }}|{{ kept }}|{% set block %}{{ typed }}{% endset %}{{ block }}"
            "|{% macro m(v) %}<p>{{ v }}</p>{% endmacro %}{{ m(typed) }}",
            typed='<img src=x onerror="y">',
            kept=Markup("<em>ok</em>"),
        )
    hostile = "&lt;img src=x onerror=&#34;y&#34;&gt;"
    assert page == f"{hostile}|<em>ok</em>|{hostile}|<p>{hostile}</p>"


def test_a_template_without_globals_of_its_own_shares_the_environments(app):
    """Each ``{% from … import … %}`` compares the importing page's globals with the
    imported template's: shared, the comparison is of one dict's keys, not of a ChainMap's
    gathered afresh."""
    environment = app.jinja_env
    macros = environment.get_template("_macros.html")
    assert macros.globals is environment.globals
    with app.test_request_context():
        page = render_template_string(
            "{% from '_macros.html' import form_errors %}{{ form_errors(form) }}",
            form=type("Form", (), {"form_errors": ["<b>wrong</b>"], "errors": {}})(),
        )
    assert "<div>&lt;b&gt;wrong&lt;/b&gt;</div>" in page


def test_a_template_given_globals_of_its_own_keeps_them_apart(app):
    environment = app.jinja_env
    own = environment.from_string("{{ only_here }} {{ csrf_token is defined }}", {"only_here": 7})
    assert own.render() == "7 True"
    assert "only_here" not in environment.globals
