"""Parse a region's policy documents (already-loaded YAML mappings) into a layer.

A region folder holds ``region.yaml`` and any number of parameter files; each file may
have a ``parameters:`` tree and an ``exceptions:`` map. Parameters nest or use dotted
keys; a node is a parameter when it has ``values``::

    parameters:
      resident.inpatient.ratio:
        level_1:
          description: 居民医保住院政策范围内报销比例（一类医院）
          unit: ratio
          values:
            2021-01-01: {value: 0.90, source: 《潮州市医疗保障事业发展“十四五”规划》一、（一）}

Every value needs a ``source``: a document (with 文号 such as ``〔2021〕``, a 《title》
or a URL) and article, or ``assumption: <reason>``. Exceptions are labelled rules that
adjust parameters for special cases (see :mod:`yibao.policy.exception_rules`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from yibao.policy.context import AGE_BOUNDS, ATTRIBUTES, BOOL_ATTRIBUTES, Condition
from yibao.policy.exception_rules import EFFECT_OPS, DatedEffect, Effect, ExceptionRule
from yibao.policy.regions import is_region_code
from yibao.policy.schema import Kind, definition_of
from yibao.policy.values import Origin, fail, parse_date, parse_value

_SOURCE_DOC = re.compile(r"〔\d{4}〕|《.+》|https?://|\[\d{4}\]")
_LEAF_KEYS = {"description", "unit", "values", "note"}


@dataclass(frozen=True, slots=True)
class DatedValue:
    start: date
    value: object
    source: str
    origin: Origin
    region: str  # the region whose file set it


@dataclass(frozen=True, slots=True)
class Parameter:
    path: str
    kind: Kind
    description: str
    unit: str
    values: tuple[DatedValue, ...]
    region: str


@dataclass(slots=True)
class RegionLayer:
    """What one region's files say: its own parameters and exception rules."""

    code: str
    name: str = ""
    pooling: bool = False
    counties: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    exceptions: dict[str, ExceptionRule] = field(default_factory=dict)


def check_source(raw: object, origin: Origin) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise fail(origin, "缺少 source：每个取值都必须注明来源（文件号与条款，或 assumption: 理由）")
    text = raw.strip()
    if text.startswith("assumption:"):
        if len(text[len("assumption:") :].strip()) < 4:
            raise fail(origin, "assumption: 之后必须写明假设的理由")
        return text
    if not _SOURCE_DOC.search(text):
        raise fail(origin, f"来源应包含文件号（如〔2021〕）、《文件名》或网址，或以 assumption: 开头：{text!r}")
    return text


