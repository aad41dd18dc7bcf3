"""The three-way merge of an edit that met a newer version of its case (the conflict page).

base: the case as the user opened it (rebuilt from the audit history, see
``queries.field_values_at``); theirs: the case as it is now; mine: what the user sent.
Only the fields the user changed from base are applied. A field that a colleague changed
too, to something else, is a conflict: the user must choose, field by field, which value
stays. A field only a colleague changed keeps the colleague's value. So nothing a
colleague wrote is overwritten unless the user saw it and chose to.
"""

from dataclasses import dataclass, field

from flask_babel import gettext as _

from tracker.audit.services import json_value
from tracker.errors import ValidationFailed
from tracker.petitions import queries
from tracker.petitions.models import EDITABLE_FIELDS, FIELD_LABELS, Petition


class MergeUnresolved(ValidationFailed):
    """A conflicting field has no choice yet (422): ``errors`` names each one."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors, "Choose a value for each field marked below.")


#: The two answers a conflicting field accepts (the radio buttons' values).
KEEP_THEIRS, KEEP_MINE = "theirs", "mine"


def _same(a, b) -> bool:
    """Equal as stored, ignoring line-ending style (a browser posts textareas with CRLF)."""
    a, b = json_value(a), json_value(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.replace("\r\n", "\n") == b.replace("\r\n", "\n")
    return a == b


@dataclass(frozen=True)
class EditMerge:
    """One user's edit merged with the case as it is now."""

    base_version: int
    theirs_version: int
    #: None when the history has no such version: then every field that differs from the
    #: case as it is now counts as changed by both (shown, never applied unseen).
    base: dict | None
    theirs: dict
    mine: dict
    mine_changed: tuple[str, ...] = field(init=False)
    theirs_changed: tuple[str, ...] = field(init=False)
    conflicts: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        base = self.base

        def changed(values, name):
            if base is None:  # unknown base: whatever differs counts as changed by both
                return not _same(self.mine[name], self.theirs[name])
            return not _same(values[name], base[name])

        mine = tuple(n for n in EDITABLE_FIELDS if n in self.mine and changed(self.mine, n))
        theirs = tuple(n for n in EDITABLE_FIELDS if changed(self.theirs, n))
        conflicts = tuple(
            n for n in mine if n in theirs and not _same(self.mine[n], self.theirs[n])
        )
        object.__setattr__(self, "mine_changed", mine)
        object.__setattr__(self, "theirs_changed", theirs)
        object.__setattr__(self, "conflicts", conflicts)

    @property
    def clean(self) -> tuple[str, ...]:
        """The user's changes that a colleague did not make too: applied as they are."""
        return tuple(n for n in self.mine_changed if n not in self.theirs_changed)

    @property
    def kept_theirs(self) -> tuple[str, ...]:
        """Fields changed since the user opened the form that stay as they are now: the ones
        only a colleague changed, and the ones both changed to the same value."""
        return tuple(n for n in self.theirs_changed if n not in self.conflicts)

    def resolve(self, choices: dict[str, str]) -> tuple[dict, dict[str, str]]:
        """The values to write given the user's choice per conflicting field, and an error
        for each conflicting field left unchosen: ({field: value}, {field: message})."""
        values = {name: self.mine[name] for name in self.clean}
        errors = {}
        for name in self.conflicts:
            choice = choices.get(name)
            if choice == KEEP_MINE:
                values[name] = self.mine[name]
            elif choice != KEEP_THEIRS:
                errors[name] = _("Choose which value to keep: the current one or yours.")
        return values, errors


def merge_edit(petition: Petition, mine: dict, base_version: int) -> EditMerge:
    """The merge of ``mine`` (typed values, as the form gives them) into the case as it
    is now, for an edit form opened at ``base_version``."""
    base = queries.field_values_at(petition, base_version)
    theirs = {name: getattr(petition, name) for name in EDITABLE_FIELDS}
    return EditMerge(
        base_version=base_version,
        theirs_version=petition.version,
        base=base,
        theirs=theirs,
        mine=dict(mine),
    )


def form_text(value) -> str:
    """A field value as the edit form shows and posts it."""
    value = json_value(value)
    return "" if value is None else str(value)


def typed_changes(petition: Petition, typed: dict[str, str], base_version) -> list[tuple[str, str]]:
    """What the user typed that differs from the case as they opened it (as it is now
    when ``base_version`` names no version of it), as (field label, text) pairs.

    ``typed`` is the posted form as sent (text, unchecked): shown back on a refusal so
    nothing typed is lost.
    """
    base = None
    if isinstance(base_version, int):
        base = queries.field_values_at(petition, base_version)
    if base is None:
        base = {name: getattr(petition, name) for name in EDITABLE_FIELDS}
    return [
        (FIELD_LABELS[name], typed[name])
        for name in EDITABLE_FIELDS
        if name in typed and not _same(typed[name].strip(), form_text(base[name]))
    ]
