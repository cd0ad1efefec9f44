"""``openvna echo|find|move|get|send|retrieve``: openvna as a DIMSE SCU (issue 9).

Exit status, for scripts: 0 everything succeeded; 1 the remote failed, refused or could not be
reached, or some instances did not arrive (the summary says which); 2 a usage error (a remote
that is neither ``AET@host:port`` nor a known node, a key that is not an attribute).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from openvna.cli.options import ConfigOption, DataDirOption, settings_or_exit
from openvna.errors import ArchiveError

if TYPE_CHECKING:
    from openvna.archive.scu import Remote, Transfer
    from openvna.settings import Settings

__all__ = ["register"]

RemoteArgument = Annotated[
    str, typer.Argument(help="AET@host:port, or the AE title of a known remote node.")
]
LevelOption = Annotated[str, typer.Option("--level", "-l", help="PATIENT, STUDY, SERIES or IMAGE.")]
KeyOption = Annotated[
    list[str] | None,
    typer.Option("--key", "-k", help="Keyword=value (or gggg,eeee=value); no value: return it."),
]
ModelOption = Annotated[str, typer.Option(help="Information model: study or patient (root).")]
CallingOption = Annotated[
    str | None, typer.Option("--aet", help="Our AE title (default: dimse.ae_title).")
]
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait for the remote.")]


def _setup(
    config: Path | None, data_dir: Path | None, target: str, aet: str | None
) -> tuple[Settings, Remote, str]:
    """The settings, the remote node named by ``target``, and the calling AE title (``aet``,
    else this archive's own)."""
    from openvna.archive.remotes import RemoteRegistry
    from openvna.dimse.scu import parse_remote

    settings = settings_or_exit(config, data_dir)
    dimse = settings.dimse
    registry = RemoteRegistry(dimse.remotes, settings.storage.data_dir, dimse.allow_unknown)
    return settings, _usage(lambda: parse_remote(target, registry)), aet or dimse.ae_title


def _query(level: str, keys: list[str] | None) -> Any:
    from openvna.archive.exchange import identifier

    return _usage(lambda: identifier(level, keys or []))


def _usage(action: Any) -> Any:
    """Parse what the user typed; a mistake is one line and exit status 2."""
    try:
        return action()
    except ArchiveError as exc:
        typer.echo(f"openvna: {exc.message}", err=True)
        raise typer.Exit(2) from exc


def _failing(action: Any) -> Any:
    """Run a DIMSE exchange; a failure is one line and exit status 1."""
    from openvna.dimse.scu import DimseFailure

    try:
        return action()
    except (DimseFailure, OSError) as exc:
        typer.echo(f"openvna: {exc}", err=True)
        raise typer.Exit(1) from exc


def echo(
    remote: RemoteArgument,
    aet: CallingOption = None,
    timeout: TimeoutOption = 30,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """C-ECHO a remote node (DICOM ping)."""
    from openvna.dimse import scu

    _, target, calling = _setup(config, data_dir, remote, aet)
    status = _failing(lambda: scu.echo(calling, target, timeout))
    typer.echo(f"C-ECHO {target.aet}@{target.host}:{target.port}: status {status:04X}")
    raise typer.Exit(0 if status == 0 else 1)


def find(
    remote: RemoteArgument,
    level: LevelOption = "STUDY",
    key: KeyOption = None,
    model: ModelOption = "study",
    as_json: Annotated[bool, typer.Option("--json", help="DICOM JSON instead of a table.")] = False,
    aet: CallingOption = None,
    timeout: TimeoutOption = 30,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """C-FIND on a remote node: the matches as a table or as DICOM JSON."""
    from openvna.dimse import scu

    _, target, calling = _setup(config, data_dir, remote, aet)
    query = _query(level, key)
    matches = _failing(lambda: list(scu.find(calling, target, query, model, timeout)))
    if as_json:
        typer.echo(json.dumps([m.to_json_dict() for m in matches], indent=1))
    else:
        _table(query, matches)


def _table(query: Any, matches: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    keywords = [e.keyword for e in query if e.keyword != "QueryRetrieveLevel"]
    table = Table(*keywords, title=f"{len(matches)} match(es)")
    for match in matches:
        table.add_row(*(str(match.get(k, "") or "") for k in keywords))
    Console().print(table)


def move(
    remote: RemoteArgument,
    destination: Annotated[str, typer.Option("--dest", help="Move destination AE title.")],
    level: LevelOption = "STUDY",
    key: KeyOption = None,
    model: ModelOption = "study",
    aet: CallingOption = None,
    timeout: TimeoutOption = 30,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """C-MOVE from a remote node to a destination it knows."""
    from openvna.dimse import scu

    _, target, calling = _setup(config, data_dir, remote, aet)
    query = _query(level, key)
    _transfer(
        "C-MOVE",
        lambda progress: scu.move(calling, target, query, destination, model, timeout, progress),
    )


def get(
    remote: RemoteArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the instances.")],
    level: LevelOption = "STUDY",
    key: KeyOption = None,
    model: ModelOption = "study",
    aet: CallingOption = None,
    timeout: TimeoutOption = 30,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """C-GET from a remote node into a directory."""
    from openvna.dimse import scu

    _, target, calling = _setup(config, data_dir, remote, aet)
    query = _query(level, key)
    on_store = scu.writing_to(out)
    _transfer(
        "C-GET",
        lambda progress: scu.get(calling, target, query, on_store, model, timeout, progress),
    )


def send(
    remote: RemoteArgument,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="DICOM files or directories (recursed).")
    ] = None,
    study: Annotated[str | None, typer.Option(help="A stored study to send instead.")] = None,
    series: Annotated[str | None, typer.Option(help="With --study: one of its series.")] = None,
    aet: CallingOption = None,
    timeout: TimeoutOption = 30,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """C-STORE files, or a stored study or series, to a remote node."""
    from openvna.dimse import scu

    settings, target, calling = _setup(config, data_dir, remote, aet)
    files = _stored_files(settings, study, series) if study else _files(paths or [])
    if not files:
        typer.echo("openvna: nothing to send", err=True)
        raise typer.Exit(2)
    _transfer("C-STORE", lambda progress: scu.send_files(calling, target, files, timeout, progress))


def retrieve(
    remote: RemoteArgument,
    level: LevelOption = "STUDY",
    key: KeyOption = None,
    model: ModelOption = "study",
    aet: CallingOption = None,
    timeout: TimeoutOption = 30,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Query a remote PACS and C-MOVE what matches into openvna (the remote must know this
    archive's AE title, dimse.ae_title, as a destination, and `openvna serve` must run)."""
    from openvna.archive import exchange
    from openvna.dimse import scu

    settings, target, calling = _setup(config, data_dir, remote, aet)
    query = _query(level, key)
    port = scu.DimseScu(calling, timeout)
    own = settings.dimse.ae_title
    root = _usage(lambda: exchange.require_level(level, model))[1]

    def run(progress: Any) -> Any:
        count, result = exchange.retrieve(port, target, query, own, root, progress)
        typer.echo(f"{count} {level.lower()} match(es) on {target.aet}")
        return result

    _transfer("C-MOVE", run)


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
        else:
            found.append(path)
    return found


def _stored_files(settings: Settings, study: str, series: str | None) -> list[Path]:
    from openvna.archive.exchange import stored_paths
    from openvna.runtime import build_archive

    archive = build_archive(settings)
    resource = {"StudyInstanceUID": study, **({"SeriesInstanceUID": series} if series else {})}
    try:
        paths: list[Path] = _usage(lambda: stored_paths(archive, [resource]))
    finally:
        archive.close()
    return paths


def _transfer(name: str, run: Any) -> None:
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(name, total=None)

        def progress(result: Transfer, total: int) -> None:
            done = result.completed + result.failed + result.warning
            bar.update(task, completed=done, total=total or None)

        result = _failing(lambda: run(progress))
    typer.echo(_summary(name, result))
    raise typer.Exit(0 if result.ok else 1)


def _summary(name: str, result: Transfer) -> str:
    text = (
        f"{name}: {result.completed} completed, {result.failed} failed, "
        f"{result.warning} warning (status {result.status:04X})"
    )
    if result.failed_uids:
        text += "; failed: " + " ".join(result.failed_uids)
    return text


def register(app: typer.Typer) -> None:
    """Add the SCU commands to the ``openvna`` application."""
    for command in (echo, find, move, get, send, retrieve):
        app.command(command.__name__)(command)
