"""Dependencies point down only (DESIGN.md 'Shape'): interfaces → services → core, with
``errors``, ``settings`` and ``logs`` at the ground. Every module of every package is checked
against an allow-list, so a new package must be placed in a tier before it may import anything.

Every import form counts: ``import openvna.x``, ``from openvna.x import y``, ``from openvna import
x``, relative imports, imports inside functions, under ``TYPE_CHECKING`` or ``try``, and literal
module names handed to ``importlib.import_module``, ``__import__``, uvicorn (``"openvna.x:obj"``)
or ``python -m`` (a string naming a module is a dependency all the same).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import openvna

ROOT = Path(openvna.__file__).parent

GROUND = {"errors", "settings", "logs"}
# package -> the openvna packages it may import (itself always).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "logs": {"errors"},
    "settings": {"errors"},
    "dicom": GROUND,
    "storage": GROUND,
    "index": GROUND | {"dicom"},
    "archive": GROUND | {"dicom", "index", "storage"},
    "runtime": GROUND | {"dicom", "index", "storage", "archive"},
    # Interfaces reach stored data through the archive services only, never index or storage.
    "demo": GROUND | {"dicom", "archive", "runtime"},
    "web": GROUND | {"dicom", "archive", "runtime"},
    "server": GROUND | {"dicom", "archive", "runtime", "web"},
    "cli": GROUND | {"dicom", "archive", "runtime", "web", "server", "demo"},
    "__init__": set(),
    "__main__": {"cli"},
}
# Services and core never see a protocol: no HTTP or DIMSE objects below the interfaces.
PROTOCOL_LIBRARIES = {"starlette", "uvicorn", "pynetdicom", "typer", "httpx", "httptools"}
NO_PROTOCOLS = {"errors", "logs", "settings", "dicom", "storage", "index", "archive"}

_MODULE_STRING = re.compile(r"^openvna(\.[A-Za-z_][A-Za-z0-9_]*)+(:[A-Za-z_][A-Za-z0-9_.]*)?$")


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.imported}: {self.rule}"


def package_of(root: Path, path: Path) -> str:
    """The top-level package (or module) of openvna that ``path`` belongs to."""
    parts = path.relative_to(root).with_suffix("").parts
    return parts[0]


def _module_name(root: Path, path: Path) -> list[str]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ["openvna", *parts]


def imported_modules(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of everything ``path`` imports, every form included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(root, path)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, name) for name in _from_import(node, module)]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _MODULE_STRING.match(node.value)
        ):
            # importlib.import_module("openvna.x"), __import__, "openvna.x:obj", python -m
            found.append((node.lineno, node.value.split(":")[0]))
    return found


def _from_import(node: ast.ImportFrom, module: list[str]) -> list[str]:
    """``from X import a, b``: X, and X.a / X.b (``from openvna import web`` imports web)."""
    if node.level:
        anchor = module[:-1]  # the module's package (an __init__'s own package)
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def violations(root: Path) -> list[Violation]:
    """Every import under ``root`` (an ``openvna`` package directory) that breaks the tiers."""
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        package = package_of(root, path)
        allowed = ALLOWED.get(package)
        shown = path.relative_to(root.parent)
        if allowed is None:
            rule = f"package {package!r} has no tier: place it in ALLOWED (test_layers.py)"
            found.append(Violation(shown, 1, package, rule))
            continue
        for line, name in imported_modules(root, path):
            parts = name.split(".")
            if parts[0] == "openvna" and len(parts) > 1 and parts[1] in ALLOWED:
                target = parts[1]
                if target != package and target not in allowed:
                    rule = f"{package} may import only {sorted(allowed) or 'nothing'}"
                    found.append(Violation(shown, line, f"openvna.{target}", rule))
            elif parts[0] in PROTOCOL_LIBRARIES and package in NO_PROTOCOLS:
                rule = f"{package} is below the interfaces and must not see a protocol"
                found.append(Violation(shown, line, parts[0], rule))
    return list(dict.fromkeys(found))  # ``from openvna.x import y`` names x twice


def test_layers_import_only_downwards() -> None:
    assert [str(v) for v in violations(ROOT)] == []


# -- the test of the test: each import form, planted in a fake package, is caught --------------

PLANTED = {
    "import": "import openvna.index\n",
    "import-as": "import openvna.index.core as core\n",
    "from-module": "from openvna.storage.base import BlobStore\n",
    "from-package": "from openvna import index\n",
    "relative-sibling": "from ..index import core\n",
    "relative-package": "from .. import storage\n",
    "in-function": "def f():\n    from openvna.index import Index\n    return Index\n",
    "type-checking": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from openvna.index import Index\n"
    ),
    "in-try": "try:\n    import openvna.storage\nexcept ImportError:\n    pass\n",
    "importlib": "import importlib\nimportlib.import_module('openvna.index')\n",
    "dunder-import": "__import__('openvna.storage')\n",
    "module-string": "APP = 'openvna.index.core:Index'\n",
    "python-m": "ARGV = ['python', '-m', 'openvna.storage']\n",
}


def _fake_tree(tmp_path: Path, source: str) -> Path:
    root = tmp_path / "openvna"
    for package in ("web", "index", "storage", "archive"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "web" / "bad.py").write_text(source)
    return root


@pytest.mark.parametrize("form", sorted(PLANTED))
def test_every_import_form_is_caught(tmp_path: Path, form: str) -> None:
    found = violations(_fake_tree(tmp_path, PLANTED[form]))
    assert len(found) == 1, found
    (violation,) = found
    assert violation.path == Path("openvna/web/bad.py")
    assert violation.imported in {"openvna.index", "openvna.storage"}
    assert "web may import only" in str(violation)


def test_legal_imports_are_not_reported(tmp_path: Path) -> None:
    source = (
        "from openvna.archive import Archive\nfrom . import other\nimport starlette\n"
        "from openvna.web.urls import x\nNAME = 'openvna.web.app:create_app'\n"
    )
    assert violations(_fake_tree(tmp_path, source)) == []


def test_a_protocol_library_below_the_interfaces_is_caught(tmp_path: Path) -> None:
    root = _fake_tree(tmp_path, "")
    (root / "archive" / "bad.py").write_text("from starlette.requests import Request\n")
    (violation,) = violations(root)
    assert (violation.imported, violation.line) == ("starlette", 1)


def test_a_package_without_a_tier_is_caught(tmp_path: Path) -> None:
    root = _fake_tree(tmp_path, "")
    (root / "newdoor").mkdir()
    (root / "newdoor" / "__init__.py").write_text("")
    (violation,) = violations(root)
    assert "has no tier" in str(violation)
