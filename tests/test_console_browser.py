"""End to end: the real service (create_app + uvicorn on 127.0.0.1) and the counselor page
driven in headless Chromium (Debian's chromium, Playwright for Python; `.ci/browser.sh`
installs both). The tests also write the screenshots docs/img/console.png and panel.png."""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - CI installs it
    sync_playwright = None
if sync_playwright is None or not Path(CHROMIUM).exists():
    pytest.skip("needs Playwright for Python and Debian's chromium (run .ci/browser.sh)",
                allow_module_level=True)

import uvicorn  # noqa: E402

from signaal.service.app import create_app  # noqa: E402
from signaal.service.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PLATFORM, COUNSELOR = "platform-browser-test-0123456789", "counselor-browser-test-0123456789"
URGENT_MESSAGE = "ik ben 14 en mijn stiefvader laat mannen bij mij komen, hij pakt het geld"
TIMEOUT = 15_000  # ms; the first message also warms up the analyzer


class Server:
    """The real service in a thread; stop() and start() again on the same port and store,
    as a restart would."""

    def __init__(self, data_dir: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.settings = Settings(tokens={PLATFORM: "platform", COUNSELOR: "counselor"},
                                 key=b"browser-test-key-0123456789abcdef", data_dir=data_dir,
                                 model="rules", demo=True, heartbeat_seconds=2.0)
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "service did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # open event streams would otherwise hold it
        self.thread.join(timeout=30)

    def api(self, method: str, path: str, token: str = COUNSELOR, **kw) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"},
                             timeout=30, **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("signaal-browser"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="nl-NL")
    ctx.set_default_timeout(TIMEOUT)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, server):
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server.url + "/console")
    expect(pg.locator(".status-text")).to_have_text("Verbonden")
    yield pg
    assert not errors, errors


def say(page, text: str, role: str = "client") -> None:
    page.check(f'input[name="role"][value="{role}"]')
    before = page.locator("#messages li.msg").count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    expect(page.locator("#messages li.msg")).to_have_count(before + 1)


def conversation_id(page) -> str:
    return page.evaluate("JSON.parse(sessionStorage.getItem('signaal:demo')).conversation")


def flag(page, name: str):
    return page.locator("#panel li.flag", has=page.locator(".flag-name", has_text=name))


def test_demo_root_opens_the_console(page, server):
    page.goto(server.url + "/")
    assert page.url.endswith("/console")
    expect(page.locator(".note")).to_contain_text("Signaal doet een suggestie; jij beslist.")


def test_client_messages_raise_flags_and_priority(page):
    badge = page.locator("#panel .badge")
    say(page, "hoi, mag ik iets vragen?")
    expect(badge).to_have_text("●Prioriteit: Normaal")
    expect(page.locator("#panel .empty")).to_be_visible()
    say(page, "Natuurlijk, vertel maar.", role="counselor")
    say(page, URGENT_MESSAGE)
    expect(badge).to_contain_text("Prioriteit: Urgent")
    expect(page.locator("#panel .reason")).to_have_text("Reden: ouder als uitbuiter + minderjarig")
    item = flag(page, "Ouder als uitbuiter")
    expect(item).to_be_visible()
    expect(item.locator(".band")).to_contain_text("hoog")
    assert item.locator(".band").get_attribute("title").startswith("score 0,")
    expect(item.locator(".flag-source")).to_contain_text("door regels")
    expect(item.locator(".snippet").first).to_contain_text("stiefvader")
    # the redacted words are highlighted in the message they came from (message 3 = index 2)
    marks = page.locator('#messages li[data-index="2"] mark')
    expect(marks.first).to_be_visible()
    assert "stiefvader" in " ".join(marks.all_inner_texts())
    # announced: urgent assertively
    expect(page.locator('[aria-live="assertive"]')).to_contain_text("Ouder als uitbuiter")
    # new flags keep their soft highlight a while, also after the event stream's echo
    page.wait_for_timeout(1_000)
    expect(item).to_have_class(re.compile(r"\bis-new\b"))
    expect(item.locator(".new-tag")).to_be_visible()


