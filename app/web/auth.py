"""Who may talk to the server: everyone on a loopback bind without a token, otherwise only a
client that shows the token whose sha256 is in the config.

The token comes as `Authorization: Bearer <token>`, as `?token=<token>` (a browser's first
visit, an <img> or a video player), or as the cookie set after a `?token=` visit, so the
page's own requests and links work without putting the token in every URL. Only the token's
sha256 is stored: a leaked config does not leak the token. A token is random (not a password
someone chose), so one fast hash is enough; the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

COOKIE = "segcam_token"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or request.cookies.get(COOKIE)


def auth_middleware(token_sha256: str | None):
    """No token configured: the config allowed it only on a loopback bind (app/config.py)."""

    @web.middleware
    async def check(request: web.Request, handler):
        if token_sha256 is None:
            return await handler(request)
        token = presented_token(request)
        if token is None or not hmac.compare_digest(token_digest(token), token_sha256):
            raise web.HTTPUnauthorized(
                text="401: a valid token is required (Authorization: Bearer TOKEN, "
                     "or ?token=TOKEN)\n", headers={"WWW-Authenticate": 'Bearer realm="segcam"'})
        response = await handler(request)
        if "token" in request.query and isinstance(response, web.StreamResponse) \
                and not response.prepared:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict",
                                secure=request.secure)
        return response

    return check
