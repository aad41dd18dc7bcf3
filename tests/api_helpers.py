"""Helpers for the API, import and bulk-decision tests: request bodies, CSV files, problems."""

from datetime import date

from tests.conftest import petition_values

PROBLEM_JSON = "application/problem+json"


def petition_json(**overrides) -> dict:
    """conftest's petition_values as an API client sends them (dates as ISO strings)."""
    values = petition_values(**overrides)
    return {name: v.isoformat() if isinstance(v, date) else v for name, v in values.items()}


def petition_csv(*rows: dict, columns=None) -> str:
    """A CSV file: the header, then one line per row (each a dict of text values)."""
    columns = columns or list(petition_json())
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(_csv_cell(row.get(name)) for name in columns))
    return "\n".join(lines) + "\n"


def _csv_cell(value) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def problem_of(response, status: int) -> dict:
    """Assert the response is a problem+json of this status; return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == PROBLEM_JSON, response.mimetype
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"], body
    return body
