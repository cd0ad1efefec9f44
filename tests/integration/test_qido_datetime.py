"""QIDO-RS combined date-time matching through real HTTP, over stored instances, on SQLite and
PostgreSQL: a date range and the time range of the same form are one range (PS3.4 C.2.2.2.5.4;
QIDO-RS always combines them, PS3.18 §8.3.4.1)."""

from __future__ import annotations

import httpx
import pytest

from openvna.archive import Origin
from tests.factories import make_instance

pytestmark = pytest.mark.integration

# AccessionNumber -> (StudyDate, StudyTime); an empty StudyTime is a time not known (Type 2).
STUDIES = {
    "INSIDE": ("20200315", "080000"),  # 08:00 on the middle day: outside 12:00-13:00 alone
    "EARLY": ("20200314", "110000"),  # the first day, before 12:00
    "START": ("20200314", "120000"),
    "END": ("20200316", "130000"),
    "LATE": ("20200316", "130001"),  # one second after the end
    "LATER": ("20200317", "090000"),
    "NO-TIME": ("20200315", ""),  # a day inside the range, time unknown
}


@pytest.fixture
def server(live_server):
    for accession, (date, time) in STUDIES.items():
        ds = make_instance(study_date=date, StudyTime=time, AccessionNumber=accession)
        assert live_server.archive.store_dataset(ds, Origin.local()).ok
    return live_server


def _search(server, resource: str, params: dict[str, str], key: str) -> list[str]:
    response = httpx.get(f"{server.dicomweb}/{resource}", params=params)
    assert response.status_code == 200, response.text
    assert "warning" not in response.headers, "every key was matched"
    return sorted(r[key]["Value"][0] for r in response.json())


def _accessions(server, **params: str) -> list[str]:
    return _search(server, "studies", params, "00080050")


def test_the_issue_example_is_one_range_from_the_first_day_to_the_last(server) -> None:
    found = _accessions(server, StudyDate="20200314-20200316", StudyTime="120000-130000")
    assert found == ["END", "INSIDE", "NO-TIME", "START"]


def test_ranges_open_at_one_end(server) -> None:
    assert _accessions(server, StudyDate="20200316-", StudyTime="1300-") == [
        "END",
        "LATE",
        "LATER",
    ]
    assert _accessions(server, StudyDate="-20200314", StudyTime="-1100") == ["EARLY"]


def test_a_single_date_keeps_the_time_range_to_that_day(server) -> None:
    """Single Value Matching is not Range Matching: 12:00 to 13:00 on the 15th holds nobody,
    08:00 to 09:00 on it holds the study at 08:00."""
    assert _accessions(server, StudyDate="20200315", StudyTime="120000-130000") == []
    assert _accessions(server, StudyDate="20200315", StudyTime="0800-0900") == ["INSIDE"]


def test_ranges_of_different_forms_match_apart(server) -> None:
    found = _accessions(server, StudyDate="20200314-20200316", StudyTime="130000-")
    assert found == ["END", "LATE"]


def test_the_performed_procedure_step_start_is_one_range_at_the_series_level(live_server) -> None:
    starts = {"1": ("20200314", "115959"), "2": ("20200315", "000000"), "3": ("20200316", "1300")}
    study = None
    for number, (date, time) in starts.items():
        ds = make_instance(
            study_uid=study,
            SeriesNumber=int(number),
            PerformedProcedureStepStartDate=date,
            PerformedProcedureStepStartTime=time,
        )
        assert live_server.archive.store_dataset(ds, Origin.local()).ok
        study = ds.StudyInstanceUID
    params = {
        "PerformedProcedureStepStartDate": "20200314-20200316",
        "PerformedProcedureStepStartTime": "120000-130000",
    }
    assert _search(live_server, "series", params, "00200011") == [2, 3]
    assert _search(live_server, f"studies/{study}/series", params, "00200011") == [2, 3]
