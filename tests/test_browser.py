"""The README's journey, end to end, in a real browser (Playwright driving Debian's Chromium).

An advocate submits a commutation petition through the form and attaches the judgment; a
reviewer finds it in the queue, downloads the judgment, takes it, starts review, grants it
with a reason and adds a shared note; the advocate sees it granted with the reason and the
note; a supervisor reads the case's history and finds the grant in the global audit log.

The app is served for real (werkzeug, in a thread) on its own fresh database, built by
the migrations, so the test is marked ``committed``: every write is really committed.
Fields are found by their labels and buttons by their roles, so a field that loses its
label fails the test. The journey runs in English and Spanish, each at a desktop's width
(1366 px) and a phone's (375 px): a screenshot of each step goes to
tests/artifacts/browser/<width>/ (Spanish: tests/artifacts/browser/es/<width>/), axe-core
checks every one, and no page may scroll sideways. With UPDATE_README_SCREENSHOTS=1 the
English queue at each width is also copied to docs/ for the README.
"""

import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from tests import conftest
from tests.conftest import PASSWORD, fresh_postgres_database, on_postgres
from tracker.auth import services as auth_services
from tracker.extensions import db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The widths the journey runs at: a laptop's and a small phone's (CSS pixels).
WIDTHS = {"desktop": 1366, "phone": 375}

ORGANIZATION = "Justice Forward Project"
ADVOCATE = ("ana.advocate@example.org", "Ana Advocate")
REVIEWER = ("rita.reviewer@example.org", "Rita Reviewer")
SUPERVISOR = ("sam.supervisor@example.org", "Sam Supervisor")

PETITIONER = "Jordan Q. Example"
REGISTER_NUMBER = "12345-678"
GRANT_REASON = "Sentence far exceeds what the law now provides; exemplary record in custody."
SHARED_NOTE = "Please tell Mr. Example the warrant of commutation is being prepared."
INFORMATION_ASKED = "Please send the latest BOP progress report."
INFORMATION_ANSWER = "The progress report of March is attached to our letter."
CASE_NUMBER = re.compile(r"CP-\d{4}-\d{6}")
JUDGMENT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@cache
def catalogue(language: str) -> dict:
    """msgid (or (singular, plural)) → translation, from the app's .po file."""
    from babel.messages.pofile import read_po

    path = Path(__file__).resolve().parent.parent / "tracker" / "translations"
    with (path / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return {m.id: m.string for m in read_po(file, locale=language) if m.id}


def translated(language: str, text):
    """The page's words for ``text``: itself in English (the source), else the catalogue's."""
    if language == "en":
        return text
    found = catalogue(language).get(text)
    assert found, f"no {language} translation of {text!r}"
    return found


@contextmanager
def fresh_database_url(tmp_path):
    """A new, empty database for this test only: SQLite in tmp_path, or PostgreSQL."""
    if on_postgres():
        with fresh_postgres_database("tracker_browser") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'browser.sqlite3'}"


@contextmanager
def migrated_app(url):
    """An app on ``url`` whose schema is built by the migrations; its engine disposed at the end."""
    app = conftest.testing_app(url)  # imported by module: pytest would collect test*
    try:
        with app.app_context():
            upgrade()
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


def create_users(app) -> None:
    with app.app_context():
        organization = auth_services.create_organization(None, ORGANIZATION)
        for (email, name), role, org in (
            (ADVOCATE, "advocate", organization),
            (REVIEWER, "reviewer", None),
            (SUPERVISOR, "supervisor", None),
        ):
            auth_services.create_user(
                None, email=email, name=name, role=role, password=PASSWORD, organization=org
            )
        db.session.commit()


