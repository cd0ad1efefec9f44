"""The index tables (SQLAlchemy Core), one layout for SQLite and PostgreSQL.

Denormalised as measured in DESIGN.md ("Measured limits"): patient fields and counts are copied
onto the study row so a study search reads one table; names are kept upper-cased for
case-insensitive PN matching (PS3.4 C.2.2.2.1) with wildcard prefixes turned into ranges; a
(modality, study date) side table answers ModalitiesInStudy; each instance keeps its DICOM JSON
(PS3.18 Annex F) as the bytes serialised once at store time, so /metadata concatenates rows.

Text columns that are matched use the "C" collation on PostgreSQL (byte order, as SQLite's
BINARY), so a prefix is a range on a plain b-tree index. Missing text is stored as ``''`` so that
sorting agrees between the engines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

__all__ = [
    "SCHEMA_VERSION",
    "ensure_tables",
    "instances",
    "metadata",
    "patients",
    "schema_info",
    "series",
    "studies",
    "study_modalities",
    "study_reasons",
    "utc_stamp",
]

metadata = MetaData()

_BYTES: TypeEngine[str] = String().with_variant(String(collation="C"), "postgresql")


def _text(name: str) -> Column[str]:
    """A matchable text column: never NULL, byte-ordered on both engines."""
    return Column(name, _BYTES, nullable=False, server_default="")


def _json(name: str) -> Column[bytes]:
    """DICOM JSON as the exact bytes orjson wrote (bytea on PostgreSQL: binary transfer)."""
    return Column(name, LargeBinary, nullable=False)


patients = Table(
    "patients",
    metadata,
    Column("pk", Integer, primary_key=True),
    _text("patient_id"),
    _text("issuer"),
    _text("patient_name_upper"),
    Column("num_studies", Integer, nullable=False, server_default="0"),
    Column("num_series", Integer, nullable=False, server_default="0"),
    Column("num_instances", Integer, nullable=False, server_default="0"),
    _json("json"),
    UniqueConstraint("patient_id", "issuer", name="uq_patients_id_issuer"),
)

studies = Table(
    "studies",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("patient_fk", ForeignKey("patients.pk"), nullable=False),
    Column("study_uid", String(64), nullable=False, unique=True),
    _text("patient_name_upper"),
    _text("patient_id"),
    _text("patient_birth_date"),
    _text("patient_sex"),
    _text("study_date"),
    _text("study_time"),
    _text("accession_number"),
    _text("study_id"),
    _text("referring_physician_upper"),
    _text("study_description"),
    Column("num_series", Integer, nullable=False, server_default="0"),
    Column("num_instances", Integer, nullable=False, server_default="0"),
    Column("modalities", Text, nullable=False, server_default=""),
    Column("sop_classes", Text, nullable=False, server_default=""),
    # When the study last changed in the index (an instance stored or deleted, a ServiceRequest
    # naming its accession number written), UTC as ``YYYY-MM-DDTHH:MM:SS.mmmZ``: fixed width, so
    # text order is time order on both engines (the FHIR ImagingStudy's meta.lastUpdated).
    Column("updated", String(32), nullable=False, server_default=""),
    _json("json"),
    Index("ix_studies_date", "study_date", "pk"),
    Index("ix_studies_updated", "updated"),
    Index("ix_studies_patient_id", "patient_id"),
    Index("ix_studies_patient_name", "patient_name_upper"),
    Index("ix_studies_patient_fk", "patient_fk"),
    Index("ix_studies_accession", "accession_number"),
    Index("ix_studies_study_id", "study_id"),
    Index("ix_studies_referring", "referring_physician_upper"),
    Index("ix_studies_birth_date", "patient_birth_date"),
    Index("ix_studies_description", "study_description"),
)

study_modalities = Table(
    "study_modalities",
    metadata,
    Column("study_fk", ForeignKey("studies.pk", ondelete="CASCADE"), primary_key=True),
    Column("modality", _BYTES, primary_key=True),
    _text("study_date"),
    Index("ix_study_modalities_modality_date", "modality", "study_date", "study_fk"),
)

# Reason For Performed Procedure Code Sequence (0040,1012) of each study, one row an item (code
# value, coding scheme designator), from the study's stored attributes: the FHIR ImagingStudy's
# ``reason`` search reads this index instead of every study's JSON.
study_reasons = Table(
    "study_reasons",
    metadata,
    Column("study_fk", ForeignKey("studies.pk", ondelete="CASCADE"), primary_key=True),
    Column("code", _BYTES, primary_key=True),
    Column("scheme", _BYTES, primary_key=True),
    Index("ix_study_reasons_code", "code", "study_fk"),
)

series = Table(
    "series",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("study_fk", ForeignKey("studies.pk"), nullable=False),
    Column("series_uid", String(64), nullable=False, unique=True),
    _text("modality"),
    Column("series_number", Integer),
    _text("series_description"),
    _text("pps_start_date"),
    _text("pps_start_time"),
    _text("requested_sps_id"),
    _text("requested_procedure_id"),
    _text("body_part"),
    Column("num_instances", Integer, nullable=False, server_default="0"),
    _json("json"),
    Index("ix_series_study", "study_fk", "series_number"),
    Index("ix_series_body_part", "body_part"),
    Index("ix_series_modality", "modality"),
    Index("ix_series_pps_date", "pps_start_date"),
    Index("ix_series_description", "series_description"),
)

instances = Table(
    "instances",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("series_fk", ForeignKey("series.pk"), nullable=False),
    Column("study_fk", ForeignKey("studies.pk"), nullable=False),
    Column("sop_uid", String(64), nullable=False, unique=True),
    _text("sop_class_uid"),
    Column("instance_number", Integer),
    Column("rows", Integer),
    Column("columns", Integer),
    Column("bits_allocated", Integer),
    Column("number_of_frames", Integer),
    Column("transfer_syntax", Text, nullable=False),
    Column("blob_key", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    # The blob's checksum ("xxh3:<hex>") taken as it was flushed at ingest; NULL for rows
    # written before schema version 2.
    Column("checksum", String(32)),
    Column("frames", Text, nullable=False),
    Column("pixel_vr", String(2)),
    Column("pixel_offset", BigInteger),
    Column("pixel_length", BigInteger),
    Column("pixel_encapsulated", Boolean),
    _json("metadata"),
    Index("ix_instances_series", "series_fk", "instance_number"),
    # With the SOP Class: a store's recount reads a study's classes from the index alone
    # (``write._recount_study``); from the rows, it grew with the study (1.2 ms at 2,000).
    Index("ix_instances_study", "study_fk", "sop_class_uid"),
    Index("ix_instances_sop_class", "sop_class_uid"),
)

# Bump when a table changes; create_index refuses an index of another version with a clear
# message instead of failing later on a missing column.
SCHEMA_VERSION = 4


def utc_stamp() -> str:
    """Now, as the index writes change times (``studies.updated``, the FHIR write-back's
    ``last_updated``): a FHIR instant (R4 datatypes.html#instant) in UTC to the millisecond."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


schema_info = Table(
    "openvna_schema",
    metadata,
    Column("version", Integer, nullable=False),
)


def ensure_tables(engine: Engine, tables: Sequence[Table]) -> None:
    """Create those of ``tables`` (declared on ``metadata`` by another package: UPS, jobs) that
    an index made before they existed lacks. Several worker processes may try at once: the one
    that loses the race sees the others' tables and goes on."""
    for _ in range(3):
        existing = set(inspect(engine).get_table_names())
        missing = [table for table in tables if table.name not in existing]
        if not missing:
            return
        try:
            metadata.create_all(engine, tables=missing)
            return
        except DBAPIError:
            continue
