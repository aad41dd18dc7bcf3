"""Pages for petitions: the queue, a case, submitting, editing and acting on it.

Views parse the request, call one service, and render or redirect; the request pipeline
(``tracker.pipeline``) commits the work of those marked ``@writes`` once, at the end.
"""

import copy
import functools
from dataclasses import replace
from types import SimpleNamespace

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.routing import UnicodeConverter

from tracker import clock, i18n, permissions, pipeline
from tracker.acts import services as acts
from tracker.auth.models import User
from tracker.body_limit import body_limit, document_body_limit
from tracker.deadlines.models import AGENCIES
from tracker.deadlines.services import ReferralsOpen
from tracker.documents import services as document_services
from tracker.documents.forms import DocumentForm, document_form, file_description
from tracker.documents.views import save_new_petition_document
from tracker.eligibility import STATUS_LABELS as ELIGIBILITY_STATUSES
from tracker.errors import Conflict, EditRefused, PermissionDenied, StaleVersion, ValidationFailed
from tracker.extensions import db
from tracker.forms import apply_errors, options, parse_id
from tracker.kept import Kept
from tracker.petitions import filters as queue_filters
from tracker.petitions import merging, petitioners, queries, services, summary
from tracker.petitions.fields import FIELDS_BY_SECTION, KINDS, SECTIONS
from tracker.petitions.forms import (
    AssignForm,
    NewPetitionForm,
    NoteForm,
    PetitionForm,
    QueueFilterForm,
    RecommendationForm,
    TakeForm,
    TransitionForm,
    bulk_choices,
)
from tracker.petitions.models import EDITABLE_FIELDS, FIELD_LABELS
from tracker.petitions.queue_rows import queue_rows
from tracker.readlog import services as readlog
from tracker.web import STAGE_BADGES
from tracker.workflow import (
    TRANSITIONS_BY_NAME,
    ReasonRequired,
    Stage,
    WrongStage,
    allowed_case_actions,
    allowed_transitions,
    get_transition,
)


def _offered_actions(petition, user=None):
    """The actions the case page offers: the transitions, and approve_waiver while a
    requested waiver awaits a supervisor. ``user``: the current user (not its proxy)."""
    role = (user or current_user).role_enum
    actions = allowed_transitions(petition.stage_enum, role)
    if petition.waiver_requested and petition.waiver_approved_at is None:
        actions += allowed_case_actions(petition.stage_enum, role)
    return actions


blueprint = Blueprint("petitions", __name__)
blueprint.add_app_template_global(queue_rows)

#: A case page's untouched form fields, written once per language and field state: on a
#: plain view every action form is blank, and writing its fields (labels, help, choices)
#: was a third of the page's time. Only fixed text is kept (labels and choices the code
#: declares), never the database's: fields with choices read from it are written each time.
_BLANK_FIELDS: dict[tuple, Markup] = {}
_FIELDS_WITH_DATABASE_CHOICES = frozenset({"assign-assignee"})


@blueprint.app_template_global()
def case_field(field) -> Markup:
    """A case page form field (petitions/_plain_fields.html), from the kept copy when it
    is blank: not submitted, no message, its choices and value as when it was written."""
    if field.raw_data is not None or field.errors or field.name in _FIELDS_WITH_DATABASE_CHOICES:
        return _write_plain_field(field)
    try:
        key = (
            field.name,
            field.id,
            field.type,
            i18n.current_language(),
            field.data,
            str(field.description),
            tuple(getattr(c, "value", c) for c in getattr(field, "choices", None) or ()),
        )
        hash(key)
    except TypeError:  # a value that cannot be a key: not kept
        return _write_plain_field(field)
    html = _BLANK_FIELDS.get(key)
    if html is None:
        html = _BLANK_FIELDS[key] = Markup(_write_plain_field(field))
    return html


def _write_plain_field(field) -> str:
    # Looked up only when a field is written: a kept one needs no template.
    template = current_app.jinja_env.get_template("petitions/_plain_fields.html")
    return template.module.plain_field(field)


