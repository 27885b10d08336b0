"""The compiled policy snapshot: one immutable, hashed view of every region's policy.

Both executors read a snapshot: the scalar engine asks ``snapshot.at(region, date)``
for the :class:`ResolvedPolicy` in force; the batch engine reads ``snapshot.table()``,
the same content as a long as-of table. The snapshot id is a hash of that content
(and of the rule-set version), so a stored settlement names exactly the policy it
was computed under.

Inheritance: a region's value for a parameter is its own from its first dated entry
on; before that date (and for everything it does not name) the parent's applies.
Exception rules and catalogue items inherit the same way, by rule id and item code.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from yibao.policy.catalog import CatalogItem, item_key
from yibao.policy.document import DatedValue, Parameter, RegionLayer
from yibao.policy.exception_rules import DatedEffect, ExceptionRule
from yibao.policy.regions import RegionTree
from yibao.policy.resolved import ResolvedPolicy
from yibao.policy.values import ABOLISHED, INHERIT, describe, to_json

#: bump when the meaning of a parameter or the calculation chain changes
RULESET_VERSION = "2026.11-1"


@dataclass(frozen=True, slots=True)
class AsOfRow:
    """One row of the as-of table: a parameter's value for a region on [valid_from, valid_to)."""

    region: str
    path: str
    valid_from: date
    valid_to: date | None
    value: object  # canonical JSON form
    shown: str
    unit: str
    description: str
    source: str
    defined_in: str  # the region whose file set it


@dataclass(slots=True)
class _Effective:
    params: dict[str, tuple[Parameter, tuple[DatedValue, ...]]]
    exceptions: dict[str, ExceptionRule]
    catalog: dict[str, list[CatalogItem]]
    breakpoints: list[date]


