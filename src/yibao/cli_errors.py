"""How every ``yibao`` command reports a refused input: the error code and the Chinese message on
standard error, exit status 2 (cli.py's module docstring)."""

from __future__ import annotations

import typer
from rich.console import Console

from yibao.errors import YibaoError

err = Console(stderr=True)


def fail(e: YibaoError) -> typer.Exit:
    err.print(f"[bold red]错误[/] [{e.code}] {e.message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)
