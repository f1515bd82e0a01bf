"""Bearer-token auth with two roles: the chat platform posts messages, counselors read,
give feedback and stream. Tokens come from a file (settings.read_tokens)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

ROLES = ("platform", "counselor")


class Unauthorized(HTTPException):
    def __init__(self, detail: str):
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


def role_of(tokens: dict[str, str], presented: str) -> str | None:
    """Constant-time comparison against every configured token."""
    found = None
    given = presented.encode("utf-8")
    for token, role in tokens.items():
        if hmac.compare_digest(token.encode("utf-8"), given):
            found = role
    return found


def presented_token(request: Request, allow_query: bool = False) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    if allow_query:  # EventSource cannot set headers; query strings are never logged
        return request.query_params.get("token") or None
    return None


def require(*roles: str, allow_query: bool = False):
    """FastAPI dependency: the caller's role, or 401 (no/unknown token) / 403 (wrong role)."""

    async def dependency(request: Request) -> str:  # async: no thread hop per request
        token = presented_token(request, allow_query)
        if token is None:
            raise Unauthorized("missing bearer token (header 'Authorization: Bearer TOKEN'"
                               + (" or query parameter ?token=" if allow_query else "") + ")")
        role = role_of(request.app.state.settings.tokens, token)
        if role is None:
            raise Unauthorized("unknown token")
        if role not in roles:
            raise HTTPException(403, f"role '{role}' may not do this (needs {' or '.join(roles)})")
        return role

    return dependency
