"""The counselor page's routes and files, without a browser (tests/test_console_browser.py
drives the page itself)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from signaal.service.console import STATIC, router

PLATFORM, COUNSELOR = "platform-token-0123456789", "counselor-token-0123456789"


def client(demo: bool, host: str = "127.0.0.1") -> TestClient:
    app = FastAPI()
    app.state.settings = SimpleNamespace(demo=demo, tokens={PLATFORM: "platform", COUNSELOR: "counselor"})
    app.include_router(router)
    return TestClient(app, client=(host, 50000))


def meta(html: str, name: str) -> str | None:
    found = re.search(rf'<meta name="signaal-{name}" content="([^"]*)">', html)
    return found.group(1) if found else None


def test_console_page_is_dutch_html_with_the_demo_tokens_in_demo_mode():
    response = client(demo=True).get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in response.text
    assert "Voorbeeldgesprek afspelen" in response.text
    assert meta(response.text, "platform-token") == PLATFORM
    assert meta(response.text, "counselor-token") == COUNSELOR
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_no_token_in_any_page_outside_demo_mode():
    c = client(demo=False)
    for path in ("/console", "/console/panel/abc"):
        text = c.get(path).text
        assert PLATFORM not in text and COUNSELOR not in text
        assert meta(text, "demo") == "0"


def test_demo_tokens_only_for_a_browser_on_the_same_machine():
    assert meta(client(demo=True, host="::1").get("/console").text, "counselor-token") == COUNSELOR
    text = client(demo=True, host="192.168.1.20").get("/console").text
    assert PLATFORM not in text and COUNSELOR not in text


def test_root_redirects_to_console_in_demo_mode_only():
    assert client(demo=True).get("/", follow_redirects=False).headers["location"] == "/console"
    assert client(demo=False).get("/", follow_redirects=False).status_code == 404


def test_panel_route_carries_the_conversation_id_escaped():
    c = client(demo=False)
    response = c.get("/console/panel/abc-123")
    assert response.status_code == 200
    assert meta(response.text, "conversation") == "abc-123"
    assert "/console/static/panel.js" in response.text
    hostile = c.get('/console/panel/x"><img src=x onerror=alert(1)>').text
    assert "<img" not in hostile
    assert meta(hostile, "conversation") == "x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"


@pytest.mark.parametrize("name", ["panel.js", "chat.js", "panel-page.js", "console.css"])
def test_static_files_are_served_with_their_type(name):
    response = client(demo=False).get(f"/console/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")


@pytest.mark.parametrize("path", ["../console.py", "..%2Fconsole.py", "%2e%2e/console.py", "nope.js"])
def test_static_files_stay_inside_the_static_folder(path):
    assert client(demo=False).get(f"/console/static/{path}").status_code == 404


def page_files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.suffix in (".html", ".js", ".css"))


def test_no_external_urls_in_the_page():
    """No CDN, font or script from another host: everything is served by Signaal itself."""
    for path in page_files():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name
        assert "@import" not in text, path.name


def test_script_builds_markup_only_through_text_nodes():
    """The escaping helper el() exists and no data reaches innerHTML/outerHTML/insertAdjacentHTML
    or document.write."""
    panel = (STATIC / "panel.js").read_text(encoding="utf-8")
    assert "function el(" in panel and "document.createTextNode" in panel
    for path in page_files():
        if path.suffix == ".js":
            text = path.read_text(encoding="utf-8")
            for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
                assert unsafe not in text, f"{path.name} uses {unsafe}"


def test_the_note_and_dutch_words_are_in_the_page():
    panel = (STATIC / "panel.js").read_text(encoding="utf-8")
    for words in ("Signaal doet een suggestie; jij beslist.", "Verbinding verbroken — opnieuw verbinden…",
                  "Verbonden", "Urgent", "Hoog", "Normaal", "regels + model", "Ongedaan maken"):
        assert words in panel
