"""The exceptions yibao raises, in one place.

Every error that can reach a user carries a Chinese message (what users see) and a
machine-readable ``code``; input and policy errors also name *where* the problem is::

    YibaoError
    ├── InputError            a claim, state or request field is malformed or inconsistent
    │                         (field: dotted path such as ``fee_lines[3].price``)
    ├── PolicyError           the policy set cannot answer
    │   ├── PolicyFileError   a policy file is invalid (file, path inside it, reason)
    │   │   └── EnvelopeViolation   a value leaves the national benefit list (待遇清单)
    │   ├── NoPolicyInForce   no value in force for a region on a date
    │   ├── UnknownRegion     a 医保区划 code that is not in the policy tree
    │   └── RuleConflict      two exceptions of equal priority both apply (Catala's Conflict)
    └── CatalogError          a catalogue file row is invalid (file, row, column, reason)

Nothing in this module does I/O; the engine and the policy package raise these.
"""

from __future__ import annotations


class YibaoError(Exception):
    """Base class of every error yibao raises on purpose."""

    code = "YB000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(YibaoError):
    """A field of a claim, state or request is malformed or inconsistent."""

    code = "YB100"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"字段 {field}：{reason}")
        self.field = field
        self.reason = reason


class PolicyError(YibaoError):
    """The policy set cannot answer the question asked of it."""

    code = "YB200"


class PolicyFileError(PolicyError):
    """A policy or overlay file is invalid."""

    code = "YB201"

    def __init__(self, file: str, path: str, reason: str) -> None:
        where = f"{file}: {path}" if path else file
        super().__init__(f"政策文件 {where}：{reason}")
        self.file = file
        self.path = path
        self.reason = reason


class EnvelopeViolation(PolicyFileError):
    """A value lies outside the national benefit list (待遇清单)."""

    code = "YB202"


class NoPolicyInForce(PolicyError):
    """No value of a parameter is in force for a region on a date."""

    code = "YB203"

    def __init__(self, region: str, on: str, path: str) -> None:
        super().__init__(f"统筹区 {region} 在 {on} 没有生效的政策参数 {path}")
        self.region = region
        self.on = on
        self.path = path


class UnknownRegion(PolicyError):
    """A 医保区划 code that the policy tree does not know."""

    code = "YB204"

    def __init__(self, region: str, field: str = "") -> None:
        prefix = f"字段 {field}：" if field else ""
        super().__init__(f"{prefix}未知的医保区划 {region}")
        self.region = region
        self.field = field


class RuleConflict(PolicyError):
    """Two exception rules of equal priority both apply to one parameter."""

    code = "YB205"

    def __init__(self, path: str, first: str, second: str, priority: int) -> None:
        super().__init__(
            f"参数 {path} 有两条同优先级（{priority}）的例外规则同时适用：{first} 与 {second}；"
            "请在政策文件中为它们设定不同的优先级"
        )
        self.path = path
        self.rules = (first, second)
        self.priority = priority


class CatalogError(YibaoError):
    """A catalogue row is invalid."""

    code = "YB300"

    def __init__(self, file: str, row: int, column: str, reason: str) -> None:
        super().__init__(f"目录文件 {file} 第 {row} 行 {column}：{reason}")
        self.file = file
        self.row = row
        self.column = column
        self.reason = reason
