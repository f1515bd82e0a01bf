"""The counselor page: the panel of flags beside the chat, served from plain files.

Routes (included by `signaal.service.app.create_app` when this module exists):
- `GET /console`: the demo page, a simulated chat on the left and the panel on the right;
- `GET /console/panel/{conversation_id}`: the panel alone, for the chat platform to embed;
- `GET /console/static/{path}`: the page's HTML/CSS/JS from `service/static/` (no build
  step, no CDN);
- `GET /` redirects to `/console` in demo mode.

Tokens never travel in a URL the server sees: the embedding platform passes the counselor
token in the URL fragment (`/console/panel/ID#token=...`), which browsers do not send. In
demo mode only (`signaal serve --demo`, a loopback service with an ephemeral one-time
token) the console page carries the demo tokens in `<meta>` tags for a browser on the same
machine, so a new user can try it with one click; outside demo mode, or to any other
client, no token is ever written into a page.
"""

from __future__ import annotations

import html
import ipaddress
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

STATIC = Path(__file__).parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
# the page talks only to its own origin; inline scripts and styles are not needed
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

router = APIRouter(include_in_schema=False)


def _loopback(request: Request) -> bool:
    """The demo hands out its tokens only to a browser on the same machine (a demo started
    with --host 0.0.0.0 must not give them to the network)."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def demo_tokens(request: Request) -> dict[str, str]:
    """The demo's tokens by role ({"platform": ..., "counselor": ...}), or {} outside demo
    mode. Reads the service's `app.state.settings` (`demo`, `tokens`: token -> role)."""
    settings = getattr(request.app.state, "settings", None)
    if not getattr(settings, "demo", False) or not _loopback(request):
        return {}
    by_role: dict[str, str] = {}
    for token, role in (getattr(settings, "tokens", None) or {}).items():
        by_role.setdefault(role, token)
    if len(by_role) == 1:  # one demo token for both roles
        by_role = dict.fromkeys(("platform", "counselor"), next(iter(by_role.values())))
    return by_role


def _page(name: str, request: Request, **meta: str) -> HTMLResponse:
    """A page from static/ with its `<meta name="signaal-...">` values filled in (escaped)."""
    text = (STATIC / name).read_text(encoding="utf-8")
    tokens = demo_tokens(request)
    values = {"demo": "1" if tokens else "0",
              "platform-token": tokens.get("platform", ""),
              "counselor-token": tokens.get("counselor", ""), **meta}
    tags = "\n".join(f'<meta name="signaal-{k}" content="{html.escape(v, quote=True)}">'
                     for k, v in values.items())
    return HTMLResponse(text.replace("<!--signaal-meta-->", tags), headers=HEADERS)


@router.get("/console")
def console(request: Request) -> HTMLResponse:
    return _page("console.html", request)


@router.get("/console/panel/{conversation_id}")
def panel(conversation_id: str, request: Request) -> HTMLResponse:
    return _page("panel.html", request, conversation=conversation_id)


@router.get("/console/static/{path:path}")
def static(path: str) -> Response:
    target = (STATIC / path).resolve()
    if not target.is_file() or STATIC.resolve() not in target.parents or target.suffix not in _TYPES:
        raise HTTPException(404)
    return FileResponse(target, media_type=_TYPES[target.suffix], headers=HEADERS)


@router.get("/")
def root(request: Request) -> Response:
    if getattr(getattr(request.app.state, "settings", None), "demo", False):
        return RedirectResponse("/console", status_code=307)
    raise HTTPException(404)