@blueprint.route("/")
@login_required
def home():
    """Everyone starts at the list of cases they may see."""
    return redirect(url_for("petitions.queue"))


@blueprint.route("/petitions")
@login_required
def queue():
    """The queue (staff) or the organization's cases (advocates), filtered, sorted, a page at
    a time (``after`` / ``before``: keyset positions written by the page's own links).

    Invalid filters (an unknown stage, a search too long…) are a 422 page with the message
    under the field, never ignored. A page link this site did not write is a 400.
    """
    return render_queue(request.args)


def page_position(raw) -> queries.QueuePosition:
    """The page asked for (``after`` or ``before`` a case); a garbled link is a 400."""
    try:
        return queries.parse_position(raw)
    except queries.BadPosition as error:
        abort(400, f"{error} Start again from the first page.")


def position_args(raw) -> dict[str, str]:
    """The page's position as its link wrote it (``after`` or ``before``), to carry through
    the bulk form and back to the same page."""
    return {name: raw[name] for name in ("after", "before") if raw.get(name)}


def _queue_filter_form(raw, page: queries.QueuePage | None = None) -> QueueFilterForm:
    """The filter form, its people read with the page's rows when there are some."""
    viewer = current_user._get_current_object()
    offered = queries.offered_people(viewer)
    if page is not None and page.alongside is not None:
        people = queries.people_from_column(page.alongside, *offered)
    else:
        people = queries.filter_people(*offered)
    return QueueFilterForm(raw, viewer, people)


#: The queue's filter fields as written, by language and the fields' state.
_filter_fields = Kept()


@blueprint.app_template_global()
def queue_filter_fields(form: QueueFilterForm) -> Markup:
    """The queue's filter fields (petitions/_queue_filter_fields.html), from the kept copy
    when none has a message: the same language, the same fields with the same choices (the
    people among them as this view read them), values and selections write the same HTML.
    Writing them (some sixty options) was a sixth of a queue view's template."""
    write = current_app.jinja_env.get_template("petitions/_queue_filter_fields.html")
    write = write.module.filter_fields
    if form.errors:
        return write(form)
    state = tuple((f.spec.name, f.choices, f.value, f.selected) for f in form.fields)
    key = (i18n.current_language(), state)
    return _filter_fields.get(key, lambda: Markup(write(form)))


@functools.lru_cache(maxsize=len(i18n.LANGUAGES))
def _row_labels_in(language: str) -> SimpleNamespace:
    # Escaped once per language (Markup), not on each of a page's rows.
    return SimpleNamespace(
        stage_badges=_stage_badges_in(language),
        kinds={kind: escape(label) for kind, label in KINDS.items()},
        eligibility={status: escape(label) for status, label in ELIGIBILITY_STATUSES.items()},
        date=i18n.date_writer(),
    )


def _row_labels() -> SimpleNamespace:
    """What the queue's rows show in the page's language: fixed texts, translated once per
    process and language rather than once per row (a lazy label is looked up again each time
    it is written)."""
    return _row_labels_in(i18n.current_language())


def render_queue(raw, *, selection=None, status: int = 200):
    """The queue page for the filters and position in ``raw`` (a query string, or the same
    names posted by the bulk form). ``selection`` is a refused bulk decision to show again: its
    cases ticked, its offenders marked, its action and reason kept."""
    try:
        filters = queue_filters.parse(raw, current_user, queue_filters.WEB)
    except ValidationFailed as error:
        form = _queue_filter_form(raw)
        form.apply_errors(error)
        return render_template("petitions/queue.html", form=form, page=None), 422
    position = page_position(raw)
    page = queries.web_queue_page(
        current_user._get_current_object(),
        filters,
        per_page=current_app.config["PETITIONS_PER_PAGE"],
        position=position,
    )
    if not position.is_first and not page.items and selection is None:
        abort(404, _("There are no further cases in this list."))
    return render_template(
        "petitions/queue.html",
        form=_queue_filter_form(raw, page),
        page=page,
        labels=_row_labels(),
        bulk_choices=bulk_choices(current_user),
        position=position_args(raw),
        filters=filters,
        selection=selection,
    ), status


