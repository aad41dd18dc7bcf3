"""Bulk import: reading a CSV or .xlsx file of petitions and checking every row before
anything is written.

The columns are the writable field names of the JSON API (``kind``, ``petitioner_name``, …)
or their labels ("Petitioner's full name"), in any case; the field rules are those of
``tracker.petitions.validation``, shared with the forms and the API. What spreadsheets
produce is accepted: a UTF-8 byte-order mark, semicolon- or tab-separated files (European
locales' "CSV"), labels for coded values and spreadsheet dates (see
``validation.parse_text_value``), surrounding spaces, and rows whose first cell starts with
``#`` (comments, such as the template's help row) are skipped. Every problem names its
line, its column (the spreadsheet's letter), the value found and what was expected.

Nothing here touches the database: ``services.import_petitions`` adds the checks
that need it (a register number already open in the organization) and writes the rows.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import ngettext

from tracker.errors import BulkRefused
from tracker.petitions.fields import FIELD_LABELS, FIELDS, LIST_SEPARATOR, PetitionField
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


#: The first bytes of a .xlsx workbook (a ZIP archive).
XLSX_SIGNATURE = b"PK\x03\x04"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: A row whose first cell starts with this is a comment (the template's help row).
COMMENT_PREFIX = "#"


@dataclass(frozen=True)
class ImportRow:
    """One data row of the file: the line it starts on (the header is line 1) and its text."""

    line: int
    fields: dict[str, str | None]
    #: How many values the row has beyond the header's columns (a problem of the row).
    extra_values: int = 0
    #: Each field's column, as the spreadsheet names it (A, B, …, AA).
    columns: Mapping[str, str] = dataclass_field(default_factory=dict)


def column_letter(position: int) -> str:
    """The spreadsheet's name of the column at ``position`` (1 is A, 27 is AA)."""
    letters = ""
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def row_error(
    line: int,
    field: str | None,
    message: str,
    *,
    column: str | None = None,
    value: str | None = None,
) -> dict:
    """One problem: the line, the field and its column, the value found, and the message,
    which says what was expected."""
    return {"line": line, "field": field, "column": column, "value": value, "message": message}


#: A value found longer than this is shown cut, with an ellipsis.
SHOWN_VALUE_LENGTH = 100


def cell_error(row: ImportRow, field: str | None, message: str) -> dict:
    """A problem of one row's field, naming the column and the value as the file has them."""
    value = row.fields.get(field) if field else None
    if value is not None and len(value) > SHOWN_VALUE_LENGTH:
        value = value[:SHOWN_VALUE_LENGTH] + "…"
    return row_error(row.line, field, message, column=row.columns.get(field), value=value)


def describe_import_problem(problem: dict) -> str:
    """One problem as a line of text: where it is, what was found, what was expected."""
    where = f"line {problem['line']}"
    if problem.get("column"):
        where += f", column {problem['column']}"
    if problem.get("field"):
        where += f" ({problem['field']})"
    found = f": found {problem['value']!r}" if problem.get("value") else ""
    return f"{where}{found}: {problem['message']}"


def refuse(errors: list[dict]) -> BulkRefused:
    """The error that refuses the whole import, listing every bad row in line order."""
    errors = sorted(errors, key=lambda e: (e["line"], e["column"] or "", e["field"] or ""))
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


def read_file(content: bytes | str) -> list[ImportRow]:
    """The rows of an uploaded file: a .xlsx workbook (its first sheet) or CSV text."""
    if isinstance(content, bytes) and content.startswith(XLSX_SIGNATURE):
        return read_xlsx(content)
    return read_csv(content)


def read_csv(content: bytes | str) -> list[ImportRow]:
    """The file's rows; raises BulkRefused (422) when the file itself cannot be read.

    UTF-8 (with or without a byte-order mark), separated by commas, semicolons or tabs
    (whichever the first line has most of). The first line names the columns; blank lines
    are skipped. A read-only or unknown column refuses the file, naming it.
    """
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            message = f"The file is not UTF-8 text ({error.reason})."
            raise refuse([row_error(1, None, message)]) from None
    content = content.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=_delimiter(content))
    try:
        return _read_rows(_numbered_csv_lines(reader))
    except csv.Error as error:
        message = f"The CSV cannot be read: {error}."
        raise refuse([row_error(reader.line_num, None, message)]) from None


def _delimiter(content: str) -> str:
    first_line = content.lstrip("\r\n").split("\n", 1)[0]
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def _numbered_csv_lines(reader) -> Iterator[tuple[int, list[str]]]:
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        yield line, values


def read_xlsx(content: bytes) -> list[ImportRow]:
    """The rows of a workbook's first sheet, each cell as the text a CSV would have (a date
    cell as 2024-12-31); the sheet's row numbers are the lines."""
    from openpyxl import load_workbook  # only imports need it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001  (a damaged archive raises many kinds of error)
        message = "The file is not a readable .xlsx workbook: save it again, or as CSV."
        raise refuse([row_error(1, None, message)]) from None
    try:
        return _read_rows(
            (number, _trimmed([_cell_text(value) for value in values]))
            for number, values in enumerate(
                workbook.worksheets[0].iter_rows(values_only=True), start=1
            )
        )
    finally:
        workbook.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _trimmed(values: list[str]) -> list[str]:
    # A sheet's formatted but empty cells after the last value are no columns.
    while values and values[-1] == "":
        values.pop()
    return values


