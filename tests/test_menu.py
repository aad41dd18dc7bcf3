"""The layout's signed-in menu, kept once written (``tracker.web.signed_in_menu``): what it
shows is always the user as they are now, and every page gets its own working CSRF token."""

from tests.conftest import CSRF_PATTERN
from tracker import web
from tracker.extensions import db


def menu_of(page: str) -> str:
    return page[page.index('<nav class="navbar') : page.index("</nav>")]


def test_the_menu_shows_the_user_as_they_are_now(client, login_as):
    user = login_as("reviewer", name="Ana Before")
    first = menu_of(client.get("/petitions").get_data(as_text=True))
    assert "Ana Before · Reviewer" in first
    user.name = "Ana After"
    db.session.flush()
    again = menu_of(client.get("/petitions").get_data(as_text=True))
    assert "Ana After · Reviewer" in again and "Ana Before" not in again


def test_the_menu_follows_the_role_and_organization(app, client, login_as, make_organization):
    organization = make_organization("Menu Advocates")
    login_as("advocate", organization=organization)
    advocate_menu = menu_of(client.get("/petitions").get_data(as_text=True))
    assert "Advocate · Menu Advocates" in advocate_menu
    assert "Our petitions" in advocate_menu and "Audit log" not in advocate_menu
    client.post("/logout", data={"csrf_token": CSRF_PATTERN.search(advocate_menu).group(1)})
    login_as("supervisor")
    supervisor_menu = menu_of(client.get("/petitions").get_data(as_text=True))
    assert "Audit log" in supervisor_menu and "Our petitions" not in supervisor_menu


def test_every_page_gets_its_own_working_csrf_token(client, login_as):
    login_as("reviewer")
    web._menus.clear()
    tokens = []
    for _ in range(2):
        menu = menu_of(client.get("/petitions").get_data(as_text=True))
        tokens.append(CSRF_PATTERN.search(menu).group(1))
    assert len(web._menus) == 1  # the second page's menu came from the kept copy
    assert not any(web._CSRF_TOKEN_HOLE in token for token in tokens)
    response = client.post("/logout", data={"csrf_token": tokens[1]})
    assert response.status_code == 302 and response.location.endswith("/login")
    assert client.get("/petitions").status_code == 302  # signed out