@blueprint.route("/petitions/new", methods=["GET", "POST"])
@login_required
@body_limit(document_body_limit)
@pipeline.writes
def new():
    """An advocate submits a petition for their organization, with a document if attached
    (both or neither: a refused document refuses the submission, the fields kept)."""
    permissions.require(permissions.can_submit_petition, current_user)
    form = NewPetitionForm()
    form.document.description = file_description(current_app.config["MAX_DOCUMENT_BYTES"])
    status = 200
    if form.validate_on_submit():
        try:
            petition = services.submit_petition(current_user, form.petition_values())
            if form.document.data:
                save_new_petition_document(petition, current_user, form)
        except ValidationFailed as error:  # 409 for a second open petition of the petitioner
            apply_errors(form, error)
            status = error.status
        except (document_services.DocumentTooLarge, document_services.UnsupportedDocument) as error:
            form.document.errors = [*form.document.errors, error.message]
            status = error.status
        else:
            flash(_("Petition %(case)s submitted.", case=petition.case_number), "success")
            return redirect(url_for("petitions.show", case_number=petition.case_number))
    if form.errors:
        pipeline.abandon()  # nothing of a refused submission is kept
    return render_template("petitions/form.html", form=form, petition=None), (
        (status if status != 200 else 422) if form.errors else 200
    )


def _new_form(form_class, prefix: str, data: dict | None = None, build=None, shape=()):
    """A case page's action form, built for this request (its posted values read, if any)."""
    return build() if build is not None else form_class(data=data, prefix=prefix)


#: Where an app keeps the case page's blank forms (``_blank_form``).
_BLANK_FORMS = "tracker.case_page_blank_forms"


def _blank_form(form_class, prefix: str, data: dict | None = None, build=None, shape=()):
    """A case page's action form for a GET: a copy of the blank form kept per app, form,
    language and ``shape`` (what else changes its fields), with this view's ``data`` (the
    case's version, the assignee) and CSRF token in copies of their fields.

    Building the forms (their fields bound and processed, some thirty) was a sixth of a
    case page's time, for fields the page writes from kept HTML anyway (``case_field``).
    Kept per app: a form's CSRF settings are its app's. The copies share the other fields,
    which nothing on a GET changes; the view copies a field before it sets its choices
    (``_own_field``)."""
    kept = current_app.extensions.setdefault(_BLANK_FORMS, {})
    key = (form_class, prefix, i18n.current_language(), shape)
    prototype = kept.get(key)
    if prototype is None:
        prototype = build() if build is not None else form_class(formdata=None, prefix=prefix)
        kept[key] = prototype
    form = copy.copy(prototype)
    form.form_errors = []
    form._fields = prototype._fields.copy()
    for name, value in (data or {}).items():
        field = _own_field(form, name)
        field.data = field.object_data = value
    if "csrf_token" in form._fields:
        token = _own_field(form, "csrf_token")
        token.current_token = form._csrf.generate_csrf_token(token)
    return form


def _own_field(form, name: str):
    """The form's field ``name`` as a copy of its own (of a form from ``_blank_form``)."""
    kept = form._fields[name]
    # Not copy.copy: a field class makes an unbound field unless given its form.
    field = object.__new__(type(kept))
    field.__dict__.update(kept.__dict__)
    form._fields[name] = field
    setattr(form, name, field)
    return field


