"""The policy in force for one region during one interval of dates, with exceptions applied.

``ResolvedPolicy.resolve(path, ctx)`` answers "what is this parameter for this
person and visit": the value in force, adjusted by every applicable exception in
priority order, together with a :class:`ParamUse` that records where each piece came
from (for the explanation trace).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from operator import attrgetter

from yibao.errors import NoPolicyInForce, RuleConflict
from yibao.policy.catalog import CatalogItem
from yibao.policy.context import RuleContext
from yibao.policy.document import DatedValue, Parameter
from yibao.policy.exception_rules import DatedEffect, ExceptionRule, apply_effect
from yibao.policy.values import describe


@dataclass(frozen=True, slots=True)
class AppliedException:
    rule_id: str
    description: str
    priority: int
    op: str
    operand: object
    source: str
    region: str
    effective_from: date


@dataclass(frozen=True, slots=True)
class ParamUse:
    """One parameter as read for a settlement: value, provenance and exceptions applied."""

    path: str
    description: str
    value: object
    shown: str  # the value in words, for the trace
    base_shown: str
    effective_from: date
    source: str
    region: str
    origin: str
    exceptions: tuple[AppliedException, ...]

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "description": self.description,
            "value": self.shown,
            "effective_from": self.effective_from.isoformat(),
            "source": self.source,
            "region": self.region,
            "defined_at": self.origin,
        }
        if self.exceptions:
            out["base_value"] = self.base_shown
            out["exceptions"] = [
                {
                    "rule": e.rule_id,
                    "description": e.description,
                    "priority": e.priority,
                    "effect": {e.op: str(e.operand)},
                    "source": e.source,
                    "region": e.region,
                    "effective_from": e.effective_from.isoformat(),
                }
                for e in self.exceptions
            ]
        return out


class ResolvedPolicy:
    """Parameters, exception rules and catalogue in force for ``region`` on ``[start, end)``."""

    def __init__(
        self,
        snapshot_id: str,
        region: str,
        start: date | None,
        end: date | None,
        values: dict[str, tuple[Parameter, DatedValue]],
        exceptions: list[tuple[ExceptionRule, DatedEffect]],
        catalog: dict[str, CatalogItem],
    ) -> None:
        self.snapshot_id = snapshot_id
        self.region = region
        self.start = start
        self.end = end
        self.values = values
        self.exceptions = exceptions
        self.catalog = catalog
        self._by_path: dict[str, list[tuple[ExceptionRule, DatedEffect]]] = {}
        self._cache: dict[tuple[str, RuleContext], ParamUse] = {}
        #: the context attributes any exception in force tests: contexts that agree on these
        #: resolve every parameter identically
        self.tested: tuple[str, ...] = tuple(
            sorted({name for rule, _ in exceptions for name in rule.when.attributes()})
        )
        getter = attrgetter(*self.tested) if self.tested else None
        self.projection: Callable[[RuleContext], object] = getter if getter is not None else _nothing
        #: free slot for the engine to memoise terms per projection (kept with the policy it came from)
        self.memo: dict[object, object] = {}

    def whole_number(self, path: str, on: date) -> int:
        """An unconditional integer value (fen, basis points, count) in force, or
        :class:`~yibao.errors.NoPolicyInForce` naming the path (enrolment and fund terms read these)."""
        found = self.values.get(path)
        if found is None:
            raise NoPolicyInForce(self.region, on.isoformat(), path)
        value = found[1].value
        assert isinstance(value, int)
        return value

    def has(self, path: str) -> bool:
        return path in self.values

    def _rules_for(self, path: str) -> list[tuple[ExceptionRule, DatedEffect]]:
        rules = self._by_path.get(path)
        if rules is None:
            rules = sorted(((r, d) for r, d in self.exceptions if r.covers(path)), key=lambda rd: rd[0].priority)
            self._by_path[path] = rules
        return rules

    def resolve(self, path: str, ctx: RuleContext, on: date) -> ParamUse:
        """The value of ``path`` for ``ctx``; :class:`NoPolicyInForce` if none is in force."""
        key = (path, ctx)
        use = self._cache.get(key)
        if use is not None:
            return use
        found = self.values.get(path)
        if found is None:
            raise NoPolicyInForce(self.region, on.isoformat(), path)
        param, dated = found
        value = dated.value
        applied: list[AppliedException] = []
        last_priority: int | None = None
        last_rule = ""
        for rule, effect in self._rules_for(path):
            if not rule.applies(ctx):
                continue
            if rule.priority == last_priority:
                raise RuleConflict(path, last_rule, rule.rule_id, rule.priority)
            last_priority, last_rule = rule.priority, rule.rule_id
            assert effect.effect is not None
            value = apply_effect(effect.effect, param.kind, _choices(param), value)
            applied.append(
                AppliedException(
                    rule.rule_id,
                    rule.description,
                    rule.priority,
                    effect.effect.op,
                    effect.effect.operand,
                    effect.source,
                    rule.region,
                    effect.start,
                )
            )
        use = ParamUse(
            path=path,
            description=param.description,
            value=value,
            shown=describe(param.kind, value),
            base_shown=describe(param.kind, dated.value),
            effective_from=dated.start,
            source=dated.source,
            region=dated.region,
            origin=str(dated.origin),
            exceptions=tuple(applied),
        )
        self._cache[key] = use
        return use

    def optional(self, path: str, ctx: RuleContext, on: date) -> ParamUse | None:
        return self.resolve(path, ctx, on) if path in self.values else None


def _nothing(_ctx: RuleContext) -> object:
    return ()


def _choices(param: Parameter) -> tuple[str, ...]:
    from yibao.policy.schema import definition_of

    definition = definition_of(param.path)
    return definition.choices if definition else ()
