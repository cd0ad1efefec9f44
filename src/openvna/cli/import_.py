"""Placeholder until the import_ command lands (being written now)."""

import typer


def register(app: typer.Typer) -> None:
    pass