def _case_page_forms(petition, make=_new_form):
    """The action forms the current user may use on this case, keyed by name; ``make``
    builds each (``_blank_form`` for a GET)."""
    # The user itself, not the proxy: the rules below read a dozen of its attributes.
    user = current_user._get_current_object()
    kept = make is _blank_form
    forms = {}
    transitions = _offered_actions(petition, user)
    if transitions:
        form = make(TransitionForm, "transition", {"version": petition.version})
        if kept:
            _own_field(form, "action")
        form.action.choices = options((t.name, t.label) for t in transitions)
        forms["transition"] = form
    if permissions.can_take_petition(user, petition):
        forms["take"] = make(TakeForm, "take", {"version": petition.version})
    if permissions.can_assign_petition(user, petition):
        form = make(
            AssignForm,
            "assign",
            {"version": petition.version, "assignee": str(petition.assignee_id or "")},
        )
        if kept:
            _own_field(form, "assignee")
        form.assignee.choices = options(
            [("", _l("Nobody"))]
            + [(str(u.id), f"{u.name} ({u.role})") for u in queries.assignable_staff()]
        )
        forms["assign"] = form
    if permissions.can_write_notes(user):
        forms["note"] = make(NoteForm, "note")
    if permissions.can_attach_document(user, petition):
        limit = current_app.config["MAX_DOCUMENT_BYTES"]
        forms["document"] = make(
            DocumentForm,
            "document",
            build=functools.partial(
                document_form, user, limit, **({"formdata": None} if kept else {})
            ),
            # What document_form makes differ: the limit, and whether the user chooses.
            shape=(limit, permissions.can_choose_document_visibility(user)),
        )
    if permissions.can_recommend_on(user, petition):
        forms["recommendation"] = make(RecommendationForm, "recommendation")
    return forms


#: The facts sections of a case page: the fields beyond the petition's first eleven (which
#: the page shows above them), by section.
CASE_FACT_SECTIONS = [
    (title, [f for f in FIELDS_BY_SECTION[key] if f.name in EDITABLE_FIELDS[11:]])
    for key, (title, _help) in SECTIONS.items()
]


def case_fact_sections() -> tuple[list, str, str]:
    """CASE_FACT_SECTIONS that have fields, once per language: each section's heading and
    each field's label as markup (translated and escaped once), the choices translated; and
    the words for yes and no.
    Fixed text, which the page otherwise translated string by string (some fifty) and wrote
    expression by expression on every view."""
    return _fact_sections_in(i18n.current_language())


@functools.lru_cache(maxsize=len(i18n.LANGUAGES))
def _fact_sections_in(language: str) -> tuple[list, str, str]:
    sections = [
        (
            Markup('<h3 class="h6 mt-3">{}</h3>\n<dl class="row mb-0">\n').format(str(title)),
            [
                (
                    replace(
                        f,
                        label=str(f.label),
                        choices={k: str(v) for k, v in f.choices.items()} if f.choices else None,
                    ),
                    Markup('<dt class="col-sm-4">{}</dt>\n<dd class="col-sm-8 prewrap">').format(
                        str(f.label)
                    ),
                )
                for f in fields
            ],
        )
        for title, fields in CASE_FACT_SECTIONS
        if fields
    ]
    return sections, _("Yes"), _("No")


def case_facts(petition) -> Markup:
    """The facts sections (petitions/_facts.html), each field's value as the page writes it
    ("—" when empty) and escaped. Written here rather than by the template, which spent a
    dozen expressions on each of some thirty fields."""
    sections, yes, no = case_fact_sections()
    html = []
    for heading, fields in sections:
        html.append(heading)
        for field, opening in fields:
            value = getattr(petition, field.name)
            if value is None or value == []:
                shown = "—"
            elif field.type == "list":
                shown = "; ".join(str(item) for item in value)
            elif field.type == "boolean":
                shown = yes if value else no
            elif field.type == "decimal":
                shown = "$" + i18n.number_filter(value, 2)
            elif field.type == "date":
                shown = i18n.date_filter(value)
            elif field.choices:
                shown = field.choices.get(value, value)
            else:
                shown = value
            html += (opening, escape(shown), "</dd>\n")
        html.append("</dl>\n")
    return Markup("".join(html))


def related_items(related) -> Markup:
    """The petitioner's other petitions (``petitioners.related_petitions``' rows) as the
    case page lists them: a link, the kind, the filing day and the stage, every value
    escaped. Written here rather than by the template, which built each link with url_for
    and translated each row's words again."""
    if not related:
        return Markup()
    case_url = case_url_writer()
    labels = _row_labels()
    kinds, badges, write_date = labels.kinds, labels.stage_badges, labels.date
    zone = clock.display_zone()  # localtime(…, "%Y-%m-%d")'s zone and writer, once a page
    # As the template's _('filed %(date)s', date=…): the message is markup, its value escaped.
    filed = _("filed %(date)s")
    items = []
    for row in related:
        number = escape(row.case_number)
        day = write_date(row.created_at.astimezone(zone).date())
        items.append(
            f'<li><a href="{escape(case_url(row.case_number))}">{number}</a>'
            f" · {kinds[row.kind]} · {filed % {'date': escape(day)}} · {badges[row.stage]}</li>\n"
        )
    return Markup("".join(items))


