"""`openvna serve` refuses bad settings clearly, warns loudly when open to the network, and
serves from a frozen heap."""

from __future__ import annotations

import gc
import logging

import pytest
from typer.testing import CliRunner

from openvna.cli.main import app
from openvna.cli.serve import _warn_if_open
from openvna.server import http
from openvna.settings import load_settings


def test_bad_setting_exits_2_naming_the_field(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENVNA_DICOMWEB__DUPLICATES", "merge")
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "dicomweb.duplicates" in result.output


def test_missing_config_file_exits_2(tmp_path) -> None:
    result = CliRunner().invoke(app, ["serve", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "cannot read settings file" in result.output


@pytest.mark.parametrize(
    ("host", "keys", "loud"),
    [("0.0.0.0", [], True), ("127.0.0.1", [], False), ("0.0.0.0", ["k"], False)],
)
def test_open_server_on_the_network_is_announced(caplog, host, keys, loud) -> None:
    settings = load_settings(None, {"server": {"host": host}, "auth": {"api_keys": keys}}, {})
    with caplog.at_level(logging.WARNING, logger="openvna"):
        _warn_if_open(settings)
    assert ("NO API KEYS CONFIGURED" in caplog.text) is loud


def test_a_settled_app_leaves_what_was_built_out_of_collections() -> None:
    built = object()
    try:
        assert http.settled(built) is built  # type: ignore[arg-type]
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
