"""One typed settings object, read from a TOML file and ``OPENVNA_*`` environment variables.

Built once by the CLI and passed down; nothing here runs at import time, so tests build settings
directly (``Settings(storage={"data_dir": tmp_path})``).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["DuplicatePolicy", "Settings", "SettingsError", "load_settings"]


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the field path and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=8080, ge=0, le=65535, description="HTTP port (0 picks a free one).")
    public_url: str | None = Field(
        default=None,
        description="Base URL clients reach this server at (e.g. https://pacs.example.org); "
        "used in RetrieveURL and BulkDataURI. Default: taken from each request.",
    )
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")
    workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="HTTP worker processes sharing the port and the index; more use more "
        "cores for concurrent clients (each holds about 100 MB; 1 runs the archive in the "
        "server's own process).",
    )


class DimseSettings(_Section):
    port: int = Field(default=11112, ge=0, le=65535, description="DIMSE listener port.")
    ae_title: str = Field(default="OPENVNA", max_length=16, description="This archive's AE title.")


class IndexSettings(_Section):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the index, e.g. postgresql+psycopg://127.0.0.1/test. "
        "Default: SQLite file index.sqlite in the data directory.",
    )


class StorageSettings(_Section):
    data_dir: Path = Field(
        default=Path("openvna-data"), description="Directory of the blobs and index."
    )


class AuthSettings(_Section):
    api_keys: list[str] = Field(
        default_factory=list,
        description="Accepted API keys (header 'apikey' or 'Authorization: Bearer'). "
        "Empty: the server is open.",
    )


class DuplicatePolicy(StrEnum):
    """What storing an existing SOP Instance UID again does (see README, 'Re-storing')."""

    REPLACE = "replace"
    KEEP = "keep"
    REJECT = "reject"


class DicomwebSettings(_Section):
    duplicates: DuplicatePolicy = Field(
        default=DuplicatePolicy.REPLACE,
        description="Re-storing a stored SOP Instance UID: replace (the new object wins), "
        "keep (the stored object stays; success with a Warning header), or reject "
        "(failure 0x0111 Duplicate SOP Instance).",
    )
    qido_default_limit: int = Field(
        default=1000, ge=1, description="QIDO results when no limit is given."
    )
    qido_max_limit: int = Field(default=10000, ge=1, description="Largest QIDO limit honoured.")
    max_part_bytes: int = Field(
        default=4 * 1024**3, ge=1, description="Largest single STOW-RS part, in bytes (413 beyond)."
    )


class Settings(BaseSettings):
    """All settings. Environment: OPENVNA_SERVER__PORT=9000, OPENVNA_AUTH__API_KEYS='["k"]'."""

    model_config = SettingsConfigDict(
        env_prefix="OPENVNA_", env_nested_delimiter="__", extra="forbid"
    )

    server: ServerSettings = Field(default_factory=ServerSettings, description="HTTP server.")
    dimse: DimseSettings = Field(default_factory=DimseSettings, description="DIMSE listener.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="The SQL index.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Blob store.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="API keys.")
    dicomweb: DicomwebSettings = Field(
        default_factory=DicomwebSettings, description="DICOMweb behaviour."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges file < environment < explicit values itself, so the order is
        # visible in one place; the model only validates what it is given.
        return (init_settings,)

    @property
    def index_url(self) -> str:
        """The index URL, defaulting to a SQLite file in the data directory."""
        if self.index.url:
            return self.index.url
        return f"sqlite:///{(self.storage.data_dir / 'index.sqlite').resolve()}"


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the TOML file (if any), the environment and explicit overrides, in rising priority.

    Raises SettingsError naming each bad field, so the CLI can print it and exit non-zero.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from exc
    env = _environment_values(os.environ if environ is None else environ)
    values = _merge(_merge(values, env), overrides or {})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc


def _environment_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read OPENVNA_SECTION__FIELD variables; JSON values ([...] or {...}) are decoded."""
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("OPENVNA_"):
            continue
        path = name.removeprefix("OPENVNA_").lower().split("__")
        try:
            value: Any = json.loads(raw) if raw[:1] in "[{" else raw
        except json.JSONDecodeError:
            value = raw
        node = values
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return values
