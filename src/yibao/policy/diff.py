"""Differences between two snapshots: which region's which parameter changes, from when.

Compares the as-of tables (every dated value of every region, after inheritance), or,
with a date, the values in force on that date. Exception rules are compared by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yibao.policy.snapshot import PolicySnapshot
from yibao.policy.values import describe


@dataclass(frozen=True, slots=True)
class Change:
    region: str
    path: str
    valid_from: str
    before: str
    after: str
    source: str


def _dated(snapshot: PolicySnapshot, region: str | None) -> dict[tuple[str, str, str], tuple[str, str]]:
    return {
        (r.region, r.path, r.valid_from.isoformat()): (r.shown, r.source)
        for r in snapshot.table()
        if region is None or r.region == region
    }


def _on(snapshot: PolicySnapshot, region: str | None, day: date) -> dict[tuple[str, str, str], tuple[str, str]]:
    out: dict[tuple[str, str, str], tuple[str, str]] = {}
    for r in snapshot.tree:
        if region is not None and r.code != region:
            continue
        policy = snapshot.at(r.code, day)
        for path, (param, dv) in policy.values.items():
            out[(r.code, path, dv.start.isoformat())] = (describe(param.kind, dv.value), dv.source)
        for rule, effect in policy.exceptions:
            assert effect.effect is not None
            text = f"{rule.description}：{effect.effect.op} {effect.effect.operand}（{rule.when.describe()}）"
            out[(r.code, f"exception:{rule.rule_id}", effect.start.isoformat())] = (text, effect.source)
    return out


def diff_snapshots(
    base: PolicySnapshot, other: PolicySnapshot, region: str | None = None, day: date | None = None
) -> list[Change]:
    if day is not None:
        # compare by (region, path): the value in force, whatever its start date
        a2 = {(k[0], k[1]): (k[2], *v) for k, v in _on(base, region, day).items()}
        b2 = {(k[0], k[1]): (k[2], *v) for k, v in _on(other, region, day).items()}
        changes = []
        for key in sorted(set(a2) | set(b2)):
            old, new = a2.get(key), b2.get(key)
            if (old[1] if old else None) == (new[1] if new else None):
                continue
            changes.append(
                Change(
                    key[0],
                    key[1],
                    new[0] if new else (old[0] if old else ""),
                    old[1] if old else "（无）",
                    new[1] if new else "（无）",
                    new[2] if new else "",
                )
            )
        return changes
    da, db = _dated(base, region), _dated(other, region)
    out = []
    for dkey in sorted(set(da) | set(db)):
        before, after = da.get(dkey), db.get(dkey)
        if before == after:
            continue
        out.append(
            Change(
                dkey[0],
                dkey[1],
                dkey[2],
                before[0] if before else "（无）",
                after[0] if after else "（无）",
                after[1] if after else "",
            )
        )
    return out
