"""Tables shown on pages and downloadable as CSV: one definition gives both.

A ``Table`` is a title, column names and rows of plain values; pages render it with
``templates/_tables.html`` and ``csv_response`` answers it as a CSV download (cells that a
spreadsheet would take for a formula are written as text, as the audit export does).
"""

from dataclasses import dataclass, field

from flask import Response

from tracker import listing


@dataclass
class Table:
    #: The name in URLs and file names (``reviewers`` → reviewers.csv).
    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    #: Shown above the table when there are more rows than it lists.
    note: str | None = None


def csv_text(table: Table) -> str:
    records = (dict(zip(table.columns, row, strict=True)) for row in table.rows)
    return "".join(listing.stream_csv(records, tuple(table.columns)))


def csv_response(table: Table, filename: str) -> Response:
    """The table as a CSV attachment."""
    return Response(
        csv_text(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
