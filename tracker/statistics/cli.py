"""``flask --app tracker statistics --fiscal-year 2025 [--format table|csv|json]``."""

import json

import click

from tracker.errors import ValidationFailed
from tracker.statistics import queries
from tracker.tables import csv_text


def _plain_table(counts: queries.YearCounts) -> str:
    header = ["kind", *queries.COLUMNS]
    rows = [[kind, *(str(counts.kinds[kind][c]) for c in queries.COLUMNS)] for kind in counts.kinds]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"Fiscal year {counts.fiscal_year}"]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [
            v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


@click.command("statistics")
@click.option("--fiscal-year", "fiscal_year", help="e.g. 2025 (Oct 1, 2024 – Sep 30, 2025).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def statistics_command(fiscal_year, output):
    """Print the fiscal year's statistics per kind (the current fiscal year by default).

    Columns: pending_start, received, granted, denied, closed_without_action, closed_other,
    reopened, pending_end, counted from the audit history in DISPLAY_TIMEZONE. Reads only.
    """
    try:
        year = queries.parse_fiscal_year(fiscal_year)
    except ValidationFailed as error:
        raise click.BadParameter(error.errors["fiscal_year"], param_hint="--fiscal-year") from None
    counts = queries.year_counts(year)
    if output == "json":
        click.echo(json.dumps(counts.as_json(), indent=2))
    elif output == "csv":
        table = queries.year_table(counts)
        table.columns = ["kind", *queries.COLUMNS]
        table.rows = [
            [kind, *(counts.kinds[kind][c] for c in queries.COLUMNS)] for kind in counts.kinds
        ]
        click.echo(csv_text(table), nl=False)
    else:
        click.echo(_plain_table(counts))
