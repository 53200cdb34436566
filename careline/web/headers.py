"""``SecurityHeaders``: the response headers every answer of the web service carries.

- ``Content-Security-Policy``: scripts, styles, fetches and forms only from
  careline itself (the dashboard's files are served from the package, never a
  CDN), no inline script or style, no plugins, and ``frame-ancestors 'none'``
  so no other site can frame the dashboard (clickjacking). OWASP's CSP cheat
  sheet "strict" baseline, without nonces because no page has inline code.
  Images may also come from the street map's tile server when one is configured
  (``CARELINE_MAP_TILE_URL``; ``careline.web.street_map.tile_origin``): that origin only.
- ``X-Content-Type-Options: nosniff``: a browser keeps the declared type.
- ``Referrer-Policy: no-referrer``: ids in dashboard URLs never leave in a Referer.
- ``X-Frame-Options: DENY``: frame-ancestors for browsers that predate CSP 2.
- ``Strict-Transport-Security`` (production only, where a TLS proxy fronts careline):
  one year, subdomains included (RFC 6797).
FastAPI's ``/docs`` and ``/redoc`` load their viewers from a CDN with inline
script; they are not served in production, and get no CSP in development.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
#: development-only API viewers that need a CDN and inline script
VIEWERS = ("/docs", "/redoc")


def csp(img_origin: str | None = None) -> str:
    """The Content-Security-Policy, with ``img_origin`` (tile servers, space-separated) added to ``img-src``."""
    return CSP if not img_origin else CSP.replace("img-src 'self' data:", f"img-src 'self' data: {img_origin}")


def security_headers(production: bool, path: str, img_origin: str | None = None) -> list[tuple[bytes, bytes]]:
    """The headers for an answer to ``path``, as ASGI (name, value) byte pairs."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]
    if production or not path.startswith(VIEWERS):
        headers.append((b"content-security-policy", csp(img_origin).encode()))
    if production:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class SecurityHeaders:
    """ASGI middleware adding ``security_headers`` to every HTTP answer (streams included)."""

    def __init__(self, app: Callable[..., Awaitable[None]], production: bool, img_origin: str | None = None) -> None:
        self.app, self.production, self.img_origin = app, production, img_origin

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(self.production, scope.get("path", ""), self.img_origin)
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