def parse_region_header(data: object, file: str) -> tuple[str, str, bool, dict[str, str]]:
    """``region.yaml``: ``code``, ``name``, optional ``pooling`` and ``counties``."""
    if not isinstance(data, Mapping):
        raise fail(Origin(file, ""), "region.yaml 应为映射")
    unknown = set(data) - {"code", "name", "pooling", "counties", "note"}
    if unknown:
        raise fail(Origin(file, sorted(unknown)[0]), "未知的键")
    code = str(data.get("code", "")).strip()
    if not is_region_code(code):
        raise fail(Origin(file, "code"), f"医保区划代码应为6位数字：{data.get('code')!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail(Origin(file, "name"), "缺少区划名称")
    pooling = data.get("pooling", False)
    if not isinstance(pooling, bool):
        raise fail(Origin(file, "pooling"), "应为 true 或 false")
    counties_raw = data.get("counties") or {}
    if not isinstance(counties_raw, Mapping):
        raise fail(Origin(file, "counties"), "应为 代码: 名称 的映射")
    counties: dict[str, str] = {}
    for c, n in counties_raw.items():
        cc = str(c)
        if not is_region_code(cc) or cc[:4] != code[:4] or cc == code:
            raise fail(Origin(file, f"counties.{cc}"), "下辖区县代码应为本市的6位代码")
        counties[cc] = str(n)
    return code, name.strip(), pooling, counties


def parse_parameters(tree: object, file: str, region: str) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    _walk(tree, [], file, region, out)
    return out


def _walk(node: object, prefix: list[str], file: str, region: str, out: dict[str, Parameter]) -> None:
    where = "parameters" + ("." + ".".join(prefix) if prefix else "")
    if not isinstance(node, Mapping):
        raise fail(Origin(file, where), "应为映射（参数或参数分组）")
    if "values" in node:
        param = _leaf(node, ".".join(prefix), file, region)
        if param.path in out:
            raise fail(Origin(file, where), "参数重复定义")
        out[param.path] = param
        return
    for key, child in node.items():
        _walk(child, [*prefix, *str(key).split(".")], file, region, out)


def _leaf(node: Mapping[str, object], path: str, file: str, region: str) -> Parameter:
    where = f"parameters.{path}"
    definition = definition_of(path)
    if definition is None:
        raise fail(Origin(file, where), "未知的参数路径（见 yibao.policy.schema 中的声明）")
    unknown = set(node) - _LEAF_KEYS
    if unknown:
        raise fail(Origin(file, f"{where}.{sorted(unknown)[0]}"), "参数中出现未知的键")
    description = node.get("description")
    if not isinstance(description, str) or not description.strip():
        raise fail(Origin(file, f"{where}.description"), "缺少参数说明 description")
    unit = node.get("unit")
    if unit != definition.unit:
        raise fail(Origin(file, f"{where}.unit"), f"单位应为 {definition.unit!r}，文件写的是 {unit!r}")
    values = node.get("values")
    if not isinstance(values, Mapping) or not values:
        raise fail(Origin(file, f"{where}.values"), "values 应为 生效日期: {value, source} 的非空映射")
    dated: list[DatedValue] = []
    for raw_date, entry in values.items():
        vwhere = f"{where}.values.{raw_date}"
        start = parse_date(raw_date, Origin(file, vwhere))
        if not isinstance(entry, Mapping) or "value" not in entry or set(entry) - {"value", "source", "note"}:
            raise fail(Origin(file, vwhere), "每个取值应为 {value: …, source: …}")
        source = check_source(entry.get("source"), Origin(file, f"{vwhere}.source"))
        origin = Origin(file, f"{vwhere}.value")
        value = parse_value(definition.kind, definition.choices, entry["value"], origin)
        dated.append(DatedValue(start, value, source, origin, region))
    dated.sort(key=lambda d: d.start)
    return Parameter(path, definition.kind, description.strip(), definition.unit, tuple(dated), region)


def parse_exceptions(tree: object, file: str, region: str) -> dict[str, ExceptionRule]:
    if not isinstance(tree, Mapping):
        raise fail(Origin(file, "exceptions"), "应为 规则ID: 规则 的映射")
    out: dict[str, ExceptionRule] = {}
    for rule_id, node in tree.items():
        out[str(rule_id)] = _exception(str(rule_id), node, file, region)
    return out


def _exception(rule_id: str, node: object, file: str, region: str) -> ExceptionRule:
    where = f"exceptions.{rule_id}"
    if not isinstance(node, Mapping):
        raise fail(Origin(file, where), "例外规则应为映射")
    unknown = set(node) - {"description", "applies_to", "when", "priority", "values", "note"}
    if unknown:
        raise fail(Origin(file, f"{where}.{sorted(unknown)[0]}"), "例外规则中出现未知的键")
    description = node.get("description")
    if not isinstance(description, str) or not description.strip():
        raise fail(Origin(file, f"{where}.description"), "缺少规则说明 description")
    applies = node.get("applies_to")
    patterns = [applies] if isinstance(applies, str) else applies
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise fail(Origin(file, f"{where}.applies_to"), "applies_to 应为参数路径或路径列表（可用 * 通配）")
    priority = node.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise fail(Origin(file, f"{where}.priority"), "priority 应为整数；同一参数上的例外按优先级从低到高依次适用")
    condition = _condition(node.get("when"), Origin(file, f"{where}.when"))
    values = node.get("values")
    if not isinstance(values, Mapping) or not values:
        raise fail(Origin(file, f"{where}.values"), "values 应为 生效日期: {effect, source} 的非空映射")
    dated: list[DatedEffect] = []
    for raw_date, entry in values.items():
        vwhere = f"{where}.values.{raw_date}"
        start = parse_date(raw_date, Origin(file, vwhere))
        if not isinstance(entry, Mapping) or "effect" not in entry:
            raise fail(Origin(file, vwhere), "每个取值应为 {effect: {操作: 数值}, source: …}")
        source = check_source(entry.get("source"), Origin(file, f"{vwhere}.source"))
        effect_raw = entry["effect"]
        origin = Origin(file, f"{vwhere}.effect")
        effect: Effect | None
        if effect_raw is None:
            effect = None
        else:
            if not isinstance(effect_raw, Mapping) or len(effect_raw) != 1:
                raise fail(origin, f"effect 应恰有一个操作：{list(EFFECT_OPS)}")
            op, operand = next(iter(effect_raw.items()))
            if op not in EFFECT_OPS:
                raise fail(origin, f"未知的操作 {op!r}，允许：{list(EFFECT_OPS)}")
            effect = Effect(str(op), operand, origin)
        dated.append(DatedEffect(start, effect, source))
    dated.sort(key=lambda d: d.start)
    return ExceptionRule(
        rule_id=rule_id,
        description=description.strip(),
        applies_to=tuple(patterns),
        when=condition,
        priority=priority,
        values=tuple(dated),
        region=region,
        origin=Origin(file, where),
    )


def _condition(raw: object, origin: Origin) -> Condition:
    if raw is None:
        return Condition()
    if not isinstance(raw, Mapping):
        raise fail(origin, "when 应为 属性: 取值 的映射")
    allowed: list[tuple[str, frozenset[object]]] = []
    bounds: dict[str, int] = {}
    for name, value in raw.items():
        key = str(name)
        if key in AGE_BOUNDS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise fail(Origin(origin.file, f"{origin.path}.{key}"), "年龄界限应为非负整数")
            bounds[key] = value
            continue
        items = value if isinstance(value, list) else [value]
        if key in BOOL_ATTRIBUTES:
            if not all(isinstance(v, bool) for v in items):
                raise fail(Origin(origin.file, f"{origin.path}.{key}"), "应为 true 或 false")
        elif key in ATTRIBUTES:
            choices = ATTRIBUTES[key]
            for v in items:
                if choices is not None and v not in choices:
                    raise fail(Origin(origin.file, f"{origin.path}.{key}"), f"取值 {v!r} 不在 {list(choices)} 内")
            items = [str(v) for v in items]
        else:
            known = [*ATTRIBUTES, *BOOL_ATTRIBUTES, *AGE_BOUNDS]
            raise fail(Origin(origin.file, f"{origin.path}.{key}"), f"未知的条件属性，允许：{known}")
        allowed.append((key, frozenset(items)))
    allowed.sort(key=lambda kv: kv[0])
    return Condition(tuple(allowed), bounds.get("age_at_least"), bounds.get("age_below"))


def parse_document(data: object, file: str, layer: RegionLayer) -> None:
    """Add one parameter file's content to ``layer``; duplicates across files are errors."""
    if data is None:
        return
    if not isinstance(data, Mapping):
        raise fail(Origin(file, ""), "政策文件应为映射，含 parameters 和/或 exceptions")
    unknown = set(data) - {"parameters", "exceptions", "note"}
    if unknown:
        raise fail(Origin(file, sorted(unknown)[0]), "未知的顶层键（允许 parameters、exceptions、note）")
    if "parameters" in data:
        for path, param in parse_parameters(data["parameters"], file, layer.code).items():
            if path in layer.parameters:
                other = layer.parameters[path].values[0].origin.file
                raise fail(Origin(file, f"parameters.{path}"), f"参数已在 {other} 中定义")
            layer.parameters[path] = param
    if "exceptions" in data:
        for rule_id, rule in parse_exceptions(data["exceptions"], file, layer.code).items():
            if rule_id in layer.exceptions:
                raise fail(Origin(file, f"exceptions.{rule_id}"), "例外规则ID重复")
            layer.exceptions[rule_id] = rule