@contextmanager
def served(app):
    """Serve the app on a free local port in a daemon thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


#: The innermost elements that reach beyond the window's right edge, to say what overflows.
OVERFLOWING_ELEMENTS = """() => Array.from(document.querySelectorAll("body *"))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                 && !Array.from(e.children).some(
                     c => c.getBoundingClientRect().right > window.innerWidth + 1))
    .slice(0, 4)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
              + (e.className && typeof e.className === "string"
                 ? "." + e.className.trim().split(/\\s+/).join(".") : ""))
    .join(", ")"""


class Journey:
    """The browser page, the server's address, and numbered screenshots."""

    def __init__(self, page, base_url: str, artifacts: Path = ARTIFACTS, language: str = "en"):
        self.page = page
        self.base_url = base_url
        self.artifacts = artifacts
        self.language = language
        self.step = 0
        self.readme_screenshot: Path | None = None
        self.accessibility_problems: list[str] = []
        self.layout_problems: list[str] = []
        self.secrets: dict[str, str] = {}

    def t(self, text: str, **values) -> str:
        """What the page says for ``text`` in the journey's language (the app's catalogue)."""
        return (
            translated(self.language, text) % values if values else translated(self.language, text)
        )

    def n(self, singular: str, plural: str, count: int, **values) -> str:
        forms = translated(self.language, (singular, plural))
        text = forms[0 if count == 1 else -1]
        return text % {"num": count, **values}

    def pattern(self, text: str, **patterns) -> str:
        """A regular expression of ``text`` translated, its placeholders matching ``patterns``."""
        marker = {name: f"\x00{name}\x00" for name in patterns}
        escaped = re.escape(self.t(text, **marker))
        for name, regex in patterns.items():
            escaped = escaped.replace(re.escape(marker[name]), regex)
        return escaped

    @staticmethod
    def words(*texts: str) -> re.Pattern:
        """The texts in this order, anything between them."""
        return re.compile(".*".join(re.escape(text) for text in texts), re.S)

    def screenshot(self, name: str) -> Path:
        """Save the page as the next numbered PNG, and check it for WCAG 2.1 A/AA problems and
        for sideways scrolling."""
        self.step += 1
        path = self.artifacts / f"{self.step:02d}-{name}.png"
        self.page.screenshot(path=path, full_page=True)
        self.accessibility_problems += accessibility_problems(self.page, name)
        self.check_no_sideways_scroll(name)
        return path

    def check_no_sideways_scroll(self, name: str) -> None:
        """The page fits the window's width: nothing makes it scroll sideways."""
        widths = self.page.evaluate(
            "() => [(document.scrollingElement || document.documentElement).scrollWidth,"
            " window.innerWidth]"
        )
        if widths[0] > widths[1]:
            overflowing = self.page.evaluate(OVERFLOWING_ELEMENTS)
            self.layout_problems.append(
                f"{name}: {widths[0]} px wide in a {widths[1]} px window ({overflowing})"
            )

    def menu(self):
        """The main navigation, opened first when the window is narrow enough to fold it."""
        from playwright.sync_api import expect

        self.page.wait_for_load_state()  # the stylesheet decides whether the menu folds
        nav = self.page.get_by_role("navigation", name=self.t("Main"))
        toggler = nav.get_by_role("button", name=self.t("Toggle navigation"))
        if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
            toggler.click()
            # Bootstrap adds "show" when the unfolding ends: a click during it can miss.
            expect(nav.locator("#nav")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
            expect(nav.get_by_role("button", name=self.t("Log out"))).to_be_visible()
        return nav

    def queue_filters(self):
        """The queue's filter form, unfolded first on a small screen."""
        from playwright.sync_api import expect

        self.page.wait_for_load_state()
        unfold = self.page.get_by_role(
            "button", name=re.compile("^" + re.escape(self.t("Filters")))
        )
        if unfold.is_visible() and unfold.get_attribute("aria-expanded") != "true":
            unfold.click()
        filters = self.page.get_by_role("search", name=self.t("Filter cases"))
        expect(filters).to_be_visible()
        return filters

    def log_in(self, email: str, name: str) -> None:
        from playwright.sync_api import expect

        page = self.page
        page.goto(f"{self.base_url}/login")
        expect(page.get_by_role("heading", name=self.t("Log in"))).to_be_visible()
        page.get_by_label(self.t("E-mail"), exact=True).fill(email)
        page.get_by_label(self.t("Password"), exact=True).fill(PASSWORD)
        page.get_by_role("button", name=self.t("Log in")).click()
        self.give_second_factor(email)
        expect(
            page.get_by_role("button", name=self.t("Log out"), include_hidden=True)
        ).to_be_attached()
        page.wait_for_load_state()  # the stylesheet too: a page measured without it overflows
        self.check_no_sideways_scroll(f"home of {email}")
        nav = self.menu()
        expect(nav.get_by_role("button", name=self.t("Log out"))).to_be_visible()
        expect(nav).to_contain_text(name)

    def give_second_factor(self, email: str) -> None:
        """Staff enrol a real TOTP secret at their first login, and give a code after that."""
        import pyotp
        from playwright.sync_api import expect

        page = self.page
        setup = page.get_by_role("heading", name=self.t("Set up two-factor authentication"))
        verify = page.get_by_role("heading", name=self.t("Two-factor authentication"), exact=True)
        expect(
            page.get_by_role("button", name=self.t("Log out"), include_hidden=True)
        ).to_be_attached()
        if setup.is_visible():
            self.secrets[email] = page.locator("code.user-select-all").inner_text().strip()
            expect(
                page.get_by_role(
                    "img",
                    name=self.t("QR code to add the Clemency Tracker to an authenticator app"),
                )
            ).to_be_visible()
            self.screenshot("two-factor-setup")
            page.get_by_label(self.t("Code from your authenticator app"), exact=True).fill(
                pyotp.TOTP(self.secrets[email]).now()
            )
            page.get_by_role("button", name=self.t("Turn on two-factor authentication")).click()
            expect(
                page.get_by_role("heading", name=self.t("Two-factor authentication is on"))
            ).to_be_visible()
            expect(
                page.get_by_role("list", name=self.t("Recovery codes")).get_by_role("listitem")
            ).to_have_count(10)
            page.get_by_role("link", name=self.t("I have saved them — continue")).click()
        elif verify.is_visible():
            # The next time step's code: the current one may already have been used.
            totp = pyotp.TOTP(self.secrets[email])
            page.get_by_label(self.t("Authentication code"), exact=True).fill(
                totp.at(time.time() + totp.interval)
            )
            page.get_by_role("button", name=self.t("Verify")).click()

    def log_out(self) -> None:
        from playwright.sync_api import expect

        self.menu().get_by_role("button", name=self.t("Log out")).click()
        expect(self.page.get_by_text(self.t("You are logged out."))).to_be_visible()


#: The journey runs in each language; the browser asks for it as a person's would (its
#: locale sets Accept-Language). English screenshots go to ARTIFACTS/<width>, others to
#: ARTIFACTS/<language>/<width>.
LANGUAGES = {"en": "en-US", "es": "es-ES"}


@pytest.mark.browser
@pytest.mark.committed
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is not installed at {CHROMIUM}")
@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_petition_journey_in_a_browser(tmp_path, language, width):
    from playwright.sync_api import sync_playwright

    artifacts = (ARTIFACTS if language == "en" else ARTIFACTS / language) / str(width)
    artifacts.mkdir(parents=True, exist_ok=True)
    for old in artifacts.glob("*.png"):
        old.unlink()

    with fresh_database_url(tmp_path) as url, migrated_app(url) as app:
        create_users(app)
        with served(app) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(
                    viewport={"width": width, "height": 900}, locale=LANGUAGES[language]
                )
                context.set_default_timeout(15_000)
                page = context.new_page()
                problems = watch_for_problems(page)
                journey = Journey(page, base_url, artifacts, language)
                walk_the_journey(journey)
                context.close()
            finally:
                browser.close()
    # The one refusal the walk provokes on purpose: the empty petition form (422), which
    # Chromium also reports on the console.
    expected = re.compile(r"(HTTP 422 for|status of 422 \(UNPROCESSABLE ENTITY\)).*/petitions/new")
    assert [p for p in problems if not expected.search(p)] == [], "\n".join(problems)
    assert journey.accessibility_problems == [], "\n".join(journey.accessibility_problems)
    assert journey.layout_problems == [], "\n".join(journey.layout_problems)
    if language == "en" and os.environ.get("UPDATE_README_SCREENSHOTS") == "1":
        name = next(k for k, v in WIDTHS.items() if v == width)
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(journey.readme_screenshot, DOCS / f"screenshot-{name}.png")


#: axe-core 4.14.1 (MPL-2.0, Deque Systems), vendored so the check runs offline.
AXE_SOURCE = Path(__file__).with_name("vendor") / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def accessibility_problems(page, name: str) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the page (contrast, labels, landmarks…).

    page.evaluate runs through the DevTools protocol, so the page's strict CSP still holds
    for the page's own scripts.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_TAGS,
    )
    return [
        f"{name}: {violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in result["violations"]
    ]