def _read_rows(numbered: Iterable[tuple[int, list[str]]]) -> list[ImportRow]:
    rows: list[ImportRow] = []
    header: list[str] | None = None
    columns: dict[str, str] = {}
    for line, values in numbered:
        if not any(value.strip() for value in values):
            continue
        if values[0].strip().startswith(COMMENT_PREFIX):
            continue
        if header is None:
            header = _check_header(values, line)
            columns = {name: column_letter(i) for i, name in enumerate(header, start=1)}
            continue
        rows.append(_row(header, values, line, columns))
        if len(rows) > MAX_IMPORT_ROWS:
            raise refuse([row_error(line, None, f"At most {MAX_IMPORT_ROWS} rows at once.")])
    if header is None:
        message = "The file is empty: the first line must name the columns."
        raise refuse([row_error(1, None, message)])
    return rows


def _header_names() -> dict[str, str]:
    """Each column name the header may use, folded, and its field: the code or the label."""
    names = {}
    for name in EDITABLE_FIELDS:
        names[_folded(FIELD_LABELS[name])] = name
        names[_folded(name)] = name
    return names


def _folded(text: str) -> str:
    return " ".join(str(text).replace("_", " ").split()).casefold()


def _check_header(names: list[str], line: int) -> list[str]:
    known = _header_names()
    fields = [known.get(_folded(name), name.strip()) for name in names]
    errors = []
    for position, (written, name) in enumerate(zip(names, fields, strict=True), start=1):
        column = column_letter(position)
        if name in READ_ONLY_FIELDS:
            message = f"The column '{name}' is read-only: remove it."
            errors.append(row_error(line, name, message, column=column, value=written))
        elif name not in EDITABLE_FIELDS:
            shown = f"'{name}'" if name else f"number {position} (no name)"
            message = f"Unknown column {shown}: use the template's column names."
            errors.append(row_error(line, name or None, message, column=column, value=written))
        elif name in fields[: position - 1]:
            message = f"The column '{name}' appears twice."
            errors.append(row_error(line, name, message, column=column, value=written))
    if errors:
        raise refuse(errors)
    return fields


def _row(header: list[str], values: list[str], line: int, columns: dict[str, str]) -> ImportRow:
    # Missing trailing values are empty; extra ones are reported by check_rows.
    fields = dict(zip(header, values, strict=False))
    extra = max(0, len(values) - len(header))
    return ImportRow(line=line, fields=fields, extra_values=extra, columns=columns)


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
        if _is_template_example(row):
            row_errors.append(cell_error(row, "petitioner_name", TEMPLATE_EXAMPLE_MESSAGE))
        errors.extend(row_errors)
        register_number = values.get("register_number")
        if register_number and "register_number" not in {e["field"] for e in row_errors}:
            first = first_line_of.setdefault(register_number, row.line)
            if first != row.line:
                errors.append(
                    cell_error(
                        row,
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
    errors.extend(cell_error(row, name, message) for name, message in field_errors.items())
    return complete, errors


# --- the template -------------------------------------------------------------------------------

#: The template's example row: a complete, valid commutation. Importing it unchanged is
#: refused (see ``check_rows``), so a forgotten example never becomes a petition.
TEMPLATE_EXAMPLE = {
    "kind": "commutation",
    "petitioner_name": "EXAMPLE - replace this row",
    "register_number": "12345-678",
    "date_of_birth": "1975-04-02",
    "offenses": "Conspiracy to distribute cocaine base",
    "sentencing_court": "District of Maryland",
    "sentence": "240 months' imprisonment",
    "sentence_date": "2005-06-01",
    "custody_status": "in_prison",
    "projected_release_date": "2030-01-01",
    "grounds": "Would receive a far shorter sentence today.",
    "relief_sought": "commutation_time_served",
    "statutes": "21 U.S.C. § 846; 21 U.S.C. § 841(b)(1)(A)",
    "nonviolent": "yes",
}
TEMPLATE_EXAMPLE_MESSAGE = "This is the template's example row: replace it with a petition."


def _expected(field: PetitionField) -> str:
    """What a column of the template takes, in the user's language."""
    if field.type == "date":
        return _("a date: 2024-12-31 or 12/31/2024")
    if field.choices is not None:
        return _(
            "one of: %(choices)s",
            choices=" | ".join(str(label) for label in field.choices.values()),
        )
    if field.type == "list":
        return _("items separated by '%(separator)s'", separator=LIST_SEPARATOR)
    if field.type == "boolean":
        return _("yes or no")
    if field.type == "decimal":
        return _("dollars, e.g. 1500.00")
    if field.invalid_message:
        return _(str(field.invalid_message))
    return _("text, at most %(count)s characters", count=field.max_length)


def template_help(field: PetitionField) -> str:
    presence = _("required") if field.required else _("optional")
    return f"{_(str(field.label))} ({presence}): {_expected(field)}"


def template_csv() -> bytes:
    """The import template: the columns, a help row (a comment, skipped on import) in the
    user's language, and one example row. UTF-8 with a byte-order mark, so that Excel reads
    the accents and the § right."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EDITABLE_FIELDS)
    help_row = [template_help(field) for field in FIELDS]
    help_row[0] = f"{COMMENT_PREFIX} {help_row[0]}"
    writer.writerow(help_row)
    writer.writerow([TEMPLATE_EXAMPLE.get(name, "") for name in EDITABLE_FIELDS])
    return buffer.getvalue().encode("utf-8-sig")


def _is_template_example(row: ImportRow) -> bool:
    given = {name: (value or "").strip() for name, value in row.fields.items()}
    return {name: value for name, value in given.items() if value} == TEMPLATE_EXAMPLE