#: An eligibility result's badge, by status (others: a plain badge).
_ELIGIBILITY_BADGES = {
    "met": "text-bg-success",
    "not_met": "text-bg-danger",
    "unknown": "text-bg-secondary",
}


def eligibility_items(results) -> Markup:
    """Each eligibility rule's result as the case page lists them (its badge, the rule and
    the message), every value escaped as the template escaped it; written here with the
    related list."""
    statuses = _row_labels().eligibility
    items = []
    for result in results:
        rule, status = escape(result.rule), result.status
        badge = _ELIGIBILITY_BADGES.get(status, "text-bg-light border")
        label = statuses[status] if status in statuses else escape(status)
        items.append(
            f'<li class="mb-1" data-rule="{rule}" data-status="{escape(status)}">'
            f'<span class="badge {badge}">{label}</span>'
            f" <code>{rule}</code> — {escape(result.message)}</li>\n"
        )
    return Markup("".join(items))


def case_url_writer():
    """``url_for("petitions.show", case_number=…)`` for the many cases of one page: the
    path before the case number (the request's script root included) built once, the case
    number quoted as the route's converter quotes it."""
    prefix = url_for("petitions.show", case_number="_")[:-1]
    quote = UnicodeConverter(current_app.url_map).to_url
    return lambda case_number: prefix + quote(case_number)


def stage_badges() -> dict[str, Markup]:
    """Each stage's badge as _macros.html's ``stage_badge`` writes it, by stage value, once per
    language: a case page shows a dozen (its related petitions' too), each a macro call
    that translated its label again."""
    return _stage_badges_in(i18n.current_language())


@blueprint.app_template_global()
def stage_badge_html(stage) -> Markup:
    """_macros.html's ``stage_badge``: the badge of a stage (or of its value) from
    ``stage_badges``, rather than the macro translating and escaping its label each time."""
    return stage_badges()[Stage(stage).value]


@blueprint.app_template_global()
def referral_agency_options() -> Markup:
    """The referral form's agencies as ``<option>`` tags (petitions/_time_section.html),
    written once per language: each label is a lazy string, translated anew when shown."""
    return _agency_options_in(i18n.current_language())


@functools.lru_cache(maxsize=len(i18n.LANGUAGES))
def _agency_options_in(language: str) -> Markup:
    option = Markup('<option value="{}">{}</option>')
    return Markup("").join(option.format(value, str(label)) for value, label in AGENCIES.items())


@functools.lru_cache(maxsize=len(i18n.LANGUAGES))
def _stage_badges_in(language: str) -> dict[str, Markup]:
    return {
        stage.value: Markup('<span class="badge {}">{}</span>').format(
            STAGE_BADGES[stage], str(stage.label)
        )
        for stage in Stage
    }


def _case_context(petition, presence: dict | None = None) -> dict:
    """What the case page and its printable summary show, as the current user may see it.
    ``presence``: which collections the case has (``queries.CASE_PAGE_PRESENCE``), when
    its query read them; those it lacks are not read."""
    user = current_user._get_current_object()
    if presence is not None:
        queries.known_empty(petition, presence)
    related = []
    if presence is None or presence["related"]:
        related = petitioners.related_petitions(petition, user)
    eligibility = None
    if permissions.can_view_eligibility(user):
        # Staff see every petition of the petitioner: the list just read is what the
        # rules judge against, so they read nothing more.
        known = [petition, *related] if permissions.can_view_all_petitions(user) else None
        eligibility = services.eligibility_of([petition], petitioners_petitions=known)[petition.id]
    internal = permissions.can_view_internal_history(user)
    documents = []
    if presence is None or presence["documents"]:
        documents = document_services.visible_documents(petition, user)
    return dict(
        petition=petition,
        transitions=TRANSITIONS_BY_NAME,
        timeline=queries.timeline(petition, user),
        facts=case_facts(petition),
        stage_badges=stage_badges(),
        related=related,
        related_items=related_items(related),
        eligibility=eligibility,
        eligibility_items=eligibility_items(eligibility or ()),
        notes=[n for n in petition.notes if internal or n.visibility == "shared"],
        documents=documents,
    )