def watch_for_problems(page) -> list[str]:
    """Collect console errors (a CSP violation, a script error), uncaught page errors and any
    response of 400 or more: the journey takes no step that should be refused or fail."""
    problems: list[str] = []

    def on_console(message):
        url = message.location.get("url", "")
        if message.type == "error":
            problems.append(f"console: {message.text} ({url})")

    def on_response(response):
        if response.status >= 400:
            problems.append(f"HTTP {response.status} for {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_request_failed(request):
        # ERR_ABORTED: Chromium cancelled a pending fetch because the next page was loading
        # (the journey clicks on faster than a person); the server did not fail.
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"request failed: {request.url} ({request.failure})")

    page.on("requestfailed", on_request_failed)
    return problems


def walk_the_journey(journey: Journey) -> None:
    from playwright.sync_api import expect

    page = journey.page
    t = journey.t

    # --- the advocate submits a commutation petition through the form --------------------
    journey.log_in(*ADVOCATE)
    expect(
        page.get_by_role(
            "heading", name=t("Petitions of %(organization)s", organization=ORGANIZATION)
        )
    ).to_be_visible()
    journey.menu().get_by_role("link", name=t("New petition")).click()
    expect(page.get_by_role("heading", name=t("New clemency petition"))).to_be_visible()
    # Issue 16: no contradictory start; a failed submit marks each field and takes the focus
    # to the summary, whose links lead to the fields; the kind shows the fields it takes.
    expect(page.get_by_label(t("Kind of clemency"), exact=True)).to_have_value("commutation")
    expect(page.get_by_label(t("Custody status"), exact=True)).to_have_value("in_prison")
    page.get_by_role("button", name=t("Submit petition")).click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    name_field = page.get_by_label(t("Petitioner's full name"), exact=True)
    expect(name_field).to_have_attribute("aria-invalid", "true")
    expect(name_field).to_have_accessible_description(
        re.compile(re.escape(t("This field is required.")))
    )
    journey.screenshot("advocate-sees-what-to-correct")
    summary.get_by_role("link", name=t("Petitioner's full name")).click()
    expect(name_field).to_be_focused()
    page.get_by_label(t("Kind of clemency"), exact=True).select_option(label=t("Pardon"))
    expect(page.get_by_label(t("Custody status"), exact=True)).to_have_value("released")
    expect(page.get_by_label(t("Projected release date"), exact=True)).to_be_hidden()
    page.get_by_label(t("Kind of clemency"), exact=True).select_option(
        label=t("Commutation of sentence")
    )
    page.get_by_label(t("Custody status"), exact=True).select_option(label=t("In prison"))
    page.get_by_label(t("Petitioner's full name"), exact=True).fill(PETITIONER)
    page.get_by_label(t("Federal register number"), exact=True).fill(REGISTER_NUMBER)
    page.get_by_label(t("Date of birth"), exact=True).fill("1975-04-02")
    page.get_by_label(t("Date of sentence"), exact=True).fill("2005-06-01")
    page.get_by_label(t("Projected release date"), exact=True).fill("2030-01-01")
    page.get_by_label(t("Sentencing court (federal district)"), exact=True).fill(
        "District of Maryland"
    )
    page.get_by_label(t("Sentence imposed"), exact=True).fill("240 months' imprisonment")
    page.get_by_label(t("Offense(s) of conviction"), exact=True).fill(
        "Conspiracy to distribute cocaine base (21 U.S.C. § 846)"
    )
    page.get_by_label(t("Grounds for clemency"), exact=True).fill(
        "Would receive a far shorter sentence today; twenty years without an infraction."
    )
    journey.screenshot("advocate-fills-petition")
    page.get_by_role("button", name=t("Submit petition")).click()

    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(journey.pattern("Petition %(case)s submitted.", case=r"CP-\d{4}-\d{6}"))
    )
    case_number = CASE_NUMBER.search(page.get_by_role("heading", level=1).inner_text()).group(0)
    expect(page).to_have_url(re.compile(rf"/petitions/{case_number}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Received"))
    petition = page.get_by_role("region", name=t("Petition"), exact=True)
    expect(petition).to_contain_text(PETITIONER)
    expect(petition).to_contain_text(REGISTER_NUMBER)
    journey.screenshot("advocate-sees-case-received")

    # --- the advocate attaches the judgment (a PDF, whatever its name) -------------------
    documents = page.get_by_role("region", name=t("Documents"))
    documents.get_by_label(t("File"), exact=True).set_input_files(
        {"name": "judgment-scan.png", "mimeType": "image/png", "buffer": JUDGMENT_PDF}
    )
    documents.get_by_label(t("Type of document"), exact=True).select_option(label=t("Judgment"))
    documents.get_by_label(t("Description (optional)"), exact=True).fill("Judgment, 2005")
    documents.get_by_role("button", name=t("Attach document")).click()
    expect(page.get_by_role("alert")).to_contain_text(
        t("%(type)s “%(filename)s” attached.", type=t("Judgment"), filename="judgment-scan.png")
    )
    documents = page.get_by_role("region", name=t("Documents"))
    expect(documents).to_contain_text("application/pdf")
    journey.screenshot("advocate-attaches-judgment")
    journey.log_out()

    # --- the reviewer finds it in the queue, takes it, starts review, grants it ---------
    journey.log_in(*REVIEWER)
    expect(page.get_by_role("heading", name=t("Queue"))).to_be_visible()
    filters = journey.queue_filters()
    filters.get_by_label(t("Search"), exact=True).fill(REGISTER_NUMBER)
    filters.get_by_role("button", name=t("Filter")).click()
    expect(
        page.get_by_text(journey.n("%(num)s case", "%(num)s cases", 1), exact=True)
    ).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number))
    expect(row).to_contain_text(PETITIONER)
    expect(row).to_contain_text(ORGANIZATION)
    expect(row).to_contain_text(t("Received"))
    if page.viewport_size["width"] >= 768:  # a phone's cards hide the header, and its box
        select_all = page.get_by_role("checkbox", name=t("Select every case on this page"))
        select_all.check()
        expect(row.get_by_role("checkbox")).to_be_checked()
        select_all.uncheck()
        expect(row.get_by_role("checkbox")).not_to_be_checked()
    journey.readme_screenshot = journey.screenshot("reviewer-finds-case-in-queue")
    row.get_by_role("link", name=case_number).click()

    documents = page.get_by_role("region", name=t("Documents"))
    with page.expect_download() as download_info:
        documents.get_by_role("link", name="judgment-scan.png").click()
    download = download_info.value
    assert download.suggested_filename == "judgment-scan.png"
    assert Path(download.path()).read_bytes() == JUDGMENT_PDF
    journey.screenshot("reviewer-downloads-judgment")

    actions = page.get_by_role("region", name=t("Actions"))
    actions.get_by_role("button", name=t("Take this case")).click()
    expect(page.get_by_role("alert")).to_contain_text(
        t("Case %(case)s is now yours.", case=case_number)
    )
    expect(page.get_by_role("region", name=t("Petition"), exact=True)).to_contain_text(REVIEWER[1])
    journey.screenshot("reviewer-takes-case")

    actions.get_by_label(t("Action"), exact=True).select_option(label=t("Start review"))
    actions.get_by_role("button", name=t("Apply")).click()
    expect(page.get_by_role("alert")).to_contain_text(
        t(
            "%(action)s: case %(case)s is now %(stage)s.",
            action=t("Start review"),
            case=case_number,
            stage=t("Under review").lower(),
        )
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Under review"))
    journey.screenshot("reviewer-starts-review")

    # --- issue 12: the information loop. The reviewer asks, the advocate answers (with a
    # correction), the reviewer sees "information provided" in the queue -------------------
    actions.get_by_label(t("Action"), exact=True).select_option(label=t("Return for information"))
    actions.get_by_label(t("Reason"), exact=True).fill(INFORMATION_ASKED)
    actions.get_by_role("button", name=t("Apply")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Information requested"))
    expect(page.get_by_role("region", name=t("Information requested"))).to_contain_text(
        INFORMATION_ASKED
    )
    journey.screenshot("reviewer-requests-information")
    journey.log_out()

    journey.log_in(*ADVOCATE)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number))
    expect(row).to_contain_text(t("Information requested"))
    row.get_by_role("link", name=case_number).click()
    request = page.get_by_role("region", name=t("Information requested"))
    expect(request).to_contain_text(INFORMATION_ASKED)
    request.get_by_role("link", name=t("Answer the request")).click()
    page.get_by_label(t("Your answer"), exact=True).fill(INFORMATION_ANSWER)
    page.get_by_label(t("Sentencing court (federal district)"), exact=True).fill(
        "District of Maryland (Baltimore)"
    )
    journey.screenshot("advocate-answers-information-request")
    page.get_by_role("button", name=t("Send the answer")).click()
    expect(page.get_by_role("alert")).to_contain_text(
        t("Your answer was sent: case %(case)s is back under review.", case=case_number)
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Under review"))
    expect(page.get_by_role("region", name=t("Petition"), exact=True)).to_contain_text(
        "(Baltimore)"
    )
    journey.log_out()

    journey.log_in(*REVIEWER)
    journey.menu().get_by_role("link", name=t("My cases")).click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number))
    expect(row).to_contain_text(t("Information provided"))
    journey.screenshot("reviewer-sees-information-provided")
    row.get_by_role("link", name=case_number).click()
    expect(page.get_by_role("region", name=t("Information provided"))).to_contain_text(
        INFORMATION_ANSWER
    )
    actions = page.get_by_role("region", name=t("Actions"))

    actions.get_by_label(t("Action"), exact=True).select_option(label=t("Grant"))
    actions.get_by_label(t("Relief granted"), exact=True).select_option(
        label=t("Commutation to time served")
    )
    actions.get_by_label(t("Reason"), exact=True).fill(GRANT_REASON)
    actions.get_by_role("button", name=t("Apply")).click()
    expect(page.get_by_role("alert")).to_contain_text(
        t(
            "%(action)s: case %(case)s is now %(stage)s.",
            action=t("Grant"),
            case=case_number,
            stage=t("Granted").lower(),
        )
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Granted"))
    expect(page.get_by_role("status")).to_contain_text(t("Reason: %(reason)s", reason=GRANT_REASON))
    journey.screenshot("reviewer-grants-case")

    notes = page.get_by_role("region", name=t("Notes"))
    notes.get_by_label(t("Note"), exact=True).fill(SHARED_NOTE)
    notes.get_by_label(t("Shared with the advocate"), exact=True).check()
    notes.get_by_role("button", name=t("Add note")).click()
    expect(page.get_by_role("alert")).to_contain_text(t("Note added."))
    expect(notes).to_contain_text(SHARED_NOTE)
    expect(notes).to_contain_text(t("Shared with the advocate"))
    journey.screenshot("reviewer-adds-shared-note")
    journey.log_out()

    # --- the advocate sees it granted, with the reason and the shared note ---------------
    journey.log_in(*ADVOCATE)
    # The bell: the request for information, the decision and the shared note, unread.
    bell = journey.menu().get_by_role(
        "link", name=journey.n("Notifications, %(num)d unread", "Notifications, %(num)d unread", 3)
    )
    expect(bell).to_be_visible()
    bell.click()
    expect(page.get_by_role("heading", name=t("Notifications"))).to_be_visible()
    expect(
        page.get_by_role("link", name=t("Case %(case)s was granted", case=case_number) + ".")
    ).to_be_visible()
    journey.screenshot("advocate-bell-shows-decision")
    page.get_by_role("button", name=t("Mark all read")).click()
    expect(
        journey.menu().get_by_role(
            "link",
            name=journey.n("Notifications, %(num)d unread", "Notifications, %(num)d unread", 0),
        )
    ).to_be_visible()
    journey.menu().get_by_role("link", name=t("Our petitions")).click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number))
    expect(row).to_contain_text(t("Granted"))
    row.get_by_role("link", name=case_number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Granted"))
    decision = page.get_by_role("status")
    expect(decision).to_contain_text(t("Granted"))
    expect(decision).to_contain_text(t("Reason: %(reason)s", reason=GRANT_REASON))
    notes = page.get_by_role("region", name=t("Notes"))
    expect(notes).to_contain_text(SHARED_NOTE)
    expect(notes).to_contain_text(REVIEWER[1])
    expect(page.get_by_role("region", name=t("Actions"))).to_have_count(0)
    expect(notes.get_by_role("button", name=t("Add note"))).to_have_count(0)
    journey.screenshot("advocate-sees-case-granted")
    journey.log_out()

    # --- the supervisor reads the case's history and finds the grant in the audit log ----
    journey.log_in(*SUPERVISOR)
    page.get_by_role("link", name=case_number).click()
    history = page.get_by_role("region", name=t("History"))
    expect(history.get_by_role("listitem")).to_contain_text(
        [
            journey.words(t("Submit"), ADVOCATE[1]),
            re.compile(rf"{re.escape(t('Take'))}\s*→\s*{re.escape(REVIEWER[1])}", re.S),
            journey.words(t("Start review"), t("Received"), t("Under review")),
            journey.words(t("Return for information"), INFORMATION_ASKED),
            journey.words(t("Provide information"), INFORMATION_ANSWER),
            journey.words(t("Grant"), t("Under review"), t("Granted"), GRANT_REASON),
            journey.words(t("Note shared"), SHARED_NOTE),
        ]
    )
    journey.screenshot("supervisor-reads-case-history")

    journey.menu().get_by_role("link", name=t("Audit log")).click()
    expect(page.get_by_role("heading", name=t("Audit log"))).to_be_visible()
    audit_filters = page.get_by_role("form", name=t("Filter the audit log"))
    audit_filters.get_by_label(t("Case number"), exact=True).fill(case_number)
    audit_filters.get_by_role("button", name=t("Filter")).click()
    expect(page).to_have_url(re.compile(rf"/audit/\?.*case_number={case_number}"))
    entries = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number))
    # submit, document_uploaded, document_downloaded, take, start_review,
    # return_for_information, provide_information, grant, note_shared
    expect(entries).to_have_count(9)
    grant = entries.filter(has=page.locator("code", has_text=re.compile(r"^grant$")))
    expect(grant).to_have_count(1)
    expect(grant).to_contain_text(REVIEWER[0])
    expect(grant).to_contain_text(t("Reason: %(reason)s", reason=GRANT_REASON))
    expect(grant).to_contain_text(
        re.compile(rf"{re.escape(t('Under review'))}\s*→\s*{re.escape(t('Granted'))}")
    )
    journey.screenshot("supervisor-finds-grant-in-audit-log")


