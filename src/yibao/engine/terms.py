"""Benefit terms for one context: the parameters a settlement reads, resolved once and reused.

``terms_for(policy, ctx, on)`` returns a :class:`Terms` cached on the resolved policy
per :class:`RuleContext`, so the thousandth outpatient visit of a retiree at a level-2
hospital reads its ratio from a dict, not from the exception machinery.
"""

from __future__ import annotations

from datetime import date

from yibao.policy.context import RuleContext
from yibao.policy.resolved import ParamUse, ResolvedPolicy
from yibao.policy.scale import Scale


class Terms:
    __slots__ = ("_uses", "ctx", "on", "policy")

    def __init__(self, policy: ResolvedPolicy, ctx: RuleContext, on: date) -> None:
        self.policy = policy
        self.ctx = ctx
        self.on = on
        self._uses: dict[str, ParamUse] = {}

    def use(self, path: str) -> ParamUse:
        found = self._uses.get(path)
        if found is None:
            found = self.policy.resolve(path, self.ctx, self.on)
            self._uses[path] = found
        return found

    def has(self, path: str) -> bool:
        return self.policy.has(path)

    def amount(self, path: str) -> int:
        value = self.use(path).value
        assert isinstance(value, int)
        return value

    def cap(self, path: str) -> int | None:
        """An amount that may be unlimited (``None``); a missing parameter is unlimited too."""
        if not self.policy.has(path):
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
        if not self.policy.has(path):
            return default
        return self.use(path).value is True

    def choice(self, path: str, default: str) -> str:
        if not self.policy.has(path):
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
        return tuple(self.use(p) for p in paths if self.policy.has(p))


def terms_for(policy: ResolvedPolicy, ctx: RuleContext, on: date) -> Terms:
    found = policy.memo.get(ctx)
    if found is None:
        found = Terms(policy, ctx, on)
        policy.memo[ctx] = found
    assert isinstance(found, Terms)
    return found
