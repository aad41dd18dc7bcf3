"""Errors the services raise; each carries the HTTP status the web and API answer with."""


class DomainError(Exception):
    status = 400
    #: Details of a refusal the error path must audit (besides every 403), else None.
    refusal: dict | None = None

    def __init__(self, message: str, *, refusal: dict | None = None):
        super().__init__(message)
        self.message = message
        if refusal is not None:
            self.refusal = refusal


class PermissionDenied(DomainError):
    status = 403


class EditRefused(PermissionDenied):
    """An edit refused because the case left a stage the user may edit (403).

    ``kept_input`` is what the user had typed, as (field label, text) pairs, so the refusal
    page can show it back and nothing typed is lost.
    """

    def __init__(self, message: str, kept_input: list[tuple[str, str]]):
        super().__init__(message)
        self.kept_input = kept_input


class NotFound(DomainError):
    """Not there, or not the caller's to see (another organization's case)."""

    status = 404


class Conflict(DomainError):
    status = 409


class StaleVersion(Conflict):
    """The case changed since the caller read it (409 on the web, 412 in the API)."""

    def __init__(self, message: str, *, current_version: int, seen_version: int):
        super().__init__(message)
        self.current_version = current_version
        self.seen_version = seen_version


class ValidationFailed(DomainError):
    """Invalid fields; ``errors`` maps each field to its message."""

    status = 422

    def __init__(self, errors: dict[str, str], message: str = "Some fields are invalid."):
        super().__init__(message)
        self.errors = errors


class BulkRefused(DomainError):
    """An all-or-nothing operation (bulk decision, CSV import) refused: nothing was changed.

    ``offenders`` lists each item that stopped it and why, as dicts: for cases
    ``{"case_number", "problem", "message"}``, for CSV rows ``{"line", "field", "message"}``.
    """

    status = 409

    def __init__(self, message: str, offenders: list[dict], *, status: int | None = None):
        super().__init__(message)
        self.offenders = offenders
        if status is not None:
            self.status = status


class CasesChanged(BulkRefused):
    """Cases changed since the user confirmed them (409 on the web, 412 in the API)."""


class OpenPetitionExists(ValidationFailed):
    """A second open petition for the same petitioner (409): ``errors`` names the field that
    identified the petitioner; ``open_case`` is the open case's number when the submitter may
    see it, else None."""

    status = 409

    def __init__(self, errors: dict[str, str], open_case: str | None):
        super().__init__(errors, "This petitioner already has an open petition.")
        self.open_case = open_case


class Ineligible(ValidationFailed):
    """A submission that breaks an eligibility rule without a waiver request (422):
    ``eligibility`` lists each broken rule as {rule, eligible_on, message}."""

    def __init__(self, errors: dict[str, str], eligibility: list[dict]):
        super().__init__(
            errors,
            "The petitioner is not eligible yet; request a waiver to file it anyway.",
        )
        self.eligibility = eligibility
