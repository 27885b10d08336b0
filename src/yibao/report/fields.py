"""Typed reading of the demo's results (a plain JSON-like dict).

The report is lenient about *absence* — a missing figure is shown as ``—`` and a missing
section as "无数据" — and strict about *shape*: a value of the wrong type raises
:class:`~yibao.errors.InputError` naming its dotted path (``summary.fund_income_yuan.total``),
so a change in the demo's output is caught rather than printed as nonsense.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from yibao.errors import InputError

Record = Mapping[str, object]

_INTEGER = re.compile(r"-?[0-9]+")


def join(path: str, key: str) -> str:
    """The dotted path of ``key`` under ``path``: ``join("summary", "per_capita")``."""
    return f"{path}.{key}" if path else key


def section(data: Record, key: str, path: str = "") -> Record:
    """The mapping under ``key``; an empty one when the key is absent or null."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(join(path, key), f"应为对象，收到 {type(value).__name__}")
    return value


def rows(data: Record, key: str, path: str = "") -> list[tuple[str, Record]]:
    """The list of objects under ``key`` with each one's path; empty when absent or null."""
    where = join(path, key)
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InputError(where, f"应为数组，收到 {type(value).__name__}")
    result: list[tuple[str, Record]] = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise InputError(f"{where}[{index}]", f"应为对象，收到 {type(item).__name__}")
        result.append((f"{where}[{index}]", item))
    return result


def text(data: Record, key: str, path: str = "", default: str = "") -> str:
    """A string field; numbers are accepted and shown as written."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise InputError(join(path, key), f"应为文本，收到布尔值 {value!r}")
    if isinstance(value, (str, int, float, Decimal)):
        return str(value)
    raise InputError(join(path, key), f"应为文本，收到 {type(value).__name__}")


def number(data: Record, key: str, path: str = "") -> Decimal | None:
    """A decimal field (amount, share, scale); ``None`` when absent or null.

    Strings are the expected form (``"1422.00"``); JSON numbers are accepted too and read
    through their shortest representation, so ``0.005`` is exactly ``Decimal("0.005")``.
    """
    value = data.get(key)
    where = join(path, key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(where, f"应为数值，收到布尔值 {value!r}")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, (int, Decimal)):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise InputError(where, f"不是数值：{value!r}") from None
    else:
        raise InputError(where, f"应为数值字符串，收到 {type(value).__name__}")
    if not result.is_finite():
        raise InputError(where, f"不是有限数值：{value!r}")
    return result


def integer(data: Record, key: str, path: str = "") -> int | None:
    """A count; ``None`` when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip().replace(",", "")):
        return int(value.strip().replace(",", ""))
    raise InputError(join(path, key), f"应为整数，收到 {value!r}")


def flag(data: Record, key: str, path: str = "") -> bool | None:
    """A yes/no field; ``None`` when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InputError(join(path, key), f"应为 true 或 false，收到 {value!r}")
    return value


@dataclass(frozen=True)
class SchemeAmounts:
    """An amount split by scheme (``{"total": …, "employee": …, "resident": …}``)."""

    employee: Decimal | None
    resident: Decimal | None
    total: Decimal | None


def by_scheme(data: Record, key: str, path: str = "") -> SchemeAmounts:
    """The object under ``key`` read as amounts by scheme; ``total`` is the sum when not given."""
    where = join(path, key)
    value = section(data, key, path)
    employee, resident = number(value, "employee", where), number(value, "resident", where)
    total = number(value, "total", where)
    if total is None and employee is not None and resident is not None:
        total = employee + resident
    return SchemeAmounts(employee, resident, total)
