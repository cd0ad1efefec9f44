"""API keys: the SIIM 'apikey' header or a Bearer token; none configured means open."""

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_open_server_needs_no_key(live_server) -> None:
    response = httpx.get(live_server.dicomweb + "/studies")
    assert response.status_code == 200
    assert response.json() == []


def test_configured_keys_are_required(live_server_factory) -> None:
    server = live_server_factory(auth={"api_keys": ["secret-one", "secret-two"]})
    url = server.dicomweb + "/studies"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert "API key is required" in missing.json()["error"]
    assert "WWW-Authenticate" in missing.headers
    wrong = httpx.get(url, headers={"apikey": "not-our-key-123"})
    assert wrong.status_code == 401
    assert "API key is wrong" in wrong.json()["error"]
    assert "not-our-key-123" not in wrong.text  # the key is not echoed
    assert "is wrong" in httpx.get(url, headers={"Authorization": "Bearer x"}).json()["error"]
    assert httpx.get(url, headers={"apikey": "secret-two"}).status_code == 200
    bearer = {"Authorization": "Bearer secret-one"}
    assert httpx.get(url, headers=bearer).status_code == 200


def test_cors_preflight_passes_without_key(live_server_factory) -> None:
    server = live_server_factory(auth={"api_keys": ["k"]})
    response = httpx.options(
        server.dicomweb + "/studies",
        headers={"Origin": "http://viewer.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "http://viewer.example")
