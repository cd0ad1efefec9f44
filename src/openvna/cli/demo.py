"""Placeholder until the demo command lands (being written now)."""

import typer


def register(app: typer.Typer) -> None:
    pass
