"""Remote nodes (issue 9): from the settings (the environment form of the issue), edited through
``/api/remotes`` behind the API keys, and seen by the DIMSE SCP at its next association."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydicom import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as StudyRootMove
from pynetdicom.sop_class import Verification

from openvna.archive import Origin
from openvna.archive.remotes import RemoteRegistry
from openvna.settings import load_settings
from tests.factories import make_instance
from tests.integration.dimse.conftest import AE_TITLE, DimseNode
from tests.tools import needs_dcmtk

pytestmark = pytest.mark.integration

KEY = {"apikey": "secret"}


def test_the_issue_environment_form(tmp_path: Path) -> None:
    environ = {"OPENVNA_DIMSE__REMOTES": '[{"aet": "ACCMOVE", "host": "127.0.0.1", "port": 24243}]'}
    settings = load_settings(None, {"storage": {"data_dir": tmp_path}}, environ=environ)
    registry = RemoteRegistry(settings.dimse.remotes, tmp_path, settings.dimse.allow_unknown)
    node = registry.get("ACCMOVE")
    assert node is not None
    assert (node.host, node.port, node.store, node.query, node.retrieve) == (
        "127.0.0.1",
        24243,
        True,
        True,
        True,
    )


def test_api_lists_adds_replaces_and_removes(dimse_factory) -> None:
    node: DimseNode = dimse_factory(
        auth={"api_keys": ["secret"]},
        dimse={"remotes": [{"aet": "PACS", "host": "10.0.0.1", "port": 104}]},
    )
    api = node.web.url + "/api/remotes"
    assert httpx.get(api).status_code == 401
    listed = httpx.get(api, headers=KEY).json()
    assert listed == [
        {
            "aet": "PACS",
            "host": "10.0.0.1",
            "port": 104,
            "store": True,
            "query": True,
            "retrieve": True,
            "configured": True,
        }
    ]
    created = httpx.put(
        f"{api}/VIEWER", json={"host": "127.0.0.1", "port": 4242, "store": False}, headers=KEY
    )
    assert created.status_code == 201, created.text
    assert created.json()["store"] is False
    replaced = httpx.put(f"{api}/VIEWER", json={"host": "127.0.0.1", "port": 4243}, headers=KEY)
    assert replaced.status_code == 200
    posted = httpx.post(api, json={"aet": "MODALITY", "host": "ct1", "port": 11112}, headers=KEY)
    assert posted.status_code == 201
    assert [n["aet"] for n in httpx.get(api, headers=KEY).json()] == ["MODALITY", "PACS", "VIEWER"]
    assert httpx.get(f"{api}/VIEWER", headers=KEY).json()["port"] == 4243
    for bad in (
        {"host": "x", "port": 70000},
        {"host": "", "port": 104},
        {"aet": "OTHER", "host": "x", "port": 104},
    ):
        response = httpx.put(f"{api}/VIEWER", json=bad, headers=KEY)
        assert response.status_code == 400, (bad, response.text)
    assert (
        httpx.put(f"{api}/{'A' * 17}", json={"host": "x", "port": 1}, headers=KEY).status_code
        == 400
    )
    assert httpx.post(api, content=b"[", headers=KEY).status_code == 400
    assert httpx.delete(f"{api}/VIEWER", headers=KEY).status_code == 204
    assert httpx.delete(f"{api}/VIEWER", headers=KEY).status_code == 404
    assert httpx.get(f"{api}/VIEWER", headers=KEY).status_code == 404
    assert httpx.delete(f"{api}/PACS", headers=KEY).status_code == 400  # lives in the settings


def test_a_node_added_through_the_api_may_associate_at_once(dimse_factory) -> None:
    node: DimseNode = dimse_factory(dimse={"allow_unknown": False})
    ae = AE("NEWCOMER")
    ae.add_requested_context(Verification)
    assert ae.associate(node.host, node.port, ae_title=AE_TITLE).is_rejected
    added = httpx.put(
        f"{node.web.url}/api/remotes/NEWCOMER", json={"host": "127.0.0.1", "port": 104}
    )
    assert added.status_code == 201
    assoc = ae.associate(node.host, node.port, ae_title=AE_TITLE)
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()


@needs_dcmtk
def test_c_move_to_a_node_added_through_the_api(dimse: DimseNode, storescp) -> None:
    title, port, received = storescp
    ds = make_instance()
    assert dimse.archive.store_dataset(ds, Origin.local()).ok
    added = httpx.put(
        f"{dimse.web.url}/api/remotes/{title}", json={"host": "127.0.0.1", "port": port}
    )
    assert added.status_code == 201
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ds.StudyInstanceUID
    ae = AE("MOVER")
    ae.add_requested_context(StudyRootMove)
    assoc = ae.associate(dimse.host, dimse.port, ae_title=AE_TITLE)
    statuses = [status.Status for status, _ in assoc.send_c_move(identifier, title, StudyRootMove)]
    assoc.release()
    assert statuses[-1] == 0x0000
    assert len(list(received.iterdir())) == 1
