"""The batch files: claims with their fee lines, persons with their opening accumulators, and the
results written back — Parquet (the format for millions of rows), CSV accepted for input.

A claims folder holds ``claims.parquet`` (or ``.csv``) and ``lines.parquet`` (or ``.csv``); the
persons file has one row per person × year with the person's status and opening accumulators.
Column names are the claim and state JSON's (docs/claim-format.md) — one definition, read through
the same checked readers as ``yibao settle`` (:func:`yibao.io.claim_json.read_claim`,
:func:`~yibao.io.claim_json.read_state`), so a batch claim means exactly what a single claim means.
Amounts in input files are yuan (text, decimal or integer columns; a binary-float column is refused);
results are integer fen. Reading is all-or-nothing: the first bad row raises an
:class:`~yibao.errors.InputError` naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from yibao.engine.model import Claim, Person
from yibao.engine.result import Settlement
from yibao.engine.state import COUNTERS, Accumulators
from yibao.errors import InputError
from yibao.io.claim_json import read_claim, read_person, read_state
from yibao.io.fields import Fields
from yibao.io.settlement_json import setlinfo_fen

CLAIM_COLUMNS = ("claim_id", "person_id", "insured_region", "visit_type", "hospital_level", "settlement_date")
LINE_COLUMNS = ("claim_id", "item_code", "price", "quantity")
PERSON_COLUMNS = ("person_id", "scheme", "person_type", "age", "region", "year")
MONEY = frozenset({"price", "amount", "account_balance", "mutual_aid_balance", *COUNTERS} - {"admissions"})


@dataclass(frozen=True, slots=True)
class BatchClaim:
    """A claim in settlement order; ``reverses`` names the claim a reversal row cancels (冲正)."""

    order: int
    person_id: str
    claim: Claim
    reverses: str | None


@dataclass(frozen=True, slots=True)
class BatchPerson:
    person: Person
    state: Accumulators


def _rows(path: Path) -> tuple[list[dict[str, Any]], str]:
    if not path.exists():
        raise InputError(str(path), "文件不存在")
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            return [dict(r) for r in csv.DictReader(f)], path.name
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(path.name, f"不是可读的 Parquet 文件：{e}") from None
    for field in table.schema:
        if field.name in MONEY and pa.types.is_floating(field.type):
            raise InputError(f"{path.name}:{field.name}", "金额列不能是二进制浮点数，请用 decimal、字符串或整数（元）")
    return table.to_pylist(), path.name


def find_input(folder: Path, stem: str) -> Path:
    for suffix in (".parquet", ".csv"):
        if (folder / f"{stem}{suffix}").exists():
            return folder / f"{stem}{suffix}"
    raise InputError(str(folder), f"缺少 {stem}.parquet（或 {stem}.csv）")


def _require(rows: list[dict[str, Any]], name: str, columns: Sequence[str]) -> None:
    present = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in present]
    if rows and missing:
        raise InputError(name, f"缺少列：{'、'.join(missing)}")


def _text(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _at(name: str, row: int, e: InputError) -> InputError:
    return InputError(f"{name}:{row}:{e.field}", e.reason)


def read_claims(folder: Path) -> list[BatchClaim]:
    """The claims of ``folder`` with their lines, in settlement order: by person, date, then file order."""
    claim_rows, claims_name = _rows(find_input(folder, "claims"))
    line_rows, lines_name = _rows(find_input(folder, "lines"))
    _require(claim_rows, claims_name, CLAIM_COLUMNS)
    _require(line_rows, lines_name, LINE_COLUMNS)
    lines: dict[str, list[dict[str, object]]] = defaultdict(list)
    for n, r in enumerate(line_rows, start=2):
        lines[str(r["claim_id"])].append({k: _text(v) for k, v in r.items()} | {"_row": n})
    out: list[BatchClaim] = []
    seen: set[str] = set()
    for n, r in enumerate(claim_rows, start=2):
        doc: dict[str, object] = {k: _text(v) for k, v in r.items()}
        claim_id = str(doc["claim_id"])
        if claim_id in seen:
            raise InputError(f"{claims_name}:{n}:claim_id", f"理赔编号 {claim_id} 重复")
        seen.add(claim_id)
        reverses = str(doc.get("reverses") or "").strip() or None
        doc["person"] = {"person_id": doc.get("person_id"), "scheme": "resident", "person_type": "adult", "age": 0}
        own = lines.pop(claim_id, [])
        if reverses is None:
            if not own:
                raise InputError(f"{claims_name}:{n}:claim_id", f"理赔 {claim_id} 没有费用明细")
            doc["fee_lines"] = [{k: v for k, v in x.items() if k != "_row"} for x in own]
        else:
            doc["totals"] = {"total": 0, "policy_range": 0}  # a reversal carries no bill of its own
        try:
            claim, _ = read_claim(doc)
        except InputError as e:
            where = e.field
            if where.startswith("fee_lines["):
                k = int(where[len("fee_lines[") : where.index("]")])
                raise InputError(f"{lines_name}:{own[k]['_row']}:{where[where.index(']') + 2 :]}", e.reason) from None
            raise _at(claims_name, n, e) from None
        out.append(BatchClaim(n - 2, str(doc["person_id"]), claim, reverses))
    if lines:
        orphan = sorted(lines)[0]
        raise InputError(f"{lines_name}:{lines[orphan][0]['_row']}:claim_id", f"费用明细所属理赔 {orphan} 不存在")
    out.sort(key=lambda c: (c.person_id, c.claim.settlement_date, c.order))
    return out


def read_persons(path: Path) -> dict[tuple[str, int], BatchPerson]:
    """Each person's status and opening accumulators, per year."""
    rows, name = _rows(path)
    _require(rows, name, PERSON_COLUMNS)
    out: dict[tuple[str, int], BatchPerson] = {}
    for n, r in enumerate(rows, start=2):
        doc = {k: _text(v) for k, v in r.items()}
        chronic = doc.get("chronic") or "{}"
        try:
            doc["chronic"] = json.loads(chronic) if isinstance(chronic, str) else chronic
        except json.JSONDecodeError:
            raise InputError(f"{name}:{n}:chronic", "应为 JSON 对象") from None
        try:
            person = read_person(Fields(doc, ""))
            state = read_state(doc)
            benefits = Fields(doc, "").day("benefits_from", required=False)
            cap_raise = ci_cap_raise(Fields(doc, ""))
        except InputError as e:
            raise _at(name, n, InputError(e.field.removeprefix("state."), e.reason)) from None
        key = (person.person_id, state.year)
        if key in out:
            raise InputError(f"{name}:{n}:person_id", f"{person.person_id} 在 {state.year} 年重复")
        out[key] = BatchPerson(replace(person, benefits_from=benefits, critical_illness_cap_raise=cap_raise), state)
    return out