def _render_case(petition, status=200, presence=None, make_form=_new_form, **overrides):
    forms = _case_page_forms(petition, make_form) | overrides
    granted_by_act = presence is None or presence["granted_by_act"]
    return render_template(
        "petitions/show.html",
        forms=forms,
        granting_act=acts.granting_act(petition) if granted_by_act else None,
        pdf_unavailable=summary.unavailable_reason(),
        **_case_context(petition, presence),
    ), status


@blueprint.route("/petitions/<case_number>")
@login_required
def show(case_number):
    """A case: its fields, stage, notes, history, and the actions the user may take.

    The view is logged in the read log (once the page is served)."""
    petition, presence = services.get_visible_case_page(
        current_user._get_current_object(), case_number
    )
    readlog.record_read("case_page", petition)
    return _render_case(petition, presence=presence, make_form=_blank_form)


@blueprint.route("/petitions/<case_number>/summary.pdf")
@login_required
def summary_pdf(case_number):
    """The case summary as a PDF: the facts, the decision and the history the user may see on
    the case page. A read of the case, logged as a case export; 503 (saying why) when the
    server cannot draw PDFs."""
    petition = services.get_visible_petition(current_user, case_number)
    context = _case_context(petition) | {"now": clock.now()}
    pdf = summary.render_pdf(render_template("petitions/summary.html", **context))
    readlog.record_read("case_export", petition, details={"format": "pdf", "view": "summary"})
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{petition.case_number}.pdf"'},
    )


def _render_conflict(petition, error: StaleVersion, form, form_template: str):
    pipeline.abandon()  # nothing of the stale change is kept; the page reads the case anew
    if form is not None:
        # The kept input is offered again against the version this page now shows; the
        # hidden field renders the posted (stale) value unless raw_data is replaced too.
        form.version.data = error.current_version
        form.version.raw_data = [str(error.current_version)]
    return render_template(
        "petitions/conflict.html",
        petition=petition,
        message=error.message,
        changes=queries.changes_since(petition, error.seen_version, current_user),
        form=form,
        form_template=form_template,
    ), 409


def _render_edit_conflict(petition, form, message: str, status=409, field_errors=None):
    """The conflict page of an edit: the user's edit merged with the case as it is now.

    Its form posts the user's values again with the version they opened (the merge's
    base) and ``merge_version``, the version this page shows; a choice per conflicting field.
    """
    pipeline.abandon()
    merge = merging.merge_edit(petition, form.petition_values(), form.version.data)
    return render_template(
        "petitions/conflict.html",
        petition=petition,
        message=message,
        changes=queries.changes_since(petition, merge.base_version, current_user),
        form=form,
        merge=merge,
        kept={name: merging.form_text(value) for name, value in merge.mine.items()},
        choices={name: request.form.get(f"keep-{name}") for name in merge.conflicts},
        field_errors=field_errors or {},
    ), status


def _render_merge_errors(petition, form, error: ValidationFailed):
    """The merge page again (422): a conflicting field without a choice, or a rule the
    merged case would break (say, a pardon with the release date a colleague entered)."""
    if isinstance(error, merging.MergeUnresolved):
        return _render_edit_conflict(petition, form, error.message, 422, error.errors)
    broken = "; ".join(
        f"{FIELD_LABELS.get(name, name)}: {message}" for name, message in error.errors.items()
    )
    message = f"Your changes and the case as it is now break a rule together ({broken})."
    return _render_edit_conflict(petition, form, message, 422, error.errors)


