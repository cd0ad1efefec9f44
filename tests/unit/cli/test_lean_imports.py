"""The ``openvna`` command and the supervisor of several workers import no archive library.

Every command imports every command module (``main`` builds the whole command), and the
supervisor of ``serve --workers N`` lives as long as the server: what they import at the top is
resident for good, in a process that never opens the archive. Checked in a fresh interpreter,
as this test process has long imported everything.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ARCHIVE_STACK = ("pydicom", "numpy", "PIL", "sqlalchemy", "starlette", "openvna.archive")


def _imported(module: str, candidates: tuple[str, ...]) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {candidates!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.split()


@pytest.mark.parametrize(
    ("module", "unwanted"),
    [
        ("openvna.cli.main", (*ARCHIVE_STACK, "uvicorn", "rich")),
        ("openvna.server.supervisor", (*ARCHIVE_STACK, "uvicorn", "pydantic", "typer")),
    ],
)
def test_importing_the_command_loads_no_archive_library(module, unwanted) -> None:
    assert _imported(module, unwanted) == []


def test_the_check_sees_an_imported_library() -> None:
    assert _imported("openvna.server.http", ("pydantic", "pydicom")) == ["pydantic"]
