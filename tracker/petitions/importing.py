"""Bulk import: reading a CSV of petitions and checking every row before anything is written.

The columns are the writable field names of the JSON API (``kind``, ``petitioner_name``, …);
the field rules are those of ``tracker.petitions.validation``, shared with the forms and
the API. Nothing here touches the database: ``services.import_petitions`` adds the checks
that need it (a register number already open in the organization) and writes the rows.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import ngettext

from tracker.errors import BulkRefused
from tracker.petitions.models import EDITABLE_FIELDS
from tracker.petitions.validation import parse_petition_fields, petition_errors

#: Fields of a petition as the API shows it that no one sets directly: refused as
#: JSON fields and as CSV columns.
READ_ONLY_FIELDS = (
    "case_number",
    "stage",
    "organization",
    "advocate",
    "assignee",
    "version",
    "created_at",
    "updated_at",
)
#: More rows than this are refused as a whole (the request limit also caps the file size).
MAX_IMPORT_ROWS = 20_000
#: How often (in rows) the progress callback is told.
PROGRESS_STEP = 500


@dataclass(frozen=True)
class ImportRow:
    """One data row of the file: the line it starts on (the header is line 1) and its text."""

    line: int
    fields: dict[str, str | None]
    #: How many values the row has beyond the header's columns (a problem of the row).
    extra_values: int = 0


def row_error(line: int, field: str | None, message: str) -> dict:
    return {"line": line, "field": field, "message": message}


def refuse(errors: list[dict]) -> BulkRefused:
    """The error that refuses the whole import, listing every bad row in line order."""
    errors = sorted(errors, key=lambda e: (e["line"], e["field"] or ""))
    lines = len({e["line"] for e in errors})
    return BulkRefused(
        ngettext(
            "Nothing was imported: %(num)d row of the file has problems.",
            "Nothing was imported: %(num)d rows of the file have problems.",
            lines,
        ),
        errors,
        status=422,
    )


def read_csv(content: bytes | str) -> list[ImportRow]:
    """The file's rows; raises BulkRefused (422) when the file itself cannot be read.

    UTF-8 (with or without a byte-order mark). The first line names the columns;
    blank lines are skipped. A read-only or unknown column refuses the file, naming it.
    """
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            message = f"The file is not UTF-8 text ({error.reason})."
            raise refuse([row_error(1, None, message)]) from None
    content = content.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(content, newline=""))
    rows: list[ImportRow] = []
    header: list[str] | None = None
    try:
        while True:
            line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            if not any(value.strip() for value in values):
                continue
            if header is None:
                header = _check_header(values, line)
                continue
            rows.append(_row(header, values, line))
            if len(rows) > MAX_IMPORT_ROWS:
                raise refuse([row_error(line, None, f"At most {MAX_IMPORT_ROWS} rows at once.")])
    except csv.Error as error:
        message = f"The CSV cannot be read: {error}."
        raise refuse([row_error(reader.line_num, None, message)]) from None
    if header is None:
        message = "The file is empty: the first line must name the columns."
        raise refuse([row_error(1, None, message)])
    return rows


def _check_header(names: list[str], line: int) -> list[str]:
    names = [name.strip() for name in names]
    errors = []
    for position, name in enumerate(names, start=1):
        if name in READ_ONLY_FIELDS:
            errors.append(row_error(line, name, f"The column '{name}' is read-only: remove it."))
        elif name not in EDITABLE_FIELDS:
            shown = f"'{name}'" if name else f"number {position} (no name)"
            errors.append(row_error(line, name or None, f"Unknown column {shown}."))
        elif name in names[: position - 1]:
            errors.append(row_error(line, name, f"The column '{name}' appears twice."))
    if errors:
        raise refuse(errors)
    return names


def _row(header: list[str], values: list[str], line: int) -> ImportRow:
    # Missing trailing values are empty; extra ones are reported by check_rows.
    fields = dict(zip(header, values, strict=False))
    return ImportRow(line=line, fields=fields, extra_values=max(0, len(values) - len(header)))


def check_rows(
    rows: list[ImportRow],
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Typed petition values for every row, and every problem as {line, field, message}.

    A register number repeated within the file is a problem of each row after its first.
    ``progress`` is called with the number of rows checked since its last call.
    """
    today = today or date.today()
    values_list, errors = [], []
    first_line_of: dict[str, int] = {}
    for index, row in enumerate(rows, start=1):
        values, row_errors = _check_row(row, today)
        errors.extend(row_errors)
        register_number = values.get("register_number")
        if register_number and "register_number" not in {e["field"] for e in row_errors}:
            first = first_line_of.setdefault(register_number, row.line)
            if first != row.line:
                errors.append(
                    row_error(
                        row.line,
                        "register_number",
                        _(
                            "The register number %(number)s is repeated: it is also on line "
                            "%(line)s.",
                            number=register_number,
                            line=first,
                        ),
                    )
                )
        values_list.append(values)
        if progress is not None and (index % PROGRESS_STEP == 0 or index == len(rows)):
            progress(index % PROGRESS_STEP or PROGRESS_STEP)
    return values_list, errors


def _check_row(row: ImportRow, today: date) -> tuple[dict, list[dict]]:
    errors = []
    fields = dict(row.fields)
    if row.extra_values:
        errors.append(
            row_error(
                row.line,
                None,
                ngettext(
                    "This row has %(num)d more value than the header has columns.",
                    "This row has %(num)d more values than the header has columns.",
                    row.extra_values,
                ),
            )
        )
    values, parse_errors = parse_petition_fields(fields)
    complete = {name: values.get(name) for name in EDITABLE_FIELDS}
    field_errors = petition_errors(complete, today) | parse_errors
    errors.extend(row_error(row.line, name, message) for name, message in field_errors.items())
    return complete, errors
