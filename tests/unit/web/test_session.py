"""Session tokens: signed expiry under an API key, checked by any process holding the keys."""

from __future__ import annotations

from openvna.web.session import SESSION_COOKIE, Sessions

KEYS = [b"first-key-0123", b"second-key-4567"]


def test_a_token_is_valid_until_it_expires() -> None:
    sessions = Sessions(KEYS, minutes=10)
    token = sessions.issue(KEYS[1], now=1_000_000)
    assert sessions.valid(token, now=1_000_000)
    assert sessions.valid(token, now=1_000_000 + 600)
    assert not sessions.valid(token, now=1_000_000 + 601)
    assert KEYS[1].decode() not in token


def test_forged_or_foreign_tokens_are_refused() -> None:
    sessions = Sessions(KEYS, minutes=10)
    token = sessions.issue(KEYS[0], now=1_000_000)
    expires, _, signature = token.partition(".")
    later = str(int(expires) + 3600)
    assert not sessions.valid(f"{later}.{signature}", now=1_000_000)  # expiry moved
    assert not sessions.valid(f"{expires}.{signature[:-1]}A", now=1_000_000)
    assert not sessions.valid("", now=0)
    assert not sessions.valid("abc.def", now=0)
    other = Sessions([b"another-key-89"], minutes=10).issue(b"another-key-89", now=1_000_000)
    assert not sessions.valid(other, now=1_000_000)
    # a key removed from the settings ends the sessions it opened
    assert not Sessions([KEYS[1]], minutes=10).valid(token, now=1_000_000)


def test_cookie_header_and_attributes() -> None:
    sessions = Sessions(KEYS, minutes=5)
    token = sessions.issue(KEYS[0])
    assert sessions.from_header(f"a=b; {SESSION_COOKIE}={token}; c=d".encode())
    assert not sessions.from_header(None)
    assert not sessions.from_header(b"\x00garbage;;==")
    assert not sessions.from_header(f"{SESSION_COOKIE}=1.x".encode())
    cookie = sessions.set_cookie(token, secure=False).decode()
    assert cookie == f"{SESSION_COOKIE}={token}; Path=/; Max-Age=300; HttpOnly; SameSite=Lax"
    assert sessions.set_cookie(token, secure=True).decode().endswith("; Secure")
    cross_site = Sessions(KEYS, minutes=5, same_site="none").set_cookie(token, secure=False)
    assert cross_site.decode().endswith("SameSite=None; Secure")