@pytest.mark.browser
@pytest.mark.committed
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is not installed at {CHROMIUM}")
def test_conflict_page_merges_in_a_browser(tmp_path):
    """The supervisor's stale edit meets the reviewer's correction: the conflict page keeps
    the correction, and the field both changed is chosen with the keyboard alone."""
    from playwright.sync_api import sync_playwright

    artifacts = ARTIFACTS / "conflict"
    artifacts.mkdir(parents=True, exist_ok=True)
    with fresh_database_url(tmp_path) as url, migrated_app(url) as app:
        create_users(app)
        case_number = submit_case_under_review(app)
        with served(app) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(15_000)
                page = context.new_page()
                problems = watch_for_problems(page)
                journey = Journey(page, base_url, artifacts)
                merge_a_stale_edit(journey, app, case_number)
                context.close()
            finally:
                browser.close()
        sentence, court = saved_fields(app, case_number)
    # The one refusal the walk provokes on purpose: the stale save (409), which Chromium
    # also reports on the console.
    expected = re.compile(
        rf"(HTTP 409 for|status of 409 \(CONFLICT\)).*/petitions/{case_number}/edit"
    )
    assert [p for p in problems if not expected.search(p)] == [], "\n".join(problems)
    assert journey.accessibility_problems == [], "\n".join(journey.accessibility_problems)
    assert (sentence, court) == ("180 months' imprisonment", "Eastern District of Texas")


