"""Find the text of a Jinja template that people would read but that is not marked for
translation: text between tags, readable attributes (``alt``, ``title``, ``aria-label``,
``placeholder``), and string literals in Jinja expressions that read as prose
(``{{ 'Queue' if … else 'Our petitions' }}``).

Marked text is what ``_()``, ``gettext()`` or ``ngettext()`` receive. Code samples (inside
``<code>``, ``<pre>``, ``<kbd>``, ``<samp>``) are not prose and are left alone.
"""

import re
from html.parser import HTMLParser

from jinja2 import Environment
from jinja2.exceptions import TemplateSyntaxError

#: Where a Jinja construct stood: not a letter, so it never counts as text.
HOLE = "\ue000"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
LETTER = re.compile(r"[^\W\d_]")
READABLE_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder"})
CODE_ELEMENTS = frozenset({"code", "pre", "kbd", "samp", "script", "style"})
TRANSLATING_CALLS = frozenset({"_", "gettext", "ngettext", "pgettext", "npgettext"})
#: Prose: a capitalised word, or words separated by spaces with no code-like character.
PROSE = re.compile(r"^\(?[A-Z][a-z]|^\([a-z ]+\)$|^[A-Za-z]+(?: [A-Za-z,.'!?]+)+$")
CODE_LIKE = re.compile(r"[-_/#=%<>{}|]|^[a-z]+$|[a-z][A-Z]")

_lexer_env = Environment(extensions=["jinja2.ext.i18n"])


def _unmarked_literals(expression: str) -> list[str]:
    """Prose string literals of one Jinja construct that no translating call receives."""
    try:
        tokens = [(token.type, token.value) for token in _lexer_env.lexer.tokenize(expression)]
    except TemplateSyntaxError:
        return []
    found = []
    depth = 0
    translating_depths = []
    previous_name = None
    for kind, value in tokens:
        if kind == "lparen":
            depth += 1
            if previous_name in TRANSLATING_CALLS:
                translating_depths.append(depth)
        elif kind == "rparen":
            if translating_depths and translating_depths[-1] == depth:
                translating_depths.pop()
            depth -= 1
        elif kind == "string":
            marked = bool(translating_depths) and translating_depths[-1] == depth
            if not marked and PROSE.search(value) and not CODE_LIKE.search(value):
                found.append(value)
        previous_name = value if kind == "name" else None
    return found


class _TextFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.open_code = 0

    def handle_starttag(self, tag, attrs):
        if tag in CODE_ELEMENTS:
            self.open_code += 1
        for name, value in attrs:
            if name in READABLE_ATTRIBUTES and value and LETTER.search(value):
                self.found.append(f'{name}="{value}"')

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in CODE_ELEMENTS:
            self.open_code -= 1

    def handle_endtag(self, tag):
        if tag in CODE_ELEMENTS and self.open_code:
            self.open_code -= 1

    def handle_data(self, data):
        if not self.open_code and LETTER.search(data):
            text = " ".join(data.split()).strip(HOLE + " ")
            self.found.append(text.replace(HOLE, "…"))


def unmarked_text(source: str) -> list[str]:
    """Every piece of readable text of a template's source not marked for translation."""
    found = []
    for construct in JINJA.findall(source):
        if not construct.startswith("{#"):
            found.extend(_unmarked_literals(construct))
    finder = _TextFinder()
    finder.feed(JINJA.sub(HOLE, source))
    finder.close()
    return found + finder.found
