"""Notifications on the web: the list, mark read, e-mail preferences, failed deliveries."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SubmitField

from tracker import permissions, pipeline
from tracker.forms import MAX_ID
from tracker.notifications import services
from tracker.notifications.kinds import KINDS, kinds_for

blueprint = Blueprint("notifications", __name__)
PER_PAGE = 50


class ActionForm(FlaskForm):
    """A bare POST form: the CSRF token is its only field."""

    submit = SubmitField(_l("Submit"))


def _before_id() -> int | None:
    value = request.args.get("before", "")
    if not value:
        return None
    # Length first: int() of thousands of digits is refused by Python itself.
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > MAX_ID:
        abort(404)
    return int(value)


@blueprint.route("/notifications")
@login_required
def index():
    """The user's notifications, newest first, a page at a time; unread ones stand out."""
    rows = services.user_notifications(current_user, limit=PER_PAGE + 1, before_id=_before_id())
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    return render_template(
        "notifications/index.html",
        rows=rows,
        next_before=rows[-1][0].id if more else None,
        form=ActionForm(),
        message_text=services.message_text,
    )


@blueprint.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
@pipeline.writes
def mark_read(notification_id: int):
    """Mark one of your notifications read (another user's is a 404)."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    services.mark_read(current_user, notification_id)
    return redirect(url_for("notifications.index"))


@blueprint.route("/notifications/read", methods=["POST"])
@login_required
@pipeline.writes
def mark_all_read():
    """Mark all your notifications read."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    count = services.mark_read(current_user)
    flash(
        ngettext("%(num)d notification marked read.", "%(num)d notifications marked read.", count),
        "success",
    )
    return redirect(url_for("notifications.index"))


@blueprint.route("/account/notifications", methods=["GET", "POST"])
@login_required
@pipeline.writes
def preferences():
    """Which kinds of notification reach you by e-mail (all by default); in-app always."""
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, _("The form expired. Reload and retry."))
        services.set_email_preferences(
            current_user, services.preference_changes(request.form, current_user)
        )
        flash(_("Your e-mail preferences are saved."), "success")
        return redirect(url_for("notifications.preferences"))
    return render_template(
        "notifications/preferences.html",
        form=form,
        kinds=kinds_for(current_user),
        preferences=services.email_preferences(current_user),
    )


@blueprint.route("/notifications/failed")
@login_required
def failed():
    """Supervisors: e-mails given up on after their last retry, and why."""
    permissions.require(permissions.can_view_failed_notifications, current_user)
    return render_template(
        "notifications/failed.html",
        rows=services.failed_deliveries(),
        form=ActionForm(),
        kinds=KINDS,
    )


@blueprint.route("/notifications/<int:notification_id>/retry", methods=["POST"])
@login_required
@pipeline.writes
def retry(notification_id: int):
    """Supervisors: send a failed e-mail again (it goes back in the deliverer's queue)."""
    permissions.require(permissions.can_view_failed_notifications, current_user)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    services.retry_failed(notification_id)
    flash(_("The e-mail is queued again."), "success")
    return redirect(url_for("notifications.failed"))