def _user(email):
    from sqlalchemy import select

    from tracker.auth.models import User

    return db.session.scalar(select(User).where(User.email == email))


def submit_case_under_review(app) -> str:
    from tracker.petitions import services as petition_services

    with app.app_context():
        petition = petition_services.submit_petition(_user(ADVOCATE[0]), conftest.petition_values())
        petition_services.apply_transition(petition, _user(REVIEWER[0]), "start_review")
        db.session.commit()
        return petition.case_number


def saved_fields(app, case_number):
    from sqlalchemy import select

    from tracker.petitions.models import Petition

    with app.app_context():
        petition = db.session.scalar(select(Petition).where(Petition.case_number == case_number))
        return petition.sentence, petition.sentencing_court


def merge_a_stale_edit(journey: Journey, app, case_number: str) -> None:
    from playwright.sync_api import expect
    from sqlalchemy import select

    from tracker.petitions import services as petition_services
    from tracker.petitions.models import Petition

    page = journey.page
    journey.log_in(*SUPERVISOR)
    page.goto(f"{journey.base_url}/petitions/{case_number}/edit")
    expect(page.get_by_role("heading", name=f"Edit case {case_number}")).to_be_visible()
    with app.app_context():  # the reviewer saves a correction meanwhile
        petition = db.session.scalar(select(Petition).where(Petition.case_number == case_number))
        petition_services.update_petition(
            petition, _user(REVIEWER[0]), {"sentence": "180 months' imprisonment"}, 2
        )
        db.session.commit()
    page.get_by_label("Sentencing court (federal district)", exact=True).fill(
        "Eastern District of Texas"
    )
    page.get_by_label("Sentence imposed", exact=True).fill("200 months' imprisonment")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("changed while you were working")
    expect(page.get_by_text(REVIEWER[1]).first).to_be_visible()
    merge = page.get_by_role("form", name="Your edit, merged with the case as it is now")
    sentence = merge.get_by_role("group", name="Sentence imposed")
    theirs = sentence.get_by_role("radio", name=re.compile("Keep the current value"))
    mine = sentence.get_by_role("radio", name=re.compile("Use your value"))
    expect(theirs).to_have_accessible_name(re.compile("180 months' imprisonment"))
    expect(mine).to_have_accessible_name(re.compile("200 months' imprisonment"))
    expect(theirs).not_to_be_checked()
    expect(mine).not_to_be_checked()
    expect(merge).to_contain_text(
        re.compile(r"District of Maryland\s*→\s*Eastern District of Texas")
    )
    journey.screenshot("supervisor-sees-conflict")

    apply = merge.get_by_role("button", name="Apply my changes to the current version")
    apply.click()  # no choice yet: the browser asks for one and sends nothing
    expect(page.get_by_role("heading", level=1)).to_contain_text("changed while you were working")

    theirs.focus()
    page.keyboard.press("Space")
    expect(theirs).to_be_checked()
    page.keyboard.press("Tab")
    expect(apply).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Saved.")
    petition_region = page.get_by_role("region", name="Petition", exact=True)
    expect(petition_region).to_contain_text("Eastern District of Texas")
    expect(petition_region).to_contain_text("180 months' imprisonment")
    journey.screenshot("supervisor-merged-edit")


