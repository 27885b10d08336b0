"""`yibao batch explain`: one batch-settled claim's full trace, regenerated through the scalar engine
under the policy snapshot the batch recorded, with its amounts compared to the stored result.

The batch stores compact results (amounts, fund rows, reason codes, snapshot id); the trace comes
back on demand (DESIGN.md §2 "Every fen is explained"): the person's earlier claims of the year
are replayed to rebuild the accumulators, then the claim is settled again with tracing on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.batch.scalar import settle_scalar
from yibao.engine import reverse, settle, tracing
from yibao.engine.settle import rule_date_of
from yibao.errors import InputError
from yibao.io.batch_files import RESULT_AMOUNTS, read_claims, read_persons, result_row


def _manifest(results: Path) -> dict[str, Any]:
    path = results / "manifest.json"
    if not path.exists():
        raise InputError("--results", f"{results} 不是批量结算输出目录（缺少 manifest.json）")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def explain(results: Path, claim_id: str) -> dict[str, Any]:
    from yibao.cli_batch import _snapshot

    m = _manifest(results)
    table = pq.read_table(results / "results.parquet")
    stored_rows = table.filter(pc.equal(table["claim_id"], claim_id)).to_pylist()
    if not stored_rows:
        raise InputError("--claim", f"批量结果中没有理赔 {claim_id}")
    stored = stored_rows[0]
    snapshot = _snapshot(Path(m["policy_dir"]), [Path(p) for p in m["overlays"]], list(m["catalogs"]))
    if snapshot.id != m["snapshot_id"]:
        raise InputError("--results", f"政策已变化：批量结算时快照 {m['snapshot_id']}，现为 {snapshot.id}；无法重现")
    claims = [c for c in read_claims(Path(m["claims"])) if c.person_id == stored["person_id"]]
    persons = read_persons(Path(m["persons"]))
    index = next(i for i, c in enumerate(claims) if c.claim.claim_id == claim_id)
    target = claims[index]
    year = rule_date_of(target.claim, snapshot).year
    before = settle_scalar(claims[:index], persons, snapshot)
    who = persons[(target.person_id, year)]
    state = before.closing.get((target.person_id, year), who.state)
    with tracing() as t:
        if target.reverses is None:
            again, _ = settle(target.claim, who.person, state, snapshot)
        else:
            original = next(s for bc, s, _ in before.settled if bc.claim.claim_id == target.reverses)
            again, _ = reverse(original, state)
    row = result_row(again, who.person, target.claim.hospital_level, target.reverses)
    amounts = [(k, int(stored[k]), int(row[k])) for k in RESULT_AMOUNTS]  # type: ignore[call-overload]
    same_rest = all(stored[k] == row[k] for k in ("details", "reasons")) or target.reverses is not None
    return {
        "trace": t.to_json(),
        "amounts": amounts,
        "agrees": same_rest and all(a == b for _, a, b in amounts),
        "snapshot_id": snapshot.id,
    }
