"""One typed settings object, read from a TOML file and ``OPENVNA_*`` environment variables.

Built once by the CLI and passed down; nothing here runs at import time, so tests build settings
directly (``Settings(storage={"data_dir": tmp_path})``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as PydanticSettingsError
from pydantic_settings.sources.utils import parse_env_vars

__all__ = [
    "DimseSettings",
    "DuplicatePolicy",
    "RemoteNode",
    "Settings",
    "SettingsError",
    "Validation",
    "load_settings",
]


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


class IndexSettings(_Section):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the index, e.g. postgresql+psycopg://127.0.0.1/test. "
        "Default: SQLite file index.sqlite in the data directory.",
    )


class Validation(StrEnum):
    """How an instance with flaws is treated at ingest (README, 'Validation at ingest')."""

    STRICT = "strict"
    LENIENT = "lenient"


class StorageSettings(_Section):
    data_dir: Path = Field(
        default=Path("openvna-data"), description="Directory of the blobs and index."
    )
    validation: Validation = Field(
        default=Validation.STRICT,
        description="Instances whose encoding or identifying attributes are wrong: strict "
        "refuses them (0xC000 / 0xA900), lenient stores them with warning 0xB007 and logs why.",
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


class RemoteNode(_Section):
    """A remote DICOM node (PS3.7 §D.3.3.2 AE titles are up to 16 characters, no backslash)."""

    aet: str = Field(
        min_length=1, max_length=16, pattern=r"^[^\\]*\S[^\\]*$", description="Its AE title."
    )
    host: str = Field(min_length=1, description="Its address (name or IP).")
    port: int = Field(ge=1, le=65535, description="Its DIMSE port.")
    store: bool = Field(default=True, description="It may send instances here (C-STORE).")
    query: bool = Field(default=True, description="It may query here (C-FIND).")
    retrieve: bool = Field(
        default=True, description="It may retrieve from here (C-MOVE, C-GET, commitment)."
    )


class DimseSettings(_Section):
    port: int = Field(default=11112, ge=0, le=65535, description="DIMSE port (0 picks a free one).")
    ae_title: str = Field(
        default="OPENVNA", min_length=1, max_length=16, description="This archive's AE title."
    )
    processes: int = Field(
        default=2,
        ge=0,
        le=64,
        description="DIMSE processes sharing the port (0: no DIMSE listener); one pynetdicom "
        "process uses at most one core.",
    )
    allow_unknown: bool = Field(
        default=True,
        description="Whether AE titles that are not in remotes may associate (with every "
        "right); false refuses them at association.",
    )
    remotes: list[RemoteNode] = Field(
        default_factory=list,
        description="Known remote nodes: [{aet, host, port, store, query, retrieve}]; "
        "C-MOVE sends only to these.",
    )
    timeout: float = Field(
        default=30.0, gt=0, description="Seconds a DIMSE peer may stay silent (ACSE, DIMSE)."
    )


class ViewerSettings(_Section):
    dir: Path | None = Field(
        default=None,
        description="Where 'openvna viewer install' puts OHIF and /viewer serves it from. "
        "Default: $XDG_DATA_HOME/openvna/viewer (~/.local/share/openvna/viewer).",
    )
    frame_ancestors: list[str] = Field(
        default_factory=lambda: ["'self'"],
        description="CSP frame-ancestors sources that may embed /IHEInvokeImageDisplay, "
        '/viewer and /ui in an iframe, e.g. ["\'self\'", "https://ehr.example.org"].',
    )
    session_minutes: int = Field(
        default=480, ge=1, description="Lifetime of the session cookie set at a keyed entry."
    )
    cookie_samesite: Literal["lax", "strict", "none"] = Field(
        default="lax",
        description="SameSite of the session cookie; 'none' (embedding in another site's "
        "iframe) needs HTTPS and marks it Secure.",
    )


class Settings(BaseSettings):
    """All settings. Environment: OPENVNA_SERVER__PORT=9000, OPENVNA_AUTH__API_KEYS='["k"]'."""

    model_config = SettingsConfigDict(
        env_prefix="OPENVNA_", env_nested_delimiter="__", extra="forbid"
    )

    server: ServerSettings = Field(default_factory=ServerSettings, description="HTTP server.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="The SQL index.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Blob store.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="API keys.")
    dicomweb: DicomwebSettings = Field(
        default_factory=DicomwebSettings, description="DICOMweb behaviour."
    )
    viewer: ViewerSettings = Field(
        default_factory=ViewerSettings, description="The OHIF viewer, IID and the explorer."
    )
    dimse: DimseSettings = Field(
        default_factory=DimseSettings, description="DIMSE (classic DICOM networking)."
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
        # Built directly (tests, a worker's settings from its supervisor), settings are what
        # they are given; ``load_settings`` adds the environment and the TOML file.
        return (init_settings,)

    @property
    def index_url(self) -> str:
        """The index URL, defaulting to a SQLite file in the data directory."""
        if self.index.url:
            return self.index.url
        return f"sqlite:///{(self.storage.data_dir / 'index.sqlite').resolve()}"


class _Environment(EnvSettingsSource):
    """``OPENVNA_*`` variables, from a given mapping (tests, the CLI) instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def load_settings(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the TOML file (if any), the environment and explicit overrides (command-line flags),
    in rising priority, nested sections merged, with pydantic-settings' own sources.

    Raises SettingsError naming each bad field, so the CLI can print it and exit non-zero.
    """
    if path is not None:
        try:
            path.open("rb").close()  # the TOML source skips a missing file: say so instead
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from exc
    given = dict(overrides or {})
    try:
        sources = (
            InitSettingsSource(Settings, given),
            _Environment(Settings, os.environ if environ is None else environ),
            TomlConfigSettingsSource(Settings, toml_file=path),
        )
        # BaseSettings takes ``_build_sources``; mypy sees only the fields' signature.
        return Settings(_build_sources=(sources, given))  # type: ignore[call-arg]
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from exc
    except PydanticSettingsError as exc:  # an environment value that is not valid JSON
        raise SettingsError(f"invalid settings: {exc}: {exc.__cause__}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
