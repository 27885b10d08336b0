"""Lenient readers for JSON documents: every error names the field.

Be lenient in what we accept — numbers as numbers or numeric strings, empty optional
fields as ``""``, ``null`` or ``"null"``, unknown fields ignored — and precise when we
refuse: :class:`~yibao.errors.InputError` with the dotted field path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from yibao.errors import InputError
from yibao.money import parse_decimal, yuan_to_fen

_EMPTY = ("", "null", "NULL", "None")
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in _EMPTY)


class Fields:
    """A mapping read with field paths for error messages."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(path or "(根)", "应为 JSON 对象")
        self.data = data
        self.path = path

    def where(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, *names: str) -> bool:
        return any(not is_empty(self.data.get(n)) for n in names)

    def raw(self, *names: str) -> tuple[str, object]:
        """The first of ``names`` that is present (aliases), with its value."""
        get = self.data.get
        for n in names:
            v = get(n)
            # is_empty inlined: every field of every message passes here
            if v is not None and not (isinstance(v, str) and v.strip() in _EMPTY):
                return n, v
        return names[0], None

    def text(self, *names: str, required: bool = True, default: str = "", max_len: int = 4000) -> str:
        """A text field; control characters, unpaired surrogates and over-long values are refused
        (they would fail in the database or the answer rather than here, where the field is known)."""
        name, v = self.raw(*names)
        if v is None:
            if required:
                raise InputError(self.where(name), "缺少必填字段")
            return default
        if isinstance(v, str):
            text = v.strip()
        elif isinstance(v, (dict, list)):
            raise InputError(self.where(name), "应为字符串")
        else:
            text = str(v).strip()
        if len(text) > max_len:
            raise InputError(self.where(name), f"长度超过 {max_len} 个字符")
        if _BAD_TEXT.search(text):
            raise InputError(self.where(name), "含有不允许的控制字符或无效的 Unicode 字符")
        return text

    def fen(self, *names: str, required: bool = True, default: int = 0) -> int:
        name, v = self.raw(*names)
        if v is None:
            if required:
                raise InputError(self.where(name), "缺少必填金额")
            return default
        return yuan_to_fen(v, self.where(name))

    def decimal(self, *names: str, required: bool = True, default: Decimal | None = None) -> Decimal | None:
        name, v = self.raw(*names)
        if v is None:
            if required:
                raise InputError(self.where(name), "缺少必填数值")
            return default
        return parse_decimal(v, self.where(name))

    def integer(self, *names: str, required: bool = True, default: int | None = None) -> int | None:
        name, v = self.raw(*names)
        if v is None:
            if required:
                raise InputError(self.where(name), "缺少必填整数")
            return default
        try:
            d = parse_decimal(v, self.where(name))
        except InputError:
            raise
        if d != d.to_integral_value():
            raise InputError(self.where(name), f"应为整数：{v!r}")
        return int(d)

    def flag(self, *names: str, default: bool = False) -> bool:
        name, v = self.raw(*names)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        text = str(v).strip().lower()
        if text in ("1", "true", "y", "yes", "是"):
            return True
        if text in ("0", "false", "n", "no", "否"):
            return False
        raise InputError(self.where(name), f"应为 0/1 或 true/false：{v!r}")

    def day(self, *names: str, required: bool = True) -> date | None:
        name, v = self.raw(*names)
        if v is None:
            if required:
                raise InputError(self.where(name), "缺少必填日期")
            return None
        text = str(v).strip()
        try:
            if len(text) > 10:
                return datetime.fromisoformat(text.replace("/", "-")).date()
            return date.fromisoformat(text.replace("/", "-"))
        except ValueError:
            raise InputError(self.where(name), f"日期格式应为 YYYY-MM-DD：{v!r}") from None

    def choice(self, name: str, mapping: Mapping[str, str], *aliases: str, required: bool = True) -> str:
        key, v = self.raw(name, *aliases)
        if v is None:
            if required:
                raise InputError(self.where(key), "缺少必填字段")
            return ""
        text = str(v).strip()
        if text not in mapping:
            raise InputError(self.where(key), f"取值 {text!r} 不在允许范围 {sorted(mapping)} 内")
        return mapping[text]

    def sub(self, name: str) -> Fields:
        return Fields(self.data.get(name), self.where(name))

    def items(self, name: str) -> list[Fields]:
        v = self.data.get(name)
        if is_empty(v):
            return []
        if not isinstance(v, list):
            raise InputError(self.where(name), "应为数组")
        return [Fields(x, f"{self.where(name)}[{i}]") for i, x in enumerate(v)]