class PolicySnapshot:
    def __init__(
        self,
        tree: RegionTree,
        layers: dict[str, RegionLayer],
        catalogs: dict[str, list[CatalogItem]],
        overlays: Iterable[str] = (),
    ) -> None:
        self.tree = tree
        self.layers = layers
        self.catalogs = catalogs
        self.overlays = tuple(overlays)
        self._effective: dict[str, _Effective] = {}
        self._resolved: dict[tuple[str, int], ResolvedPolicy] = {}
        self._owners: dict[str, str] = {}
        self.id = self._hash()

    # -- content -------------------------------------------------------------------------

    def _hash(self) -> str:
        h = hashlib.sha256()
        h.update(RULESET_VERSION.encode())
        for region in sorted(self.tree, key=lambda r: r.code):
            h.update(json.dumps([region.code, region.name, region.pooling, region.parent]).encode())
        for code in sorted(self.layers):
            layer = self.layers[code]
            for path in sorted(layer.parameters):
                p = layer.parameters[path]
                rows = [[d.start.isoformat(), to_json(p.kind, d.value), d.source] for d in p.values]
                h.update(json.dumps([code, path, rows], ensure_ascii=False, sort_keys=True).encode())
            for rule_id in sorted(layer.exceptions):
                r = layer.exceptions[rule_id]
                effects = [
                    [d.start.isoformat(), None if d.effect is None else [d.effect.op, str(d.effect.operand)], d.source]
                    for d in r.values
                ]
                h.update(
                    json.dumps(
                        [code, rule_id, list(r.applies_to), r.when.to_json(), r.priority, effects],
                        ensure_ascii=False,
                        sort_keys=True,
                    ).encode()
                )
        for code in sorted(self.catalogs):
            for item in sorted(self.catalogs[code], key=lambda i: (i.code, str(i.valid_from))):
                h.update(json.dumps(item_key(item), ensure_ascii=False, default=str).encode())
        return "ps-" + h.hexdigest()[:16]

    def effective(self, region: str, field: str = "") -> _Effective:
        eff = self._effective.get(region)
        if eff is not None:
            return eff
        params: dict[str, tuple[Parameter, tuple[DatedValue, ...]]] = {}
        exceptions: dict[str, ExceptionRule] = {}
        catalog: dict[str, list[CatalogItem]] = {}
        for node in self.tree.chain(region, field):
            layer = self.layers.get(node.code)
            if layer is not None:
                for path, param in layer.parameters.items():
                    inherited = params.get(path)
                    params[path] = (param, merge_series(inherited[1] if inherited else (), param.values))
                exceptions.update(layer.exceptions)
            own: dict[str, list[CatalogItem]] = {}
            for item in self.catalogs.get(node.code, ()):
                own.setdefault(item.code, []).append(item)
            catalog.update(own)
        points: set[date] = set()
        for _, series in params.values():
            points.update(v.start for v in series)
        for rule in exceptions.values():
            points.update(d.start for d in rule.values)
        for items in catalog.values():
            for item in items:
                if item.valid_from:
                    points.add(item.valid_from)
                if item.valid_to:
                    points.add(item.valid_to + timedelta(days=1))
        eff = _Effective(params, exceptions, {c: v for c, v in catalog.items() if v}, sorted(points))
        self._effective[region] = eff
        return eff

    # -- the scalar engine's view ------------------------------------------------------------

    def owner(self, region: str, field: str = "") -> str:
        """The nearest region at or above ``region`` with policy of its own: regions without
        files of their own (a city's listed counties) share their parent's resolved policy."""
        found = self._owners.get(region)
        if found is None:
            chain = self.tree.chain(region, field)
            found = next(
                (r.code for r in reversed(chain) if r.code in self.layers or r.code in self.catalogs), chain[-1].code
            )
            self._owners[region] = found
        return found

    def at(self, region: str, on: date, field: str = "") -> ResolvedPolicy:
        """The policy in force for ``region`` on ``on`` (cached per interval between changes)."""
        region = self.owner(region, field)
        eff = self.effective(region, field)
        idx = bisect_right(eff.breakpoints, on)
        key = (region, idx)
        resolved = self._resolved.get(key)
        if resolved is not None:
            return resolved
        start = eff.breakpoints[idx - 1] if idx > 0 else None
        end = eff.breakpoints[idx] if idx < len(eff.breakpoints) else None
        values: dict[str, tuple[Parameter, DatedValue]] = {}
        for path, (param, series) in eff.params.items():
            current = _in_force(series, on)
            if current is not None and current.value is not ABOLISHED:
                values[path] = (param, current)
        exceptions: list[tuple[ExceptionRule, DatedEffect]] = []
        for rule in eff.exceptions.values():
            dated = rule.in_force(on)
            if dated is not None:
                exceptions.append((rule, dated))
        catalog: dict[str, CatalogItem] = {}
        for code, items in eff.catalog.items():
            for item in items:
                if item.valid_on(on):
                    catalog[code] = item
        resolved = ResolvedPolicy(self.id, region, start, end, values, exceptions, catalog)
        self._resolved[key] = resolved
        return resolved

    # -- the batch engine's view ---------------------------------------------------------------

    def table(self) -> list[AsOfRow]:
        """Every region's effective parameter values as an as-of table."""
        rows: list[AsOfRow] = []
        for region in sorted(self.tree, key=lambda r: r.code):
            eff = self.effective(region.code)
            for path in sorted(eff.params):
                param, series = eff.params[path]
                for i, dv in enumerate(series):
                    if dv.value is ABOLISHED:
                        continue
                    until = series[i + 1].start if i + 1 < len(series) else None
                    rows.append(
                        AsOfRow(
                            region=region.code,
                            path=path,
                            valid_from=dv.start,
                            valid_to=until,
                            value=to_json(param.kind, dv.value),
                            shown=describe(param.kind, dv.value),
                            unit=param.unit,
                            description=param.description,
                            source=dv.source,
                            defined_in=dv.region,
                        )
                    )
        return rows


def merge_series(parent: tuple[DatedValue, ...], child: tuple[DatedValue, ...]) -> tuple[DatedValue, ...]:
    """A child's dated values over its parent's.

    Before the child's first date the parent's values apply; from each child entry on, the
    child's value applies — unless the entry is ``inherit``, which hands that stretch back to
    the parent (its value in force then, and its changes until the child's next entry).
    """
    out = [v for v in parent if v.start < child[0].start]
    for i, entry in enumerate(child):
        end = child[i + 1].start if i + 1 < len(child) else None
        if entry.value is not INHERIT:
            out.append(entry)
            continue
        current = _in_force(parent, entry.start)
        out.append(replace(current, start=entry.start) if current else replace(entry, value=ABOLISHED))
        out.extend(v for v in parent if entry.start < v.start and (end is None or v.start < end))
    return tuple(out)


def _in_force(series: tuple[DatedValue, ...], on: date) -> DatedValue | None:
    found = None
    for dv in series:
        if dv.start <= on:
            found = dv
        else:
            break
    return found
