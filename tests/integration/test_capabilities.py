import httpx
import pytest
from defusedxml import ElementTree

pytestmark = pytest.mark.integration

WADL = "{http://wadl.dev.java.net/2009/02}"


def test_options_on_the_root_answers_wadl(live_server) -> None:
    response = httpx.request("OPTIONS", live_server.dicomweb + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.sun.wadl+xml")
    root = ElementTree.fromstring(response.content)
    resources = root.find(f"{WADL}resources")
    assert resources.get("base") == live_server.dicomweb
    paths = {r.get("path") for r in root.iter(f"{WADL}resource")}
    assert {"studies", "{study}", "metadata", "frames/{framelist}", "series"} <= paths
    methods = {m.get("id") for m in root.iter(f"{WADL}method")}
    assert {"SearchFor", "StoreInstances", "RetrieveStudy", "RetrieveFrames"} <= methods


def test_capabilities_in_json(live_server) -> None:
    response = httpx.get(
        live_server.dicomweb + "/capabilities", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["base"] == live_server.dicomweb
    paths = [r["path"] for r in body["resources"]]
    assert paths == ["studies", "series", "instances", "workitems"]
    workitems = body["resources"][3]
    assert {m["id"] for m in workitems["methods"]} == {"SearchForUPS", "CreateUPS"}
    workitem = workitems["resources"][0]
    children = [r["path"] for r in workitem["resources"]]
    assert children == ["state", "cancelrequest", "subscribers/{aetitle}"]
