"""``openvna check``: the index and the blob store compared, and repaired on request.

Safe beside a running server on the same data directory (``archive.integrity``). Exit status 0
when nothing is wrong (or everything found was repaired), 1 when something remains, 2 on a usage
error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from openvna.cli.options import ConfigOption, DataDirOption, settings_or_exit

__all__ = ["register"]


def check(
    repair: Annotated[
        bool,
        typer.Option(
            help="Quarantine blobs no index row names (to quarantine/ in the data directory) "
            "and remove rows whose blob is gone."
        ),
    ] = False,
    verify_checksums: Annotated[
        bool,
        typer.Option(help="Read every blob and compare its checksum with the one taken at ingest."),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Compare the index with the stored blobs: rows whose blob is missing, of another size or
    (with --verify-checksums) of other bytes, blobs no row names; print each, and a summary."""
    from openvna.runtime import build_archive

    settings = settings_or_exit(config, data_dir)
    archive = build_archive(settings)
    try:
        report = archive.check(repair=repair, verify_checksums=verify_checksums)
    finally:
        archive.close()
    for finding in report.findings:
        repaired = f" -> {finding.repaired}" if finding.repaired else ""
        typer.echo(f"{finding.problem.value}: {finding.detail}{repaired}")
    remaining = len(report.unrepaired)
    typer.echo(
        f"{report.instances} instances, {report.blobs} blobs: {len(report.findings)} problem(s)"
        f", {len(report.findings) - remaining} repaired, {remaining} left."
    )
    if remaining:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(name="check")(check)
