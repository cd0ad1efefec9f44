"""QIDO-RS through real HTTP with dicomweb-client (and httpx for raw headers)."""

from __future__ import annotations

import httpx
import pytest
from dicomweb_client import DICOMwebClient
from requests import HTTPError

from openvna.archive import Origin
from tests.factories import make_instance

pytestmark = pytest.mark.integration


@pytest.fixture
def populated(live_server):
    """Three patients, four studies, mixed modalities."""
    archive = live_server.archive
    studies = {}
    specs = [
        ("THOMPSON^ALEX", "12345", "20130409", ["CT", "CT"], "ACC-1", "Abdomen CT"),
        ("SIIM^Joe", "siimjoe", "20180101", ["CR"], "ACC-2", "Chest"),
        ("SIIM^Andy", "TCGA-50-5072", "20190620", ["CT", "PT"], "ACC-3", "PET/CT"),
        ("SIIM^Andy", "TCGA-50-5072", "20200115", ["PT"], "ACC-4", "Total body"),
    ]
    for name, pid, date, modalities, accession, description in specs:
        ds = None
        for number, modality in enumerate(modalities, start=1):
            ds = make_instance(
                study_uid=ds.StudyInstanceUID if ds else None,
                patient_name=name,
                patient_id=pid,
                study_date=date,
                modality=modality,
                AccessionNumber=accession,
                StudyDescription=description,
                SeriesNumber=number,
            )
            assert archive.store_dataset(ds, Origin.local()).ok
        studies[accession] = ds.StudyInstanceUID
    return live_server, studies


def _client(server) -> DICOMwebClient:
    return DICOMwebClient(url=server.dicomweb)


def _values(results, tag):
    return sorted(r[tag]["Value"][0] for r in results if "Value" in r.get(tag, {}))


def test_search_studies_by_name_id_and_wildcard(populated) -> None:
    server, studies = populated
    client = _client(server)
    assert len(client.search_for_studies()) == 4
    joe = client.search_for_studies(search_filters={"PatientName": "SIIM^Joe"})
    assert _values(joe, "00080050") == ["ACC-2"]
    siim = client.search_for_studies(search_filters={"PatientName": "SIIM*"})
    assert _values(siim, "00080050") == ["ACC-2", "ACC-3", "ACC-4"]
    lower = client.search_for_studies(search_filters={"PatientName": "siim^joe"})
    assert _values(lower, "00080050") == ["ACC-2"], "PN matching is case-insensitive"
    andy = client.search_for_studies(search_filters={"PatientID": "TCGA-50-5072"})
    assert _values(andy, "00080050") == ["ACC-3", "ACC-4"]
    family = client.search_for_studies(search_filters={"00100010": "THOMPSON"})
    assert _values(family, "0020000D") == [studies["ACC-1"]]


def test_study_results_carry_required_and_computed_attributes(populated) -> None:
    server, studies = populated
    [study] = _client(server).search_for_studies(search_filters={"AccessionNumber": "ACC-3"})
    assert study["00080061"] == {"vr": "CS", "Value": ["CT", "PT"]}
    assert study["00201206"]["Value"] == [2]
    assert study["00201208"]["Value"] == [2]
    assert study["00080056"]["Value"] == ["ONLINE"]
    retrieve = study["00081190"]["Value"][0]
    assert retrieve == f"{server.dicomweb}/studies/{studies['ACC-3']}"
    for tag in (
        "00080020",
        "00080030",
        "00080090",
        "00100010",
        "00100020",
        "00100030",
        "00100040",
        "0020000D",
        "00200010",
    ):
        assert tag in study, tag
    assert study["00100010"]["Value"] == [{"Alphabetic": "SIIM^Andy"}]


def test_date_range_modality_and_uid_list(populated) -> None:
    server, studies = populated
    client = _client(server)
    in_range = client.search_for_studies(search_filters={"StudyDate": "20180101-20191231"})
    assert _values(in_range, "00080050") == ["ACC-2", "ACC-3"]
    open_end = client.search_for_studies(search_filters={"StudyDate": "20190101-"})
    assert _values(open_end, "00080050") == ["ACC-3", "ACC-4"]
    pet = client.search_for_studies(search_filters={"ModalitiesInStudy": "PT"})
    assert _values(pet, "00080050") == ["ACC-3", "ACC-4"]
    uids = f"{studies['ACC-1']},{studies['ACC-4']}"
    listed = client.search_for_studies(search_filters={"StudyInstanceUID": uids})
    assert _values(listed, "00080050") == ["ACC-1", "ACC-4"]


