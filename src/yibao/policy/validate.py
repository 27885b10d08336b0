"""Validate a compiled snapshot: every region, every interval, every exception.

Parsing already rejected malformed files; this pass checks what only the whole tree
can show: exceptions whose ``applies_to`` matches nothing, effects that do not fit the
parameters they touch, equal-priority conflicts on the representative contexts, and
the national benefit-list envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from yibao.errors import PolicyError, PolicyFileError
from yibao.policy import envelope
from yibao.policy.context import Condition
from yibao.policy.exception_rules import apply_effect
from yibao.policy.schema import definition_of, expand_definitions
from yibao.policy.snapshot import PolicySnapshot
from yibao.policy.values import ABOLISHED, INHERIT


@dataclass(frozen=True, slots=True)
class Report:
    regions: int
    parameters: int
    values: int
    exceptions: int
    catalog_items: int
    checked_intervals: int


def validate(snapshot: PolicySnapshot) -> Report:
    """Raise the first :class:`PolicyFileError` found, or return what was checked."""
    n_params = n_values = n_exc = n_items = n_intervals = 0
    for layer in snapshot.layers.values():
        n_params += len(layer.parameters)
        n_values += sum(len(p.values) for p in layer.parameters.values())
        n_exc += len(layer.exceptions)
        _check_exceptions(snapshot, layer.code)
    n_items = sum(len(items) for items in snapshot.catalogs.values())
    for region in snapshot.tree:
        if region.code in snapshot.layers:
            _check_conflicts(snapshot, region.code)
    for region in snapshot.tree:
        if region.code not in snapshot.layers and region.code not in snapshot.catalogs:
            continue  # identical to its parent, already checked there
        eff = snapshot.effective(region.code)
        for on in eff.breakpoints:
            n_intervals += 1
            policy = snapshot.at(region.code, on)
            findings = envelope.check(policy, on)
            if findings:
                raise envelope.violation(findings[0])
    return Report(len(snapshot.tree), n_params, n_values, n_exc, n_items, n_intervals)


def _check_exceptions(snapshot: PolicySnapshot, code: str) -> None:
    """Each rule must touch some parameter here or below, and fit every parameter it touches."""
    regions = [code, *(r.code for r in snapshot.tree.descendants(code))]
    for rule in snapshot.layers[code].exceptions.values():
        matched = False
        for region in regions:
            eff = snapshot.effective(region)
            if eff.exceptions.get(rule.rule_id) is not rule:
                continue  # overridden below by a rule with the same id
            for path, (param, series) in eff.params.items():
                if not any(fnmatchcase(path, pat) for pat in rule.applies_to):
                    continue
                matched = True
                definition = definition_of(path)
                choices = definition.choices if definition else ()
                for dated_effect in rule.values:
                    if dated_effect.effect is None:
                        continue
                    for dv in series:
                        if dv.value is ABOLISHED or dv.value is INHERIT:
                            continue
                        try:
                            apply_effect(dated_effect.effect, param.kind, choices, dv.value)
                        except PolicyFileError:
                            raise
                        except PolicyError as e:
                            raise PolicyFileError(rule.origin.file, rule.origin.path, e.message) from None
        if not matched:
            for pattern in rule.applies_to:
                if not any(fnmatchcase(c, pattern) for c in _candidates(snapshot)):
                    raise PolicyFileError(
                        rule.origin.file, rule.origin.path + ".applies_to", f"{pattern!r} 不匹配任何已声明的参数路径"
                    )


def _candidates(snapshot: PolicySnapshot) -> set[str]:
    """Every declared path (placeholders expanded) and every path any layer defines."""
    found = set(expand_definitions())
    for layer in snapshot.layers.values():
        found.update(layer.parameters)
    return found


def _check_conflicts(snapshot: PolicySnapshot, code: str) -> None:
    """Two rules of equal priority that can both apply to one parameter are refused at load."""
    eff = snapshot.effective(code)
    rules = sorted(eff.exceptions.values(), key=lambda r: (r.priority, r.rule_id))
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            if b.priority != a.priority:
                break
            if not overlaps(a.when, b.when):
                continue
            shared = [p for p in eff.params if a.covers(p) and b.covers(p)]
            if shared:
                raise PolicyFileError(
                    b.origin.file,
                    b.origin.path,
                    f"与规则 {a.rule_id}（{a.origin.file}）优先级同为 {a.priority}，且可能同时适用于 {shared[0]}；"
                    "请设定不同的优先级或互斥的条件",
                )


def overlaps(a: Condition, b: Condition) -> bool:
    """Whether some context can satisfy both conditions."""
    sa, sb = dict(a.allowed), dict(b.allowed)
    for name in set(sa) & set(sb):
        if not sa[name] & sb[name]:
            return False
    low = max(a.age_at_least or 0, b.age_at_least or 0)
    high = min(x for x in (a.age_below, b.age_below, 10_000) if x is not None)
    return low < high