def ci_cap_raise(f: Fields) -> int:
    """The optional ``ci_cap_raise`` column: basis points by which the person's 大病 annual cap is raised
    for continuous enrolment (连续参保激励, e.g. 1000 = +10 %), as enrolment computes it; 0 when absent."""
    bp = f.integer("ci_cap_raise", required=False, default=0)
    assert bp is not None
    if not 0 <= bp <= 10_000:
        raise InputError("ci_cap_raise", f"大病保险封顶线提高比例应为 0 到 10000 个基点：{bp}")
    return bp


RESULT_AMOUNTS = ("total", "full_self_pay", "over_limit", "self_pay_first", "policy_range", "deductible_paid",
                  "fund_pay_total", "personal_burden", "account_pay", "mutual_aid_pay", "cash_pay",
                  "hospital_burden")  # fmt: skip


def result_row(s: Settlement, person: Person, hospital_level: int, reverses: str | None) -> dict[str, object]:
    """One claim's result: the amounts of the engine (fen), setlinfo's fund fields, the fund rows and
    reason codes, the snapshot it was settled under, and what a comparison groups by."""
    return {
        "claim_id": s.claim_id,
        "person_id": s.person_id,
        "region": s.region,
        "scheme": s.scheme,
        "person_type": person.person_type,
        "assistance_category": person.assistance_category,
        "visit_type": s.visit_type,
        "hospital_level": hospital_level,
        "rule_date": s.rule_date,
        "year": s.year,
        "reverses": reverses,
        "snapshot_id": s.snapshot_id,
        **{k: getattr(s, k) for k in RESULT_AMOUNTS},
        "pooled_ratio": s.pooled_ratio,
        **{f"setl_{k}": v for k, v in setlinfo_fen(s).items() if k.endswith("_pay") and k not in ("acct_pay",)},
        "details": ";".join(f"{d.fund_code}:{d.amount}" for d in s.details),
        "reasons": ",".join(canonical_reasons(s.reasons)),
    }


def canonical_reasons(reasons: Sequence[str]) -> list[str]:
    """Reason codes as a batch result stores them: the outcome codes in chain order (WAITING, CAP-POOL,
    REVERSAL), then the exception rules relied on, sorted — a set, whichever step read them first."""
    return [r for r in reasons if not r.startswith("EXC:")] + sorted(r for r in reasons if r.startswith("EXC:"))


def state_row(a: Accumulators) -> dict[str, object]:
    return {
        "person_id": a.person_id,
        "scheme": a.scheme,
        "region": a.region,
        "year": a.year,
        **{k: getattr(a, k) for k in COUNTERS},
        "account_balance": a.account_balance,
        "chronic": json.dumps(a.chronic, sort_keys=True),
    }


def write_rows(path: Path, rows: Iterable[dict[str, object]]) -> int:
    data = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(data) if data else pa.table({}), path)
    return len(data)


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    yield from _rows(path)[0]
