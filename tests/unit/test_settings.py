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


def test_sections_merge_across_file_environment_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "openvna.toml"
    config.write_text('[server]\nhost = "0.0.0.0"\n[dicomweb]\nqido_max_limit = 50\n')
    environ = {"OPENVNA_DICOMWEB__QIDO_DEFAULT_LIMIT": "20"}
    settings = load_settings(config, {"server": {"port": 9300}}, environ=environ)
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9300)
    assert (settings.dicomweb.qido_default_limit, settings.dicomweb.qido_max_limit) == (20, 50)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("file", "server.port"),
        ("environment", "server.port"),
        ("flag", "server.port"),
    ],
)
def test_a_bad_value_names_its_field_wherever_it_comes_from(
    tmp_path: Path, where: str, expected: str
) -> None:
    config = tmp_path / "openvna.toml"
    config.write_text('[server]\nport = "eighty"\n' if where == "file" else "")
    environ = {"OPENVNA_SERVER__PORT": "eighty"} if where == "environment" else {}
    flags = {"server": {"port": "eighty"}} if where == "flag" else {}
    with pytest.raises(SettingsError, match=expected):
        load_settings(config, flags, environ=environ)


def test_an_unknown_key_in_the_environment_or_the_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"server\.prot"):
        load_settings(None, environ={"OPENVNA_SERVER__PROT": "1"})
    config = tmp_path / "openvna.toml"
    config.write_text("[dimse]\nprot = 104\n")  # a misspelt key of a known section
    with pytest.raises(SettingsError, match=r"dimse\.prot"):
        load_settings(config, environ={})


def test_a_list_from_the_environment_is_json_and_bad_json_is_reported() -> None:
    settings = load_settings(None, environ={"OPENVNA_AUTH__API_KEYS": '["k1", "k2"]'})
    assert settings.auth.api_keys == ["k1", "k2"]
    with pytest.raises(SettingsError, match=r"field \"auth\".*: Expecting value"):
        load_settings(None, environ={"OPENVNA_AUTH__API_KEYS": "[not json"})


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENVNA_SERVER__PORT", "9400")
    assert load_settings().server.port == 9400
