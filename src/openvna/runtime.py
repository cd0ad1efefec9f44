"""The composition root: builds the archive from settings and sets library globals once."""

from __future__ import annotations

import pydicom.config

from openvna.archive import Archive
from openvna.index import create_index
from openvna.render import PixelTranscoder
from openvna.settings import Settings
from openvna.storage import FilesystemBlobStore

__all__ = ["build_archive", "configure_libraries"]


def configure_libraries() -> None:
    """An archive stores what modalities send, odd values included: pydicom must neither warn
    nor refuse while reading or writing them. pydicom's config is process-global (not
    thread-safe to toggle), so it is set here once, never per request."""
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE


def build_archive(settings: Settings) -> Archive:
    configure_libraries()
    data_dir = settings.storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    index = create_index(settings.index_url)
    archive = Archive(
        index,
        FilesystemBlobStore(data_dir),
        settings.dicomweb.duplicates,
        transcoder=PixelTranscoder(),  # WADO-RS and C-GET offer what it makes
        validation=settings.storage.validation,
    )
    archive.recover()  # what a process that died left: nothing, after a clean stop
    return archive
