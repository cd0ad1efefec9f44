"""Session cookies: one keyed entry (IID, the viewer, the explorer) authorises what follows.

OHIF's DICOMweb data source cannot add a fixed header to its requests, and an API key in every
image URL would land in logs and histories. So an entry URL that carries a valid key answers with
an HttpOnly, SameSite cookie (RFC 6265bis §4.1.2.7) that every later request of that browser
presents instead. The cookie is ``<expiry>.<HMAC-SHA256 of the expiry under the key>``: any
worker process checks it with the configured keys alone (no shared store), it holds no key, and
removing a key from the settings ends the sessions it opened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from http.cookies import SimpleCookie

__all__ = ["SESSION_COOKIE", "Sessions"]

SESSION_COOKIE = "openvna_session"
_CONTEXT = b"openvna-session:"


class Sessions:
    """Issue and check session tokens for a set of API keys."""

    def __init__(self, keys: Sequence[bytes], minutes: int, same_site: str = "lax") -> None:
        self.keys = list(keys)
        self.seconds = minutes * 60
        self.same_site = same_site

    def issue(self, key: bytes, now: float | None = None) -> str:
        """A token valid for the configured lifetime, signed with ``key``."""
        expires = str(int((time.time() if now is None else now) + self.seconds))
        return f"{expires}.{_sign(key, expires)}"

    def valid(self, token: str, now: float | None = None) -> bool:
        """Whether ``token`` was issued with one of the keys and has not expired."""
        expires, _, signature = token.partition(".")
        if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
            return False
        return any(hmac.compare_digest(signature, _sign(key, expires)) for key in self.keys)

    def from_header(self, cookie_header: bytes | None) -> bool:
        """Whether the request's Cookie header carries a valid session."""
        if not cookie_header:
            return False
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header.decode("latin-1"))
        except Exception:  # http.cookies raises CookieError and others on junk: no session
            return False
        morsel = jar.get(SESSION_COOKIE)
        return morsel is not None and self.valid(morsel.value)

    def set_cookie(self, token: str, secure: bool) -> bytes:
        """The Set-Cookie value; SameSite=None requires Secure (RFC 6265bis §5.6.19)."""
        parts = [
            f"{SESSION_COOKIE}={token}",
            "Path=/",
            f"Max-Age={self.seconds}",
            "HttpOnly",
            f"SameSite={self.same_site.capitalize()}",
        ]
        if secure or self.same_site == "none":
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")


def _sign(key: bytes, expires: str) -> str:
    mac = hmac.new(key, _CONTEXT + expires.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
