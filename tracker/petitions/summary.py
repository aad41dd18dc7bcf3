"""The printable case summary as a PDF, drawn by WeasyPrint from ``petitions/summary.html``.

WeasyPrint needs Debian's Pango (``libpango-1.0-0``, ``libpangoft2-1.0-0``); without it the
import fails with OSError. That is found out once, and then every PDF request answers 503
with the reason (``PdfUnavailable``) and the case page says so next to its PDF link; the
browser's own printing, with the print stylesheet in ``tracker.css``, works either way.
No network is touched: the one stylesheet is read from the package, and nothing else is
fetched (a URL in the page is never followed).
"""

import functools
import warnings
from pathlib import Path

from tracker.errors import DomainError

STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "summary.css"


class PdfUnavailable(DomainError):
    """The PDF cannot be drawn on this server (503); the message says why."""

    status = 503


@functools.cache
def unavailable_reason() -> str | None:
    """Why PDFs cannot be drawn here, or None when WeasyPrint loads."""
    try:
        with warnings.catch_warnings():
            # Without libharfbuzz-subset0 WeasyPrint warns that a future version will need it
            # (it subsets fonts with fontTools meanwhile); .ci/run installs the package.
            warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
            import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"WeasyPrint cannot load on this server ({first_line})."
    return None


def _no_fetching(url: str, *args, **kwargs):
    raise ValueError(f"The case summary fetches nothing ({url}).")


def render_pdf(html: str) -> bytes:
    """The summary page's HTML as PDF bytes; PdfUnavailable (503) when it cannot be drawn."""
    reason = unavailable_reason()
    if reason is not None:
        raise PdfUnavailable(
            f"{reason} Print the case page from your browser instead: it prints as a summary."
        )
    import weasyprint

    document = weasyprint.HTML(string=html, url_fetcher=_no_fetching)
    return document.write_pdf(stylesheets=[weasyprint.CSS(filename=str(STYLESHEET))])
