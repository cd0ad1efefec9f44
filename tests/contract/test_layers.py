"""Dependencies point down only (DESIGN.md 'Shape'): a door never leaks into a service or core."""

import ast
from pathlib import Path

import openvna

ROOT = Path(openvna.__file__).parent

# package -> packages it must not import
FORBIDDEN = {
    "dicom": {"index", "storage", "archive", "web", "cli", "demo", "runtime"},
    "storage": {"dicom", "index", "archive", "web", "cli", "demo", "runtime"},
    "index": {"storage", "archive", "web", "cli", "demo", "runtime"},
    "archive": {"web", "cli", "demo", "runtime"},
    "demo": {"web", "cli"},
    "web": {"cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name.split(".")[1] for name in names if name.startswith("openvna.")}


def test_layers_import_only_downwards() -> None:
    violations = []
    for package, forbidden in FORBIDDEN.items():
        for path in (ROOT / package).rglob("*.py"):
            bad = _imports(path) & forbidden
            if bad:
                violations.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert violations == []