def _refuse_edit(petition):
    """403: the user may not edit this case now. A posted edit gets its typed values back."""
    message = permissions.refusal_message(permissions.can_edit_petition, current_user, petition)
    if request.method != "POST":
        abort(403, message)
    pipeline.abandon()
    typed = {name: request.form[name] for name in EDITABLE_FIELDS if name in request.form}
    version = parse_id(request.form.get("version"))
    raise EditRefused(
        f"{message} Nothing you sent was saved; what you typed is below.",
        merging.typed_changes(petition, typed, version),
    )


def _save_edit(petition, form) -> dict:
    """Apply the posted edit; from the conflict page (``merge_version`` set), merged."""
    merge_version = parse_id(request.form.get("merge_version"))
    if merge_version is None:
        return services.update_petition(
            petition, current_user, form.petition_values(), form.version.data
        )
    choices = {name: request.form.get(f"keep-{name}") for name in EDITABLE_FIELDS}
    return services.update_petition_merged(
        petition, current_user, form.petition_values(), form.version.data, merge_version, choices
    )


@blueprint.route("/petitions/<case_number>/edit", methods=["GET", "POST"])
@login_required
@pipeline.writes
def edit(case_number):
    """Fix a petition's fields: advocates while received, staff until decided.

    A stale edit gets the conflict page, which merges it with the case as it is now; an
    edit refused because the case moved on shows back what was typed.
    """
    petition = services.get_visible_petition(current_user, case_number)
    if not permissions.can_edit_petition(current_user, petition):
        _refuse_edit(petition)
    initial = {name: getattr(petition, name) for name in EDITABLE_FIELDS}
    form = PetitionForm(data=initial | {"version": petition.version})
    if form.validate_on_submit():
        try:
            changes = _save_edit(petition, form)
        except ValidationFailed as error:
            if "merge_version" in request.form:  # stay on the merge, the errors on it
                return _render_merge_errors(petition, form, error)
            apply_errors(form, error)
        except StaleVersion as error:
            return _render_edit_conflict(petition, form, error.message)
        except PermissionDenied:  # the stage moved on while this request waited for the lock
            _refuse_edit(petition)
        else:
            flash(_("Saved.") if changes else "Nothing changed.", "success" if changes else "info")
            return redirect(url_for("petitions.show", case_number=petition.case_number))
    status = 422 if form.errors else 200
    return render_template("petitions/form.html", form=form, petition=petition), status


def _posted_form(form_class, prefix):
    form = form_class(prefix=prefix)
    if not form.validate_on_submit():
        return form, False
    return form, True


def _render_refused_transition(petition, form, error: ReasonRequired | WrongStage | Conflict):
    """The case page again, the typed reason kept and the refusal under its field: 422 for a
    missing reason, 409 when the case is no longer in a stage the action starts from (the
    page then shows the case as it is now, and the form offers what it allows now)."""
    pipeline.abandon()
    if isinstance(error, ReasonRequired):
        form.reason.errors = [*form.reason.errors, error.message]
    elif isinstance(error, ReferralsOpen):
        form.close_referrals_reason.errors = [*form.close_referrals_reason.errors, error.message]
    elif isinstance(error, ValidationFailed):
        apply_errors(form, error)
    else:
        form.action.errors = [*form.action.errors, error.message]
        form.action.choices = options((t.name, t.label) for t in _offered_actions(petition))
        form.version.data = petition.version
        form.version.raw_data = [str(petition.version)]
    return _render_case(petition, error.status, transition=form)


