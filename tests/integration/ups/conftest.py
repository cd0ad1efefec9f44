"""The DIMSE door's fixtures (an archive with its SCP), for the worklist and UPS DIMSE tests."""

from tests.integration.dimse.conftest import dimse, dimse_factory

__all__ = ["dimse", "dimse_factory"]
