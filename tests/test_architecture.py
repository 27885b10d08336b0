"""The shape of the code: dependencies point down, the domain packages do no I/O, money has no floats."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "yibao"
PURE = ("policy", "engine", "enrol", "fund")
#: modules the pure packages must not import (file system, network, databases, clocks, randomness)
FORBIDDEN = {"os", "pathlib", "io", "open", "socket", "http", "urllib", "sqlite3", "sqlalchemy", "psycopg",
             "duckdb", "yaml", "openpyxl", "csv", "random", "time", "subprocess", "shutil", "tempfile"}  # fmt: skip
#: our own packages a pure package may import
ALLOWED_OWN = {"yibao.policy", "yibao.engine", "yibao.enrol", "yibao.fund", "yibao.errors", "yibao.money"}


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("path", [p for pkg in PURE for p in modules(pkg)], ids=lambda p: str(p.relative_to(SRC)))
def test_pure_packages_do_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            if name.startswith("yibao"):
                assert any(name == a or name.startswith(a + ".") for a in ALLOWED_OWN), f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("open", "print", "input"), f"{path.name} calls {node.func.id}()"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in (("date", "today"), ("datetime", "now")), (
                f"{path.name} reads the clock"
            )


@pytest.mark.parametrize("path", [p for pkg in PURE for p in modules(pkg)] + [SRC / "money.py"], ids=lambda p: p.name)
def test_no_floats_where_money_flows(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            assert not isinstance(node.value, float), f"{path.name}:{node.lineno} has a float literal"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "float", f"{path.name}:{node.lineno} calls float()"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            pytest.fail(f"{path.name}:{node.lineno} uses true division; use // or Decimal")


def test_modules_stay_small() -> None:
    for path in SRC.rglob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 500, f"{path.relative_to(SRC)} has {lines} lines (house rule: under ~500)"


def test_a_visit_is_changed_only_through_change_visit() -> None:
    """The real-time path writes visits through Core (service/visits.py: ``register`` returns a Visit
    outside the session, ``change_visit`` updates the row and the object together). An attribute set on a
    visit anywhere else would be lost without a word, so none may be: ``visit.<column> = …`` is refused."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []  # fmt: skip
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and "visit" in t.value.id.lower():
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {t.value.id}.{t.attr} = …")
    assert not offenders, offenders
