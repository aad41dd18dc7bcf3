"""The queue's rows as HTML, written in Python: a page's 26 rows were half of its template's
work, a dozen values each looked up through Jinja's attribute access and escaped one by one.

``queue_rows`` writes what ``petitions/queue.html`` wrote for them, character for character:
every value from the database escaped, the fixed parts (labels, the stage badges as
``views.stage_badges`` keeps them, the column's translated heading) once per language. The
template calls it with what it decided once per page (the viewer's columns, the bulk form's
boxes, a refused selection to show again).
"""

import functools

from flask_babel import gettext
from markupsafe import Markup, escape

from tracker import i18n
from tracker.templating import escaped_text as text


@functools.lru_cache(maxsize=len(i18n.LANGUAGES))
def _fixed_in(language: str) -> dict[str, str]:
    badge = ' <span class="badge text-bg-{}">{}</span>'.format
    return {
        "provided": badge("info", escape(gettext("Information provided"))),
        "answer": badge("danger", escape(gettext("Answer overdue"))),
        "referral": badge("danger", escape(gettext("Referral overdue"))),
        "age": escape(gettext("Days pending")),
        "stopped": gettext("Stopped the action: %(reason)s"),
    }


def queue_rows(
    items,
    *,
    labels,
    case_url: str,
    bulk: bool,
    selection=None,
    see_all: bool,
    see_assignee: bool,
    see_referrals: bool,
) -> Markup:
    """The table's rows (``<tr>…</tr>`` each) for the page's ``QueueRow``s."""
    fixed = _fixed_in(i18n.current_language())
    badges, kinds, write_date = labels.stage_badges, labels.kinds, labels.date
    offenders = selection.offenders if selection else {}
    ticked = selection.case_numbers if selection else ()
    case_url = text(case_url)
    parts = []
    add = parts.append
    for row in items:
        case = text(row.case_number)
        refusal = offenders.get(row.case_number) if offenders else None
        add('\n    <tr class="table-danger">' if refusal else "\n    <tr>")
        if bulk:
            add(
                '\n      <td class="stack-select"><input class="form-check-input" type="checkbox"'
                f' form="bulk-form" name="case_numbers"\n        value="{case}" id="select-{case}"'
                f'\n        aria-labelledby="select-column case-{case}"'
                f"{' checked' if selection and row.case_number in ticked else ''}></td>"
            )
        else:
            add("\n      ")
        named = f' id="case-{case}"' if bulk else ""
        add(
            f'\n      <td class="text-nowrap stack-title"{named}>'
            f'<a href="{case_url}{case}">{case}</a></td>'
            f"\n      <td>{text(row.petitioner_name)}"
        )
        if row.register_number:
            add(
                ' <span class="text-body-secondary small text-nowrap">'
                f"{text(row.register_number)}</span>"
            )
        add("\n        ")
        if refusal:
            reason = Markup(fixed["stopped"]) % {"reason": refusal}
            add(f'<div class="small text-danger-emphasis">{reason}</div>')
        add(
            f'</td>\n      <td class="stack-hide">{kinds[row.kind]}</td>'
            f"\n      <td>{badges[row.stage]}"
        )
        if row.information_provided:
            add(fixed["provided"])
        if row.answer_overdue:
            add(fixed["answer"])
        if see_referrals and row.referral_overdue:
            add(fixed["referral"])
        add("</td>\n      ")
        if see_all:
            add(f'<td class="stack-hide">{text(row.organization_name)}</td>')
        add("\n      ")
        if see_assignee:
            add(f'<td class="stack-hide">{text(row.assignee_name or "—")}</td>')
        add(
            f'\n      <td class="stack-hide">{text(write_date(row.created_on))}</td>'
            f'\n      <td class="text-end stack-age" data-label="{fixed["age"]}">'
            f"{row.days_pending}</td>"
            f'\n      <td class="text-end stack-hide">{row.days_in_stage}</td>\n    </tr>'
        )
    return Markup("".join(parts))
