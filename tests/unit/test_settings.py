from pathlib import Path

import pytest

from openvna.settings import DuplicatePolicy, SettingsError, load_settings


def test_defaults_are_the_embedded_archive_on_loopback(tmp_path: Path) -> None:
    settings = load_settings(None, {"storage": {"data_dir": tmp_path}}, environ={})
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8080
    assert settings.index_url == f"sqlite:///{tmp_path.resolve() / 'index.sqlite'}"
    assert settings.auth.api_keys == []
    assert settings.dicomweb.duplicates is DuplicatePolicy.REPLACE


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    config = tmp_path / "openvna.toml"
    config.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[auth]\napi_keys = ["a"]\n')
    environ = {"OPENVNA_SERVER__PORT": "9100", "OPENVNA_AUTH__API_KEYS": '["b", "c"]'}
    settings = load_settings(config, {"server": {"port": 9200}}, environ=environ)
    assert settings.server.port == 9200
    assert settings.server.host == "0.0.0.0"
    assert settings.auth.api_keys == ["b", "c"]
    assert load_settings(config, environ=environ).server.port == 9100


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"server": {"port": 70000}}, "server.port"),
        ({"dicomweb": {"duplicates": "merge"}}, "dicomweb.duplicates"),
        ({"serverr": {"port": 1}}, "serverr"),
    ],
)
def test_bad_settings_name_the_field(values: dict, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        load_settings(None, values, environ={})


def test_bad_toml_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server\nport = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(config, environ={})
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.toml", environ={})