def test_series_and_instances_at_every_level(populated) -> None:
    server, studies = populated
    client = _client(server)
    study = studies["ACC-3"]
    series = client.search_for_series(study_instance_uid=study)
    assert sorted(s["00080060"]["Value"][0] for s in series) == ["CT", "PT"]
    assert all(s["00201209"]["Value"] == [1] for s in series)
    all_pt = client.search_for_series(search_filters={"Modality": "PT"})
    assert len(all_pt) == 2
    assert all("0020000D" in s and "00100020" in s for s in all_pt), "study attributes too"
    instances = client.search_for_instances(study_instance_uid=study)
    assert len(instances) == 2
    series_uid = series[0]["0020000E"]["Value"][0]
    assert series[0]["00081190"]["Value"] == [
        f"{server.dicomweb}/studies/{study}/series/{series_uid}"
    ]
    assert list(series[0]) == sorted(series[0])  # PS3.18 F.2.1: attributes in tag order
    one = client.search_for_instances(study_instance_uid=study, series_instance_uid=series_uid)
    assert len(one) == 1
    assert one[0]["00081190"]["Value"][0].endswith(
        f"/studies/{study}/series/{series_uid}/instances/{one[0]['00080018']['Value'][0]}"
    )
    assert len(client.search_for_instances()) == 6


def test_limit_offset_and_truncation_warning(populated) -> None:
    server, _ = populated
    url = server.dicomweb + "/studies"
    first = httpx.get(url, params={"limit": 3})
    assert len(first.json()) == 3
    assert "1 additional results" in first.headers["warning"]
    rest = httpx.get(url, params={"limit": 3, "offset": 3})
    assert len(rest.json()) == 1
    assert "warning" not in rest.headers
    seen = {s["0020000D"]["Value"][0] for s in first.json() + rest.json()}
    assert len(seen) == 4, "pages are stable and disjoint"


def test_includefield_and_xml(populated) -> None:
    server, _ = populated
    url = server.dicomweb + "/studies"
    plain = httpx.get(url, params={"AccessionNumber": "ACC-1"}).json()[0]
    assert "00081030" not in plain
    included = httpx.get(url, params={"AccessionNumber": "ACC-1", "includefield": "00081030"})
    assert included.json()[0]["00081030"]["Value"] == ["Abdomen CT"]
    everything = httpx.get(url, params={"AccessionNumber": "ACC-1", "includefield": "all"})
    assert everything.json()[0]["00081030"]["Value"] == ["Abdomen CT"]
    xml = httpx.get(
        url,
        params={"PatientName": "SIIM*"},
        headers={"Accept": 'multipart/related; type="application/dicom+xml"'},
    )
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("multipart/related")
    assert xml.content.count(b"<NativeDicomModel") == 3


def test_no_match_is_an_empty_array(populated) -> None:
    server, _ = populated
    assert _client(server).search_for_studies(search_filters={"PatientID": "nobody"}) == []


@pytest.mark.parametrize(
    ("params", "culprit"),
    [
        ({"PatientNme": "X"}, "PatientNme"),
        ({"StudyDate": "2020-13-45"}, "StudyDate"),
        ({"limit": "-1"}, "limit"),
        ({"offset": "9223372036854775808"}, "offset"),
        ({"limit": str(10**30)}, "limit"),
        ({"fuzzymatching": "maybe"}, "fuzzymatching"),
        ({"StudyInstanceUID": "1.2.abc"}, "StudyInstanceUID"),
    ],
)
def test_bad_queries_are_400_naming_the_attribute(live_server, params, culprit) -> None:
    response = httpx.get(live_server.dicomweb + "/studies", params=params)
    assert response.status_code == 400
    assert culprit in response.json()["error"]


def test_unacceptable_accept_is_406(live_server) -> None:
    response = httpx.get(live_server.dicomweb + "/studies", headers={"Accept": "image/png"})
    assert response.status_code == 406


def test_client_error_surfaces_in_dicomweb_client(live_server) -> None:
    with pytest.raises(HTTPError):
        _client(live_server).search_for_studies(search_filters={"Bogus": "1"})


def test_trailing_slash_as_in_the_siim_exercise(populated) -> None:
    server, _ = populated
    response = httpx.get(server.dicomweb + "/studies/", params={"PatientName": "SIIM^Joe"})
    assert response.status_code == 200
    assert _values(response.json(), "00080050") == ["ACC-2"]


def test_study_date_and_time_ranges_are_one_date_time_range(live_server) -> None:
    """PS3.4 C.2.2.2.5.1 through QIDO-RS: 2020-03-14 12:00 to 2020-03-16 13:00."""
    moments = {"inside": ("20200315", "080000"), "before": ("20200314", "110000")}
    uids = {}
    for name, (date, time) in moments.items():
        ds = make_instance(study_date=date, StudyTime=time, AccessionNumber=name)
        assert live_server.archive.store_dataset(ds, Origin.local()).ok
        uids[name] = ds.StudyInstanceUID
    found = _client(live_server).search_for_studies(
        search_filters={"StudyDate": "20200314-20200316", "StudyTime": "120000-130000"}
    )
    assert _values(found, "0020000D") == [uids["inside"]]
