"""Every module of openvna imports only what its tier allows (DESIGN.md 'Shape', issue 8).

The rules and the checker are in ``layers.py``; the real test runs the checker on the installed
package, and the tests after it plant illegal imports in fake packages to show that each import
form, each rule and each unplaced package is caught, and that legal imports are not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import openvna
from tests.contract.layers import (
    ALLOWED,
    NO_PROTOCOLS,
    PROTOCOL_LIBRARIES,
    Violation,
    violations,
)


def test_every_module_imports_only_what_its_tier_allows() -> None:
    found = violations(Path(openvna.__file__).parent)
    assert not found, "\n".join(map(str, found))


# -- the test of the test -----------------------------------------------------------------------


def _fake_tree(tmp_path: Path) -> Path:
    """An ``openvna`` directory with every placed package (empty), and the modules named below."""
    root = tmp_path / "openvna"
    for package in ALLOWED:
        if package.startswith("__"):
            (root / f"{package}.py").parent.mkdir(parents=True, exist_ok=True)
            (root / f"{package}.py").write_text("")
        else:
            (root / package).mkdir(parents=True)
            (root / package / "__init__.py").write_text("")
    for module in ("web/dicomweb/__init__.py", "index/core.py", "storage/base.py", "web/urls.py"):
        (root / module).parent.mkdir(parents=True, exist_ok=True)
        (root / module).write_text("")
    return root


def _plant(root: Path, module: str, source: str) -> list[Violation]:
    (root / module).write_text(source)
    return violations(root)


# form -> (module planted in, its source, the line of the illegal import, the package it imports)
PLANTED: dict[str, tuple[str, str, int, str]] = {
    "import": ("web/bad.py", "import openvna.index\n", 1, "index"),
    "import-as": ("web/bad.py", "import os\nimport openvna.index.core as core\n", 2, "index"),
    "import-several": ("web/bad.py", "import os, openvna.storage\n", 1, "storage"),
    "from-module": ("web/bad.py", "from openvna.storage.base import BlobStore\n", 1, "storage"),
    "from-package": ("web/bad.py", "from openvna import index\n", 1, "index"),
    "from-package-among-others": (
        "web/bad.py",
        "from openvna import __version__, archive, storage\n",
        1,
        "storage",
    ),
    "relative-module": ("web/bad.py", "from ..index import core\n", 1, "index"),
    "relative-submodule": ("web/bad.py", "from ..storage.base import BlobStore\n", 1, "storage"),
    "relative-package": ("web/bad.py", "from .. import storage\n", 1, "storage"),
    "relative-in-init": ("web/__init__.py", "from .. import index\n", 1, "index"),
    "relative-nested": ("web/dicomweb/bad.py", "from ...index.core import Index\n", 1, "index"),
    "in-function": (
        "web/bad.py",
        "def f():\n    from openvna.index import Index\n    return Index\n",
        2,
        "index",
    ),
    "in-method": (
        "web/bad.py",
        "class C:\n    def m(self):\n        from .. import storage\n        return storage\n",
        3,
        "storage",
    ),
    "type-checking": (
        "web/bad.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from openvna.index import Index\n",
        3,
        "index",
    ),
    "in-try": (
        "web/bad.py",
        "try:\n    import openvna.storage\nexcept ImportError:\n    pass\n",
        2,
        "storage",
    ),
    "importlib": (
        "web/bad.py",
        "import importlib\nimportlib.import_module('openvna.index')\n",
        2,
        "index",
    ),
    "import-module-name": (
        "web/bad.py",
        "from importlib import import_module\nstore = import_module('openvna.storage.base')\n",
        2,
        "storage",
    ),
    "dunder-import": ("web/bad.py", "__import__('openvna.storage')\n", 1, "storage"),
    "uvicorn-string": ("web/bad.py", "APP = 'openvna.index.core:Index'\n", 1, "index"),
    "python-m": (
        "web/bad.py",
        "import sys\nARGV = [sys.executable, '-m', 'openvna.storage']\n",
        2,
        "storage",
    ),
}


@pytest.mark.parametrize("form", sorted(PLANTED))
def test_every_import_form_is_caught(tmp_path: Path, form: str) -> None:
    module, source, line, imported = PLANTED[form]
    found = _plant(_fake_tree(tmp_path), module, source)
    assert [(v.path, v.line, v.imported) for v in found] == [
        (Path("openvna", module), line, f"openvna.{imported}")
    ]
    assert f"web (interfaces) must not import {imported} (core)" in found[0].rule


def test_a_violation_names_file_line_package_and_rule(tmp_path: Path) -> None:
    (found,) = _plant(_fake_tree(tmp_path), "web/bad.py", "import os\nfrom openvna import index\n")
    assert str(found) == (
        "openvna/web/bad.py:2 imports openvna.index: web (interfaces) must not import index "
        "(core): an interface reaches the index and the blob store only through the archive "
        "services; it may import archive, balance, dicom, errors, fhir, logs, render, runtime, "
        "settings, ups"
    )


def test_legal_imports_are_not_reported(tmp_path: Path) -> None:
    source = (
        "from __future__ import annotations\n"
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "import starlette\n"
        "from openvna import __version__, archive\n"
        "from openvna.archive import Archive\n"
        "from openvna.web.urls import x\n"
        "from . import urls\n"
        "from .urls import y\n"
        "from .. import dicom\n"
        "from ..errors import Invalid\n"
        "if TYPE_CHECKING:\n"
        "    from openvna.runtime import build_archive\n"
        "importlib.import_module('openvna.settings')\n"
        "NAME = 'openvna.web.app:create_app'\n"
        "LOGGER = 'openvna.web'\n"
        "SENDFILES = 'openvna.http.response.sendfiles'\n"
        "TEXT = 'openvna.index is reached through the archive'\n"
    )
    assert _plant(_fake_tree(tmp_path), "web/dicomweb/good.py", source) == []


# (importer, imported): the tiers as the team defines them, one rule a row.
ILLEGAL = [
    ("errors", "settings"),
    ("errors", "logs"),
    ("settings", "logs"),
    ("logs", "settings"),
    ("settings", "dicom"),
    ("dicom", "index"),
    ("dicom", "storage"),
    ("dicom", "archive"),
    ("storage", "dicom"),
    ("storage", "index"),
    ("index", "storage"),
    ("index", "archive"),
    ("archive", "web"),
    ("archive", "runtime"),
    ("archive", "render"),
    ("render", "web"),
    ("ups", "cli"),
    ("fhir", "server"),
    ("runtime", "web"),
    ("runtime", "cli"),
    ("web", "index"),
    ("web", "storage"),
    ("web", "cli"),
    ("web", "server"),
    ("web", "demo"),
    ("demo", "index"),
    ("demo", "web"),
    ("demo", "cli"),
    ("demo", "server"),
    ("server", "storage"),
    ("server", "cli"),
    ("cli", "index"),
    ("cli", "storage"),
    ("dimse", "index"),
    ("dimse", "web"),
    ("__main__", "index"),
    ("__init__", "web"),
]
LEGAL = [
    ("logs", "errors"),
    ("settings", "errors"),
    ("dicom", "errors"),
    ("dicom", "settings"),
    ("storage", "logs"),
    ("index", "dicom"),
    ("archive", "dicom"),
    ("archive", "index"),
    ("archive", "storage"),
    ("render", "archive"),
    ("ups", "index"),
    ("fhir", "dicom"),
    ("runtime", "archive"),
    ("runtime", "index"),
    ("runtime", "storage"),
    ("web", "archive"),
    ("web", "dicom"),
    ("web", "runtime"),
    ("web", "render"),
    ("demo", "archive"),
    ("server", "web"),
    ("dimse", "archive"),
    ("cli", "server"),
    ("cli", "web"),
    ("cli", "demo"),
    ("cli", "runtime"),
    ("__main__", "cli"),
    ("__init__", "errors"),
]


def _module_in(package: str) -> str:
    return f"{package}.py" if package.startswith("__") else f"{package}/planted.py"


@pytest.mark.parametrize(("importer", "imported"), ILLEGAL)
def test_an_import_against_the_tiers_is_caught(
    tmp_path: Path, importer: str, imported: str
) -> None:
    found = _plant(_fake_tree(tmp_path), _module_in(importer), f"import openvna.{imported}\n")
    assert [(v.path, v.imported) for v in found] == [
        (Path("openvna", _module_in(importer)), f"openvna.{imported}")
    ]


@pytest.mark.parametrize(("importer", "imported"), LEGAL)
def test_an_import_the_tiers_allow_is_not_reported(
    tmp_path: Path, importer: str, imported: str
) -> None:
    source = f"import openvna.{imported}\n"
    assert _plant(_fake_tree(tmp_path), _module_in(importer), source) == []


@pytest.mark.parametrize("library", sorted(PROTOCOL_LIBRARIES))
@pytest.mark.parametrize("package", sorted(NO_PROTOCOLS))
def test_a_protocol_library_below_the_interfaces_is_caught(
    tmp_path: Path, package: str, library: str
) -> None:
    source = f"import os\nfrom {library}.x import y\n"
    (found,) = _plant(_fake_tree(tmp_path), f"{package}/planted.py", source)
    assert (found.line, found.imported) == (2, library)
    assert "must not import a protocol library" in found.rule


def test_a_protocol_library_by_import_module_is_caught(tmp_path: Path) -> None:
    source = "import importlib\nimportlib.import_module('uvicorn')\n"
    (found,) = _plant(_fake_tree(tmp_path), "archive/planted.py", source)
    assert (found.line, found.imported) == (2, "uvicorn")


def test_interfaces_may_import_protocol_libraries(tmp_path: Path) -> None:
    root = _fake_tree(tmp_path)
    for package in ("web", "server", "cli", "dimse"):
        source = "\n".join(f"import {library}" for library in sorted(PROTOCOL_LIBRARIES))
        (root / package / "planted.py").write_text(source)
    assert violations(root) == []


@pytest.mark.parametrize("module", ["newdoor/__init__.py", "newdoor/sub/deep.py", "newmod.py"])
def test_a_package_in_no_tier_is_caught(tmp_path: Path, module: str) -> None:
    root = _fake_tree(tmp_path)
    (root / module).parent.mkdir(parents=True, exist_ok=True)
    (found,) = _plant(root, module, "")
    assert found.path == Path("openvna", module)
    assert "is in no tier: place it in a tier" in found.rule


def test_an_import_of_a_package_in_no_tier_is_caught(tmp_path: Path) -> None:
    root = _fake_tree(tmp_path)
    (root / "newdoor").mkdir()
    (root / "newdoor" / "__init__.py").write_text("")
    found = _plant(root, "archive/planted.py", "from openvna import newdoor\n")
    assert [(v.path, v.imported) for v in found] == [
        (Path("openvna/archive/planted.py"), "openvna.newdoor"),
        (Path("openvna/newdoor/__init__.py"), "openvna.newdoor"),
    ]
    assert "newdoor is in no tier" in found[0].rule
