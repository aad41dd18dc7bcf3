"""One permission layer: rules and their messages live in tracker/permissions.py (and the
workflow table); views, API views and templates ask them and never test a role or a stage."""

import ast
import re
from pathlib import Path

import pytest

from tracker import permissions
from tracker.errors import PermissionDenied
from tracker.extensions import db
from tracker.petitions import services
from tracker.workflow import Role, Stage

pytest_plugins = ["tests.api_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
VIEW_MODULES = sorted({*ROOT.glob("tracker/*/views.py"), *ROOT.glob("tracker/*/*_views.py")})
TEMPLATES = sorted(ROOT.glob("templates/**/*.html"))
ROLE_TESTS = ("is_staff", "is_advocate", "is_supervisor")
LITERALS = {stage.value for stage in Stage} | {role.value for role in Role}


def _is_role_or_stage(node) -> bool:
    if isinstance(node, ast.Attribute):
        enum_member = isinstance(node.value, ast.Name) and node.value.id in ("Role", "Stage")
        return enum_member or node.attr in ("role", "stage", "role_enum", "stage_enum")
    return isinstance(node, ast.Constant) and node.value in LITERALS


def _view_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Role tests (``user.is_staff``), comparisons of roles or stages, role/stage literals."""
    problems = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ROLE_TESTS:
            problems.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Compare) and any(
            _is_role_or_stage(operand) for operand in (node.left, *node.comparators)
        ):
            problems.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Constant) and node.value in LITERALS:
            problems.append(f"{node.lineno}: {node.value!r}")
    return [f"{path.relative_to(root)}:{problem}" for problem in problems]


TEMPLATE_TEST = re.compile(
    r"\b(" + "|".join(ROLE_TESTS) + r")\b"
    r"|\brole\s*(==|!=|\bin\b)"
    r"|['\"](" + "|".join(sorted(LITERALS)) + r")['\"]"
)


def _template_problems(path: Path, root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}:{number}: {match.group(0)}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for match in TEMPLATE_TEST.finditer(line)
    ]


def test_views_test_no_role_or_stage_themselves():
    assert [p for path in VIEW_MODULES for p in _view_problems(path)] == []


def test_templates_test_no_role_or_stage_themselves():
    assert [p for path in TEMPLATES for p in _template_problems(path)] == []


def test_the_scans_find_what_they_look_for(tmp_path):
    view = tmp_path / "views.py"
    view.write_text(
        "if user.is_staff and petition.stage == 'granted' or user.role == Role.ADVOCATE: 0\n"
    )
    template = tmp_path / "page.html"
    template.write_text("{% if current_user.is_supervisor or petition.stage == 'denied' %}\n")
    assert sorted(_view_problems(view, tmp_path)) == [
        "views.py:1: 'granted'",
        "views.py:1: .is_staff",
        "views.py:1: petition.stage == 'granted'",
        "views.py:1: user.role == Role.ADVOCATE",
    ]
    assert _template_problems(template, tmp_path) == [
        "page.html:1: is_supervisor",
        "page.html:1: 'denied'",
    ]


def test_every_rule_has_a_message():
    for name, check in permissions.RULES.items():
        assert check.message, name


def test_require_refuses_with_the_rules_own_message(app_ctx, make_user, make_petition):
    advocate = make_user("advocate")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    with pytest.raises(PermissionDenied) as refused:
        permissions.require(permissions.can_edit_petition, advocate, petition)
    assert refused.value.message == (
        f"Case {petition.case_number} is now under review, so it can no longer be edited by you."
    )
    permissions.require(permissions.can_edit_petition, make_user("reviewer"), petition)


def test_the_page_and_the_api_refuse_with_the_same_message(client, login_as, api_as, make_petition):
    """Editing a case under review as its advocate: one rule, one message, both interfaces."""
    advocate = login_as("advocate")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    page = client.get(f"/petitions/{petition.case_number}/edit")
    api = api_as(user=advocate)
    answer = api.patch(
        f"/api/v1/petitions/{petition.case_number}",
        json={"grounds": "New grounds."},
        headers={"If-Match": f'"{petition.version}"'},
    )
    message = permissions.refusal_message(permissions.can_edit_petition, advocate, petition)
    assert page.status_code == answer.status_code == 403
    assert message in page.get_data(as_text=True)
    assert answer.get_json()["detail"] == message


@pytest.mark.parametrize("role", ["advocate", "reviewer"])
def test_who_sees_the_assignee_is_one_rule_on_pages_and_api(
    client, login_as, api_as, make_petition, make_user, role
):
    user = login_as(role)
    petition = make_petition(organization=user.organization)
    supervisor = make_user("supervisor", name="Sam Supervisor")
    services.assign_petition(petition, supervisor, make_user("reviewer", name="Rita Reviewer"))
    db.session.commit()
    shown = permissions.can_view_assignee(user)
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    queue = client.get("/petitions").get_data(as_text=True)
    document = api_as(user=user).get(f"/api/v1/petitions/{petition.case_number}").get_json()
    assert ("Rita Reviewer" in page) == ("Rita Reviewer" in queue) == shown
    assert (document["assignee"] is not None) == shown
