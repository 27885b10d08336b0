"""Overlays: "what if" and reforms as validated data on top of the same policy tree.

An overlay never mutates the base snapshot; applying it builds a new snapshot (with
a new id) from the base layers plus the overlay's changes::

    overlay:
      description: 全省统一城乡居民住院起付线
      source: "assumption: 省级统筹测算方案"
    changes:
      - region: "440000"                       # set at the province …
        parameters:
          resident.inpatient.deductible.level_3:
            description: 居民住院起付线（三级）
            unit: yuan
            values:
              2025-01-01: {value: 800, source: "assumption: 统一方案"}
      - descendants_of: "440000"               # … and let every city inherit it
        unset: ["resident.inpatient.deductible.*"]

A changed parameter keeps the region's own values before the overlay's first date
and takes the overlay's from then on. ``unset`` removes the named parameters
(wildcards allowed) from a region's own layer so it inherits; with ``from: <date>`` the
region keeps its own values before that date and inherits from it on (``value: inherit``).
``unset_exceptions`` does the same for exception rules (without ``from``). Every change is checked before anything is
applied: unknown regions, unknown paths, bad values, patterns that match nothing,
and the resulting policy against the national envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from fnmatch import fnmatchcase

from yibao.policy.document import (
    DatedValue,
    Parameter,
    RegionLayer,
    check_source,
    parse_exceptions,
    parse_parameters,
)
from yibao.policy.snapshot import PolicySnapshot
from yibao.policy.validate import validate
from yibao.policy.values import INHERIT, Origin, fail, parse_date


def apply_overlay(base: PolicySnapshot, data: object, file: str) -> PolicySnapshot:
    """A new, validated snapshot: ``base`` with the overlay in ``data`` applied."""
    if not isinstance(data, Mapping) or set(data) - {"overlay", "changes"}:
        raise fail(Origin(file, ""), "覆盖方案应包含 overlay（说明）与 changes（变更列表）")
    header = data.get("overlay")
    if not isinstance(header, Mapping) or not isinstance(header.get("description"), str):
        raise fail(Origin(file, "overlay.description"), "缺少覆盖方案说明")
    source = check_source(header.get("source"), Origin(file, "overlay.source"))
    changes = data.get("changes")
    if not isinstance(changes, list) or not changes:
        raise fail(Origin(file, "changes"), "changes 应为非空列表")

    layers = {code: _copy(layer) for code, layer in base.layers.items()}
    for i, change in enumerate(changes):
        where = f"changes[{i}]"
        if not isinstance(change, Mapping):
            raise fail(Origin(file, where), "每项变更应为映射")
        allowed = {"region", "descendants_of", "parameters", "exceptions", "unset", "unset_exceptions", "from"}
        unknown = set(change) - allowed
        if unknown:
            raise fail(Origin(file, f"{where}.{sorted(unknown)[0]}"), f"未知的键，允许：{sorted(allowed)}")
        targets = _targets(base, change, file, where)
        for code in targets:
            layer = layers.setdefault(code, RegionLayer(code=code))
            if "parameters" in change:
                for path, param in parse_parameters(change["parameters"], file, code).items():
                    own = layer.parameters.get(path)
                    first = param.values[0].start
                    kept = tuple(v for v in own.values if v.start < first) if own else ()
                    layer.parameters[path] = replace(param, values=kept + param.values)
            if "exceptions" in change:
                layer.exceptions.update(parse_exceptions(change["exceptions"], file, code))
        for key, attr in (("unset", "parameters"), ("unset_exceptions", "exceptions")):
            if key not in change:
                continue
            patterns = change[key]
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise fail(Origin(file, f"{where}.{key}"), "应为路径列表（可用 * 通配）")
            removed = 0
            since = parse_date(change["from"], Origin(file, f"{where}.from")) if "from" in change else None
            for code in targets:
                entries: dict[str, object] = getattr(layers[code], attr) if code in layers else {}
                for name in [n for n in entries if any(fnmatchcase(n, p) for p in patterns)]:
                    removed += 1
                    entry = entries[name]
                    if since is None or not isinstance(entry, Parameter):
                        del entries[name]
                        continue
                    handover = DatedValue(since, INHERIT, source, Origin(file, f"{where}.unset"), code)
                    kept = tuple(v for v in entry.values if v.start < since)
                    entries[name] = replace(entry, values=(*kept, handover))
            if removed == 0:
                raise fail(Origin(file, f"{where}.{key}"), "没有匹配到任何要移除的项")

    snapshot = PolicySnapshot(base.tree, layers, base.catalogs, (*base.overlays, str(header["description"])))
    validate(snapshot)
    return snapshot


def _targets(base: PolicySnapshot, change: Mapping[str, object], file: str, where: str) -> list[str]:
    if "region" in change and "descendants_of" in change:
        raise fail(Origin(file, where), "region 与 descendants_of 只能二选一")
    if "region" in change:
        code = str(change["region"])
        if code not in base.tree:
            raise fail(Origin(file, f"{where}.region"), f"未知的医保区划 {code}")
        return [code]
    if "descendants_of" in change:
        code = str(change["descendants_of"])
        if code not in base.tree:
            raise fail(Origin(file, f"{where}.descendants_of"), f"未知的医保区划 {code}")
        return [r.code for r in base.tree.descendants(code)]
    raise fail(Origin(file, where), "每项变更须指明 region 或 descendants_of")


def _copy(layer: RegionLayer) -> RegionLayer:
    return RegionLayer(
        code=layer.code,
        name=layer.name,
        pooling=layer.pooling,
        counties=dict(layer.counties),
        parameters=dict(layer.parameters),
        exceptions=dict(layer.exceptions),
    )
