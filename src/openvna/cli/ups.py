"""``openvna ups``: worklist work from the command line against any UPS-RS server (PS3.18 ch. 11).

- ``create`` schedules a workitem and prints its UID;
- ``list`` searches (SearchForUPS) and prints one line a workitem;
- ``claim`` moves a workitem to IN PROGRESS and prints the Transaction UID that now locks it;
- ``complete`` records the Final State attributes and moves it to COMPLETED;
- ``cancel`` cancels a claimed workitem (with its Transaction UID) or asks for the cancellation
  of one that is not ours (RequestUPSCancellation);
- ``watch`` subscribes an AE title and prints each event of the channel as a line of DICOM JSON.

Exit status 0 on success, 1 when the server refuses (its status and Warning text on stderr).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from openvna.cli.upsclient import UpsClient

__all__ = ["register"]

ups_app = typer.Typer(
    name="ups",
    help="Unified Procedure Steps (worklist) on a UPS-RS server: create, list, claim, complete, "
    "cancel, watch.",
    no_args_is_help=True,
)

UrlOption = Annotated[
    str,
    typer.Option("--url", help="The server's DICOMweb root.", show_default=True),
]
KeyOption = Annotated[
    str | None, typer.Option("--api-key", help="API key, sent as a Bearer token.")
]
TransactionOption = Annotated[
    str,
    typer.Option("--transaction-uid", "-t", help="The Transaction UID that `claim` printed."),
]
DEFAULT_URL = "http://127.0.0.1:8080/dicomweb"


@contextmanager
def _client(url: str, api_key: str | None) -> Iterator[UpsClient]:
    from openvna.cli.upsclient import UpsClient, UpsClientError

    client = UpsClient(url, api_key)
    try:
        yield client
    except UpsClientError as exc:
        typer.echo(f"openvna ups: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        client.close()


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


@ups_app.command()
def create(
    label: Annotated[str, typer.Option(help="Procedure Step Label (0074,1204).")],
    priority: Annotated[str, typer.Option(help="HIGH, MEDIUM or LOW.")] = "MEDIUM",
    start: Annotated[
        str | None, typer.Option(help="Scheduled start (DT, e.g. 20261204090000); default now.")
    ] = None,
    patient_id: Annotated[str | None, typer.Option(help="Patient ID.")] = None,
    patient_name: Annotated[str | None, typer.Option(help="Patient's Name, e.g. Doe^Jane.")] = None,
    worklist: Annotated[str | None, typer.Option(help="Worklist Label (0074,1202).")] = None,
    comments: Annotated[str | None, typer.Option(help="Comments on the step.")] = None,
    uid: Annotated[
        str | None, typer.Option(help="The workitem's UID; default: the server's.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Schedule a workitem (CreateUPS) and print its UID."""
    from openvna.cli.upsclient import new_workitem

    item = new_workitem(label, priority, start, patient_id, patient_name, worklist, comments)
    with _client(url, api_key) as client:
        typer.echo(client.create(item, uid))


def _first(dataset: dict[str, Any], tag: str) -> str:
    values = dataset.get(tag, {}).get("Value") or [""]
    value = values[0]
    return str(value.get("Alphabetic", "")) if isinstance(value, dict) else str(value)


@ups_app.command(name="list")
def list_(
    state: Annotated[
        str | None, typer.Option(help="Only workitems in this state, e.g. SCHEDULED.")
    ] = None,
    match: Annotated[
        list[str] | None,
        typer.Option("--match", "-m", help="A match key as attribute=value (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print the DICOM JSON array.")] = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Search workitems (SearchForUPS): UID, state, priority, start, label, patient a line."""
    import orjson

    params = {"limit": str(limit)}
    if state:
        params["ProcedureStepState"] = state
    for item in match or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not attribute=value", param_hint="--match")
        params[name] = value
    with _client(url, api_key) as client:
        found = client.search(params)
    if as_json:
        sys.stdout.write(orjson.dumps(found).decode() + "\n")
        return
    for dataset in found:
        fields = ("00080018", "00741000", "00741200", "00404005", "00741204", "00100020")
        typer.echo("\t".join(_first(dataset, tag) for tag in fields))


@ups_app.command()
def claim(
    workitem: Annotated[str, typer.Argument(help="The workitem's UID.")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Take a SCHEDULED workitem: IN PROGRESS under a new Transaction UID, which is printed
    (complete and cancel need it)."""
    from openvna.dicom.uid import generate_uid

    transaction = generate_uid()
    with _client(url, api_key) as client:
        _warn(client.change_state(workitem, "IN PROGRESS", transaction))
    typer.echo(transaction)


@ups_app.command()
def complete(
    workitem: Annotated[str, typer.Argument(help="The workitem's UID.")],
    transaction_uid: TransactionOption,
    started: Annotated[
        str | None, typer.Option(help="When the work started (DT); default now.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Record the performed procedure (PS3.4 Table CC.2.5-3, Final State) and complete."""
    from openvna.cli.upsclient import completion_attributes

    with _client(url, api_key) as client:
        item = client.retrieve(workitem)
        client.update(workitem, completion_attributes(item, started), transaction_uid)
        _warn(client.change_state(workitem, "COMPLETED", transaction_uid))


@ups_app.command()
def cancel(
    workitem: Annotated[str, typer.Argument(help="The workitem's UID.")],
    transaction_uid: Annotated[
        str | None,
        typer.Option(
            "--transaction-uid",
            "-t",
            help="Cancel a workitem you claimed; without it, ask for the cancellation.",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Reason For Cancellation.")] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Cancel a claimed workitem, or request the cancellation of any (PS3.4 CC.2.2)."""
    with _client(url, api_key) as client:
        if transaction_uid:
            if reason:
                progress = {"00741238": {"vr": "LT", "Value": [reason]}}
                client.update(
                    workitem, {"00741002": {"vr": "SQ", "Value": [progress]}}, transaction_uid
                )
            _warn(client.change_state(workitem, "CANCELED", transaction_uid))
        else:
            _warn(client.request_cancellation(workitem, reason))
            typer.echo("cancellation requested", err=True)


@ups_app.command()
def watch(
    ae_title: Annotated[str, typer.Option("--ae-title", "-a", help="The subscriber's AE title.")],
    workitem: Annotated[
        str | None,
        typer.Option(help="Watch one workitem; default: all (the global subscription)."),
    ] = None,
    count: Annotated[
        int | None, typer.Option(help="Stop after this many events; default: until Ctrl-C.")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the subscription when the watch ends.")] = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Subscribe and print each event (SendEventReport, DICOM JSON) a line as it arrives."""
    import orjson

    from openvna.cli.upsclient import GLOBAL

    target = workitem or GLOBAL
    with _client(url, api_key) as client:
        client.subscribe(target, ae_title)
        typer.echo(f"watching {target} as {ae_title}", err=True)
        seen = 0
        try:
            for event in client.events(ae_title):
                sys.stdout.write(orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode() + "\n")
                sys.stdout.flush()
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            if not keep:
                client.unsubscribe(target, ae_title)


def register(app: typer.Typer) -> None:
    app.add_typer(ups_app)
