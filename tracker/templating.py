"""The templates' Jinja environment: Jinja's own, its autoescaped output written as text.

With autoescaping, Jinja writes each ``{{ value }}`` as ``markupsafe.escape(value)``: a new
Markup object per value, which is only joined into the page (or a block's Markup) at once.
Making that object cost four times the escaping itself (0.6 of 0.75 µs), and a queue page
writes some 700 values. Here the same text is written as a plain string: what is escaped,
and how, is unchanged (``escaped_text`` answers ``str(markupsafe.escape(value))`` for every
value), and autoescaping stays on everywhere.
"""

from flask.templating import Environment
from jinja2.compiler import CodeGenerator
from markupsafe import escape

try:  # markupsafe's escaping of a plain string, to text (3.0's name; private)
    from markupsafe import _escape_inner
except ImportError:  # pragma: no cover - a later markupsafe without it: the same text

    def _escape_inner(text: str) -> str:
        return str(escape(text))


def escaped_text(value) -> str:
    """``markupsafe.escape(value)``'s text, as a string: a string escaped, an object with
    ``__html__`` (Markup: already safe) as it writes itself, anything else as its text
    escaped."""
    if type(value) is str:
        return _escape_inner(value)
    if hasattr(value, "__html__"):
        html = value.__html__()
        return html if isinstance(html, str) else str(html)
    return _escape_inner(str(value))


class _TextOutputCodeGenerator(CodeGenerator):
    """Jinja's code generator, except that autoescaped output calls ``escaped_text``."""

    def _output_child_pre(self, node, frame, finalize) -> None:
        if frame.eval_ctx.volatile:
            self.write("(environment.escaped_text if context.eval_ctx.autoescape else str)(")
        elif frame.eval_ctx.autoescape:
            self.write("environment.escaped_text(")
        else:
            self.write("str(")
        if finalize.src is not None:
            self.write(finalize.src)


class TrackerEnvironment(Environment):
    """Flask's template environment, with ``_TextOutputCodeGenerator``."""

    code_generator_class = _TextOutputCodeGenerator
    escaped_text = staticmethod(escaped_text)

    def make_globals(self, d):
        """A template without globals of its own shares the environment's (the same dict),
        rather than a ChainMap over them: Jinja compares the keys of an importing page's
        globals with the imported template's on every ``{% from … import … %}``, and a
        ChainMap's keys are gathered afresh each time (some fifty; 0.05-0.1 ms an import).
        The app never gives a template globals of its own, nor changes one's."""
        if not d:
            return self.globals
        return super().make_globals(d)