@blueprint.route("/petitions/<case_number>/transition", methods=["POST"])
@login_required
@pipeline.writes
def transition(case_number):
    """Take a workflow action (start_review, return_for_information, grant, deny, withdraw,
    close, reopen); a grant with its relief, a close with its disposition."""
    petition = services.get_visible_petition(current_user, case_number)
    form, valid = _posted_form(TransitionForm, "transition")
    form.action.choices = options((t.name, t.label) for t in _offered_actions(petition))
    if not valid:
        return _render_case(petition, 422, transition=form)
    try:
        services.apply_transition(
            petition,
            current_user,
            form.action.data,
            form.reason.data,
            form.version.data,
            outcome=form.outcome(),
            **form.extra(),
        )
    except StaleVersion as error:
        return _render_conflict(petition, error, form, "petitions/_transition_fields.html")
    # Conflict: a grant awaiting a waiver; ReferralsOpen: a decision while referrals are open.
    except (ReasonRequired, WrongStage, Conflict, ReferralsOpen, ValidationFailed) as error:
        return _render_refused_transition(petition, form, error)
    label = get_transition(form.action.data).label
    flash(
        _(
            "%(action)s: case %(case)s is now %(stage)s.",
            action=label,
            case=petition.case_number,
            stage=petition.stage_enum.label.lower(),
        ),
        "success",
    )
    return redirect(url_for("petitions.show", case_number=petition.case_number))


@blueprint.route("/petitions/<case_number>/recommendations", methods=["POST"])
@login_required
@pipeline.writes
def recommend(case_number):
    """Staff record a recommendation (favorable, unfavorable, no position) with a memo on a
    case under review; 403 for advocates, 409 when the case is not under review."""
    petition = services.get_visible_petition(current_user, case_number)
    permissions.require(permissions.can_recommend, current_user)
    form, valid = _posted_form(RecommendationForm, "recommendation")
    if valid:
        try:
            services.add_recommendation(
                petition, current_user, form.recommendation.data, form.memo.data
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(_("Recommendation recorded."), "success")
            return redirect(url_for("petitions.show", case_number=petition.case_number))
    pipeline.abandon()
    return _render_case(petition, 422, recommendation=form)


@blueprint.route("/petitions/<case_number>/take", methods=["POST"])
@login_required
@pipeline.writes
def take(case_number):
    """A reviewer makes the case their own work."""
    petition = services.get_visible_petition(current_user, case_number)
    form, valid = _posted_form(TakeForm, "take")
    if not valid:
        abort(400, _("The form was incomplete."))
    try:
        services.assign_petition(petition, current_user, current_user, form.version.data)
    except StaleVersion as error:
        return _render_conflict(petition, error, None, None)
    flash(_("Case %(case)s is now yours.", case=petition.case_number), "success")
    return redirect(url_for("petitions.show", case_number=petition.case_number))


@blueprint.route("/petitions/<case_number>/assign", methods=["POST"])
@login_required
@pipeline.writes
def assign(case_number):
    """A supervisor assigns, reassigns or unassigns the case."""
    petition = services.get_visible_petition(current_user, case_number)
    form, valid = _posted_form(AssignForm, "assign")
    if not valid:
        abort(400, _("The form was incomplete."))
    assignee = None
    if form.assignee.data:
        assignee_id = parse_id(form.assignee.data)
        assignee = db.session.get(User, assignee_id) if assignee_id else None
        if assignee is None:
            abort(400, _("Unknown assignee."))
    try:
        services.assign_petition(petition, current_user, assignee, form.version.data)
    except StaleVersion as error:
        return _render_conflict(petition, error, None, None)
    except ValidationFailed as error:
        pipeline.abandon()  # answered with a redirect, but nothing of it is kept
        flash(error.errors.get("assignee", error.message), "danger")
        return redirect(url_for("petitions.show", case_number=petition.case_number))
    who = assignee.name if assignee else "nobody"
    flash(_("Case %(case)s assigned to %(name)s.", case=petition.case_number, name=who), "success")
    return redirect(url_for("petitions.show", case_number=petition.case_number))


@blueprint.route("/petitions/<case_number>/notes", methods=["POST"])
@login_required
@pipeline.writes
def add_note(case_number):
    """Staff write an internal or shared note on the case."""
    petition = services.get_visible_petition(current_user, case_number)
    permissions.require(permissions.can_write_notes, current_user)
    form, valid = _posted_form(NoteForm, "note")
    if not valid:
        return _render_case(petition, 422, note=form)
    services.add_note(petition, current_user, form.body.data, form.visibility.data)
    flash(_("Note added."), "success")
    return redirect(url_for("petitions.show", case_number=petition.case_number, _anchor="notes"))
