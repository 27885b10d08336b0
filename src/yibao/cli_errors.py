"""How every ``yibao`` command reports a refused input: the error code and the Chinese message on
standard error, exit status 2 (cli.py's module docstring)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from yibao.errors import YibaoError

err = Console(stderr=True)


def fail(e: YibaoError) -> typer.Exit:
    # escaped: a message may quote text in brackets (pip install 'yibao[spark]'), which is not markup
    err.print(f"[bold red]错误[/] [{e.code}] {escape(e.message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)
