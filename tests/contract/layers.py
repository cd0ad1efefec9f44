"""DESIGN.md 'Shape' as an allow-list, and a checker that finds every import that breaks it.

Dependencies point down only: interfaces → services → core, with ``errors``, ``settings``,
``logs`` and ``balance`` at the ground. Each top-level package (or module) of ``openvna`` is
placed in a tier and names the packages it may import; a package placed nowhere fails, so a new
door or service must be placed before it may import anything.

What counts as an import, so that no form slips past:

- ``import openvna.x``, ``import openvna.x.y as z``, ``from openvna.x import y``, ``from openvna
  import x`` (``x`` is then the package), and relative imports (``from . import x``, ``from ..x
  import y``) resolved against the module's own package;
- wherever they stand: inside functions, under ``if TYPE_CHECKING:``, in ``try``/``except``
  (the whole tree is walked, not only the module's top level);
- ``importlib.import_module("m")`` and ``__import__("m")`` with a literal name, for any module
  (so a protocol library cannot come in that way either);
- any other literal string ``"openvna.<package>…"``, such as the protocol class handed to uvicorn
  (``"openvna.server.zerocopy:ZeroCopyHttpToolsProtocol"``) or a ``python -m openvna.x`` argument
  list: the named package is loaded all the same, so the string is a dependency and is counted.
  Only strings whose second name is a real top-level package or module of the tree count (an ASGI
  extension key such as ``"openvna.http.response.sendfiles"`` names none); a logger should
  therefore be named after its own package (``"openvna.web"`` in ``web``).

A name built at run time (``import_module(f"openvna.{name}")``) cannot be seen by reading the
source; such imports are not used in openvna and should not be.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

GROUND = frozenset({"errors", "settings", "logs", "balance"})
CORE = frozenset({"dicom", "storage", "index"})
# ``render``, ``ups`` and ``fhir`` do not exist yet; they are placed so that they start in a tier.
SERVICES = frozenset({"archive", "render", "ups", "fhir"})
COMPOSITION = frozenset({"runtime"})
# ``__init__`` and ``__main__`` are the top-level modules openvna/__init__.py and __main__.py.
INTERFACES = frozenset({"web", "cli", "server", "dimse", "demo", "__init__", "__main__"})

TIERS: dict[str, frozenset[str]] = {
    "ground": GROUND,
    "core": CORE,
    "services": SERVICES,
    "composition root": COMPOSITION,
    "interfaces": INTERFACES,
}
TIER_OF = {package: tier for tier, packages in TIERS.items() for package in packages}
RANK = {tier: rank for rank, tier in enumerate(TIERS)}

# What every door may use: the services, the ground, the pure DICOM model (codecs, media types,
# the Query value) and the composition root. Never ``index`` or ``storage``: the archive services
# are an interface's only way to stored data (issue 8).
_DOOR = GROUND | SERVICES | COMPOSITION | {"dicom"}

# package -> the other openvna packages it may import (a package may always import itself).
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "balance": frozenset(),
    "logs": frozenset({"errors"}),
    "settings": frozenset({"errors"}),
    "dicom": GROUND,
    "storage": GROUND,
    "index": GROUND | {"dicom"},
    "archive": GROUND | CORE,
    "render": GROUND | CORE | {"archive"},
    "ups": GROUND | CORE | {"archive"},
    "fhir": GROUND | CORE | {"archive"},
    "runtime": GROUND | CORE | SERVICES,
    "web": _DOOR,
    "dimse": _DOOR,
    "demo": _DOOR,
    "server": _DOOR | {"web", "dimse"},
    "cli": _DOOR | {"server", "web", "demo", "dimse"},
    "__main__": _DOOR | {"cli", "server", "web", "demo"},
    # Python runs openvna/__init__.py before any module of the package, so whatever it imported
    # every tier would import: it stays at the ground.
    "__init__": GROUND,
}
assert set(ALLOWED) == set(TIER_OF), "every placed package has a tier and an allow-list"

# A service never sees HTTP or DIMSE objects; the core (and the ground below it) knows nothing of
# either. httptools is uvicorn's HTTP parser, which the zero-copy protocol uses.
PROTOCOL_LIBRARIES = frozenset(
    {"starlette", "uvicorn", "pynetdicom", "typer", "httpx", "httptools"}
)
NO_PROTOCOLS = GROUND | CORE | SERVICES

_MODULE_STRING = re.compile(r"openvna(\.[A-Za-z_]\w*)+(:[A-Za-z_][\w.]*)?")
_IMPORT_CALLS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True)
class Violation:
    """One import that breaks the layers: where it stands, what it imports, which rule."""

    path: Path
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.imported}: {self.rule}"


def package_of(root: Path, path: Path) -> str:
    """The top-level package (or module, e.g. ``errors``, ``__main__``) that ``path`` is part of."""
    return path.relative_to(root).with_suffix("").parts[0]


def _is_top_level(root: Path, name: str) -> bool:
    return (root / name / "__init__.py").is_file() or (root / f"{name}.py").is_file()


def imported_modules(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of everything ``path`` imports, in every form listed above."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ["openvna", *path.relative_to(root).with_suffix("").parts[:-1]]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, name) for name in _from_import(root, node, package)]
        elif isinstance(node, ast.Call) and _is_import_call(node):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = _module_string(root, node.value)
            if name:
                found.append((node.lineno, name))
    return found


def _module_string(root: Path, text: str) -> str | None:
    """The module a literal such as ``"openvna.x.y:obj"`` names, if it names one of the tree."""
    if not _MODULE_STRING.fullmatch(text):
        return None
    name = text.partition(":")[0]
    return name if _is_top_level(root, name.split(".")[1]) else None


def _is_import_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in _IMPORT_CALLS


def _from_import(root: Path, node: ast.ImportFrom, package: list[str]) -> list[str]:
    """``from X import a, b`` imports X, and X.a and X.b if they are modules; that matters only
    for ``from openvna import a``, where ``a`` is the package imported.

    A relative X is resolved against the module's own package (for an ``__init__.py`` that is the
    package it initialises); a level beyond the top of ``openvna`` cannot be imported and is left
    to Python to refuse.
    """
    if node.level:
        if node.level > len(package):
            return []
        anchor = package[: len(package) - node.level + 1]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    names = [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    if base == "openvna":
        # ``from openvna import web`` imports the package web; ``from openvna import
        # __version__`` only reads openvna/__init__.py, which every module loads anyway.
        return [name for name in names if _is_top_level(root, name.split(".")[1])]
    return [base, *names]


def _why(package: str, target: str) -> str:
    tier = TIER_OF[package]
    target_tier = TIER_OF.get(target)
    allowed = ", ".join(sorted(ALLOWED[package])) or "no other openvna package"
    if target_tier is None:
        reason = f"{target} is in no tier"
    elif tier == "interfaces" and target in {"index", "storage"}:
        reason = (
            "an interface reaches the index and the blob store only through the archive services"
        )
    elif RANK[target_tier] > RANK[tier]:
        reason = "dependencies point down only (DESIGN.md 'Shape')"
    else:
        reason = f"{tier} packages import each other only as the allow-list says"
    placed = f" ({target_tier})" if target_tier else ""
    return f"{package} ({tier}) must not import {target}{placed}: {reason}; it may import {allowed}"


def violations(root: Path) -> list[Violation]:
    """Every import under ``root`` (a directory named ``openvna``) that breaks the layers."""
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        package = package_of(root, path)
        shown = path.relative_to(root.parent)
        if package not in ALLOWED:
            rule = (
                f"{package!r} is in no tier: place it in a tier of DESIGN.md 'Shape' and give it "
                "an allow-list in TIERS and ALLOWED of tests/contract/layers.py"
            )
            found.append(Violation(shown, 1, f"openvna.{package}", rule))
            continue
        for line, name in imported_modules(root, path):
            parts = name.split(".")
            if parts[0] == "openvna" and len(parts) > 1:
                target = parts[1]
                if target != package and target not in ALLOWED[package]:
                    found.append(Violation(shown, line, f"openvna.{target}", _why(package, target)))
            elif parts[0] in PROTOCOL_LIBRARIES and package in NO_PROTOCOLS:
                rule = (
                    f"{package} ({TIER_OF[package]}) must not import a protocol library: a service "
                    "never sees HTTP or DIMSE objects and the core knows nothing of either "
                    "(DESIGN.md 'Shape')"
                )
                found.append(Violation(shown, line, parts[0], rule))
    return list(dict.fromkeys(found))  # ``from openvna.x import y`` names x twice on one line