# --- issue 14: a supervisor records a small clemency act ----------------------------------------

ACT_TITLE = "Commutations for people on home confinement"


def cases_on_home_confinement(app, count: int) -> list[str]:
    """``count`` commutations under review of petitioners on home confinement."""
    from tracker.petitions import services as petition_services

    numbers = []
    with app.app_context():
        for index in range(count):
            values = conftest.petition_values(
                custody_status="home_confinement", register_number=f"5550{index}-001"
            )
            petition = petition_services.submit_petition(_user(ADVOCATE[0]), values)
            petition_services.apply_transition(petition, _user(REVIEWER[0]), "start_review")
            numbers.append(petition.case_number)
        db.session.commit()
    return numbers


@pytest.mark.browser
@pytest.mark.committed
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is not installed at {CHROMIUM}")
def test_a_small_act_is_recorded_in_a_browser(tmp_path):
    """The supervisor drafts an act, adds the cases on home confinement by the queue's
    filters, reads the preview and records it; each case then says it was granted by it."""
    from playwright.sync_api import sync_playwright

    artifacts = ARTIFACTS / "act"
    artifacts.mkdir(parents=True, exist_ok=True)
    with fresh_database_url(tmp_path) as url, migrated_app(url) as app:
        create_users(app)
        case_numbers = cases_on_home_confinement(app, 2)
        other = submit_case_under_review(app)  # in prison: not of the act
        with served(app) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(15_000)
                page = context.new_page()
                problems = watch_for_problems(page)
                journey = Journey(page, base_url, artifacts)
                record_an_act(journey, case_numbers, other)
                context.close()
            finally:
                browser.close()
    assert problems == [], "\n".join(problems)
    assert journey.accessibility_problems == [], "\n".join(journey.accessibility_problems)


