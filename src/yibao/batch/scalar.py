"""The scalar batch executor: every claim through :func:`yibao.engine.settle`, in settlement order
per person-year, accumulators threaded from the persons' opening state; reversals in the stream
(a row whose ``reverses`` names an earlier claim) refund exactly what that claim paid
(:func:`yibao.engine.reverse`), as 2208/2305/2601 do in real time.

This is the reference the vectorised executor must equal to the fen (DESIGN.md §2), and the
executor that regenerates any claim's trace on demand (``yibao batch explain``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from yibao.engine import reverse, settle
from yibao.engine.result import Settlement
from yibao.engine.settle import rule_date_of
from yibao.engine.state import Accumulators
from yibao.errors import InputError
from yibao.io.batch_files import BatchClaim, BatchPerson
from yibao.policy.snapshot import PolicySnapshot


@dataclass
class BatchOutcome:
    settled: list[tuple[BatchClaim, Settlement, BatchPerson]] = field(default_factory=list)
    closing: dict[tuple[str, int], Accumulators] = field(default_factory=dict)


def _fresh(state: Accumulators) -> Accumulators:
    return replace(state, chronic={k: dict(v) for k, v in state.chronic.items()})


def settle_scalar(
    claims: Sequence[BatchClaim],
    persons: Mapping[tuple[str, int], BatchPerson],
    snapshot: PolicySnapshot,
    stop_after: str | None = None,
    on_each: Callable[[], None] | None = None,
) -> BatchOutcome:
    """Settle ``claims`` (already in settlement order); with ``stop_after``, stop once that claim is
    settled (what ``explain`` replays)."""
    out = BatchOutcome()
    state: dict[tuple[str, int], Accumulators] = {}
    done: dict[str, Settlement] = {}
    reversed_: set[str] = set()
    for bc in claims:
        claim = bc.claim
        year = rule_date_of(claim, snapshot).year
        who = persons.get((bc.person_id, year))
        if who is None:
            raise InputError(
                "persons", f"理赔 {claim.claim_id}：人员 {bc.person_id} 缺少 {year} 年的参保状态与期初累计"
            )
        key = (bc.person_id, year)
        if key not in state:
            state[key] = _fresh(who.state)
        if bc.reverses is None:
            result, after = settle(claim, who.person, state[key], snapshot)
        else:
            original = done.get(bc.reverses)
            if original is None:
                raise InputError("reverses", f"冲正 {claim.claim_id}：原理赔 {bc.reverses} 不在其之前")
            if bc.reverses in reversed_:
                raise InputError("reverses", f"冲正 {claim.claim_id}：原理赔 {bc.reverses} 已被冲正")
            negated, after = reverse(original, state[key])
            result = replace(negated, claim_id=claim.claim_id, reverses=bc.reverses)
            reversed_.add(bc.reverses)
        state[key] = after
        done[claim.claim_id] = result
        out.settled.append((bc, result, who))
        if on_each:
            on_each()
        if stop_after is not None and claim.claim_id == stop_after:
            break
    out.closing = state
    return out
