"""Benefit terms: the parameters a settlement reads, resolved once per kind of person and visit.

Two layers:

* :class:`Terms` is shared. It caches each parameter's :class:`ParamUse` for one
  *projection* of the rule context — the attributes the exception rules in force actually
  test — on the resolved policy, so the thousandth outpatient visit of a retiree reads its
  ratio from a dict, not from the exception machinery.
* :class:`Reader` is made per settlement. It answers through the shared cache and records
  which exception rules the settlement actually relied on, so a settlement's reason codes
  depend on its own inputs only, never on what was settled before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar, cast

from yibao.policy.context import RuleContext
from yibao.policy.resolved import ParamUse, ResolvedPolicy
from yibao.policy.scale import Scale

T = TypeVar("T")


class Terms:
    """Shared, cached parameter resolutions for one context projection."""

    __slots__ = ("bundles", "ctx", "policy", "uses")

    def __init__(self, policy: ResolvedPolicy, ctx: RuleContext) -> None:
        self.policy = policy
        self.ctx = ctx
        self.uses: dict[str, ParamUse] = {}
        #: a rule step's parameters gathered once: key → (value, exception rules it relied on)
        self.bundles: dict[object, tuple[object, tuple[str, ...]]] = {}


class Reader:
    """One settlement's view of the terms: typed accessors, and the exceptions it used."""

    __slots__ = ("applied", "on", "policy", "terms", "uses_cache")

    def __init__(self, terms: Terms, on: date) -> None:
        self.terms = terms
        self.policy = terms.policy
        self.on = on
        self.uses_cache = terms.uses
        self.applied: list[str] = []

    def use(self, path: str) -> ParamUse:
        found = self.uses_cache.get(path)
        if found is None:
            found = self.policy.resolve(path, self.terms.ctx, self.on)
            self.uses_cache[path] = found
        if found.exceptions:
            for e in found.exceptions:
                if e.rule_id not in self.applied:
                    self.applied.append(e.rule_id)
        return found

    def has(self, path: str) -> bool:
        return path in self.policy.values

    def bundle(self, key: object, build: Callable[[Reader], T]) -> T:
        """The parameters one rule step needs, gathered by ``build`` once per shared terms.

        The exception rules ``build`` relied on are recorded on this reader each time, so the
        bundle is as explainable as reading the parameters one by one — and much cheaper.
        """
        found = self.terms.bundles.get(key)
        if found is None:
            probe = Reader(self.terms, self.on)
            found = (build(probe), tuple(probe.applied))
            self.terms.bundles[key] = found
        value, applied = found
        for rule in applied:
            if rule not in self.applied:
                self.applied.append(rule)
        return cast(T, value)

    def amount(self, path: str) -> int:
        value = self.use(path).value
        assert isinstance(value, int)
        return value

    def cap(self, path: str) -> int | None:
        """An amount that may be unlimited (``None``); a missing parameter is unlimited too."""
        if path not in self.policy.values:
            return None
        value = self.use(path).value
        assert value is None or isinstance(value, int)
        return value

    def ratio(self, path: str) -> int:
        return self.amount(path)

    def scale(self, path: str) -> Scale:
        value = self.use(path).value
        assert isinstance(value, Scale)
        return value

    def flag(self, path: str, default: bool = False) -> bool:
        if path not in self.policy.values:
            return default
        return self.use(path).value is True

    def choice(self, path: str, default: str) -> str:
        if path not in self.policy.values:
            return default
        value = self.use(path).value
        assert isinstance(value, str)
        return value

    def ratios(self, path: str) -> tuple[int, ...]:
        value = self.use(path).value
        assert isinstance(value, tuple)
        return value

    def uses(self, *paths: str) -> tuple[ParamUse, ...]:
        """The ParamUses of the paths that exist, for a trace step."""
        return tuple(self.use(p) for p in paths if p in self.policy.values)


def terms_for(policy: ResolvedPolicy, ctx: RuleContext, on: date) -> Reader:
    """A fresh reader over the shared terms for ``ctx``'s projection."""
    key = policy.projection(ctx)
    found = policy.memo.get(key)
    if found is None:
        found = Terms(policy, ctx)
        policy.memo[key] = found
    assert isinstance(found, Terms)
    return Reader(found, on)