def record_an_act(journey: Journey, case_numbers: list[str], other: str) -> None:
    from playwright.sync_api import expect

    page = journey.page
    journey.log_in(*SUPERVISOR)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Acts").click()
    expect(page.get_by_role("heading", name="Clemency acts")).to_be_visible()
    page.get_by_role("link", name="Draft an act").click()
    page.get_by_label("Title", exact=True).fill(ACT_TITLE)
    page.get_by_label("Signed on", exact=True).fill("2024-12-12")
    page.get_by_label("Relief", exact=True).select_option(label="Commutation to time served")
    page.get_by_label("Terms", exact=True).fill("The term of supervised release remains.")
    journey.screenshot("supervisor-drafts-act")
    page.get_by_role("button", name="Draft the act").click()
    expect(page.get_by_role("alert")).to_contain_text("Act drafted")
    expect(page.get_by_role("heading", level=1)).to_contain_text(ACT_TITLE)

    adding = page.get_by_role("region", name="Add cases by the queue's filters")
    adding.get_by_label("Custody", exact=True).select_option(label="Home confinement")
    adding.get_by_role("button", name="Add the matching cases").click()
    expect(page.get_by_role("alert")).to_contain_text("2 cases added to the act.")
    cases = page.get_by_role("region", name=re.compile("Cases of the draft"))
    for case_number in case_numbers:
        expect(cases).to_contain_text(case_number)
    expect(cases).not_to_contain_text(other)
    journey.screenshot("supervisor-adds-cases-by-filter")

    page.get_by_role("link", name="Preview and record").click()
    expect(page.get_by_text("Recording grants 2 cases.")).to_be_visible()
    journey.screenshot("supervisor-previews-act")
    page.get_by_role("button", name="Record the act and grant 2 cases").click()
    expect(page.get_by_role("alert")).to_contain_text("The act is recorded: 2 cases granted.")
    cases = page.get_by_role("region", name=re.compile("Cases granted by the act"))
    expect(cases.get_by_role("row")).to_have_count(3)
    journey.screenshot("supervisor-sees-recorded-act")

    cases.get_by_role("link", name=case_numbers[0]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Granted")
    expect(page.get_by_role("status")).to_contain_text("Granted by the act of 2024-12-12")
    journey.screenshot("case-granted-by-the-act")