def test_keyboard_only_reaches_the_text_box_with_visible_focus(page):
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const e = document.activeElement, s = getComputedStyle(e);
            return {tag: e.tagName, id: e.id, outline: s.outlineStyle, width: s.outlineWidth};
        }""")
        assert focused["outline"] != "none" and focused["width"] != "0px", focused
        seen.append(focused)
        if focused["id"] == "text":
            break
    assert seen[0]["tag"] == "A"  # the skip link comes first
    assert seen[-1]["id"] == "text", seen
    page.keyboard.type(URGENT_MESSAGE)
    page.keyboard.press("Enter")
    expect(page.locator("#panel .badge")).to_contain_text("Urgent")


def test_reject_by_keyboard_is_recorded_and_undo_works(page, server):
    say(page, URGENT_MESSAGE)
    item = flag(page, "Ouder als uitbuiter")
    reject = item.get_by_role("button", name="Klopt niet: Ouder als uitbuiter")
    reject.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(item).to_have_attribute("data-verdict", "reject")
    expect(item.locator(".verdict")).to_have_text("✕ Afgewezen door jou")
    path = f"/v1/conversations/{conversation_id(page)}"
    assert server.api("GET", path).json()["verdicts"] == {"parent_exploiter": "reject"}
    # focus moved to the undo button: the keyboard user continues there
    undo = item.get_by_role("button", name="Ongedaan maken: Ouder als uitbuiter")
    expect(undo).to_be_focused()
    page.keyboard.press("Enter")
    expect(item).to_have_attribute("data-verdict", "")
    assert server.api("GET", path).json()["verdicts"] == {}
    item.get_by_role("button", name="Klopt: Ouder als uitbuiter").click()
    expect(item).to_have_attribute("data-verdict", "confirm")
    assert server.api("GET", path).json()["verdicts"] == {"parent_exploiter": "confirm"}


def test_connection_drop_shows_and_recovers_with_missed_updates(page, context, server):
    say(page, "hoi")
    status = page.locator(".status-text")
    context.set_offline(True)
    expect(status).to_have_text("Verbinding verbroken — opnieuw verbinden…")
    # a message arrives through the platform while this page is offline
    reply = server.api("POST", f"/v1/conversations/{conversation_id(page)}/messages", PLATFORM,
                       json={"role": "client", "text": "ik heb het nog nooit aan iemand verteld"})
    assert reply.status_code == 200
    context.set_offline(False)
    expect(status).to_have_text("Verbonden")
    expect(flag(page, "Eerste keer verteld")).to_be_visible()
    expect(page.locator('[aria-live="polite"]')).to_contain_text("Nieuw signaal: Eerste keer verteld")


def test_service_restart_shows_the_drop_and_keeps_the_state(page, server):
    say(page, URGENT_MESSAGE)
    status = page.locator(".status-text")
    server.stop()
    expect(status).to_contain_text("Verbinding verbroken")
    server.start()
    expect(status).to_have_text("Verbonden", timeout=30_000)
    expect(page.locator("#panel .badge")).to_contain_text("Urgent")
    expect(flag(page, "Ouder als uitbuiter")).to_be_visible()


def test_reload_keeps_messages_flags_and_verdicts(page):
    say(page, URGENT_MESSAGE)
    flag(page, "Minderjarig").get_by_role("button", name="Klopt niet: Minderjarig").click()
    expect(flag(page, "Minderjarig")).to_have_attribute("data-verdict", "reject")
    page.reload()
    expect(page.locator(".status-text")).to_have_text("Verbonden")
    expect(page.locator("#messages li.msg")).to_have_count(1)
    expect(page.locator("#panel .badge")).to_contain_text("Urgent")
    expect(flag(page, "Minderjarig")).to_have_attribute("data-verdict", "reject")
    expect(page.locator('#messages li[data-index="0"] mark').first).to_be_visible()


def test_html_and_script_in_a_message_show_as_text(page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hostile = ('<script>window.__pwned = 1; alert(1)</script>'
               '<img src=x onerror="window.__pwned = 2; alert(2)"> <b>vet</b>')
    say(page, hostile)
    text = page.locator("#messages li.msg .msg-text").last
    expect(text).to_have_text(hostile)
    assert page.locator("#messages img, #messages script, #messages b").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_replay_sample_conversation_and_screenshots(page, browser, server):
    page.get_by_role("button", name="Voorbeeldgesprek afspelen").click()
    expect(page.locator("#messages li.msg")).to_have_count(8, timeout=30_000)
    expect(flag(page, "Angst voor represailles")).to_be_visible()
    expect(page.locator("#panel .badge")).to_contain_text("Urgent")
    expect(page.get_by_role("button", name="Voorbeeldgesprek afspelen")).to_be_visible()
    page.wait_for_timeout(9_000)  # let the soft highlight of new flags fade for a calm picture
    IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG / "console.png"), full_page=True)

    narrow = browser.new_context(viewport={"width": 360, "height": 780}, locale="nl-NL")
    try:
        panel = narrow.new_page()
        panel.goto(f"{server.url}/console/panel/{conversation_id(page)}#token={COUNSELOR}")
        expect(panel.locator(".status-text")).to_have_text("Verbonden")
        expect(panel.locator("#panel .badge")).to_contain_text("Urgent")
        expect(panel.locator("#panel .snippet").first).to_be_visible()
        assert panel.evaluate("document.documentElement.scrollWidth") <= 360
        panel.screenshot(path=str(IMG / "panel.png"), full_page=True)
    finally:
        narrow.close()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.skipif(not AXE.exists(), reason="tests/vendor/axe.min.js missing")
def test_axe_finds_no_serious_violations(browser, server):
    # the page's CSP forbids injected scripts; the checker's context bypasses it
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    ctx.set_default_timeout(TIMEOUT)
    try:
        page = ctx.new_page()
        page.goto(server.url + "/console")
        expect(page.locator(".status-text")).to_have_text("Verbonden")
        say(page, URGENT_MESSAGE)
        flag(page, "Minderjarig").get_by_role("button", name="Klopt niet: Minderjarig").click()
        expect(flag(page, "Minderjarig")).to_have_attribute("data-verdict", "reject")
        page.wait_for_timeout(9_000)  # judge the settled colours, not the new-flag highlight
        found = axe_violations(page)
        assert not found, json.dumps(found, indent=1)
        panel = ctx.new_page()
        panel.set_viewport_size({"width": 360, "height": 780})
        panel.goto(f"{server.url}/console/panel/{conversation_id(page)}#token={COUNSELOR}")
        expect(panel.locator("#panel .badge")).to_contain_text("Urgent")
        found = axe_violations(panel)
        assert not found, json.dumps(found, indent=1)
    finally:
        ctx.close()
