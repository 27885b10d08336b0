"""Batch settlement speed: the scalar executor over a generated city-year, and the vectorised
executor's first stage (every fee line's split in one DuckDB query) beside the scalar split of the
same lines, as a ratio.

    .venv/bin/python bench/batch_settle.py                     # scales 0.001 and 0.01 (≈ 2 min)
    .venv/bin/python bench/batch_settle.py --scales 0.001      # quicker

For each scale it generates the synthetic 潮州 2020 year (``yibao sim --batch``), reads it back as
batch files, then times: reading the files; the scalar executor settling every claim (the whole
chain: split, deductible, funds, 大病, 救助, account); the scalar fee split alone
(``engine.fee_split.split_fee_lines`` per claim, under the same policy context); the vectorised split
(building the Arrow tables and the DuckDB query), and checks the two splits agree. Reports claims/s
and fee lines/s and peak memory. It reports; it does not assert. The whole vectorised executor (every
rule) at city scale is measured by ``bench/batch_city.py``."""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import tempfile
import time
from datetime import date
from fractions import Fraction
from pathlib import Path

from yibao.batch.export import write_batch_inputs
from yibao.batch.scalar import settle_scalar
from yibao.batch.vector_split import _tables, split_context, split_lines_vectorised
from yibao.engine.fee_split import split_fee_lines
from yibao.io.batch_files import read_claims, read_persons
from yibao.io.policy_dir import load_policy_dir
from yibao.policy.snapshot import PolicySnapshot
from yibao.sim.catalog import generate_catalog
from yibao.sim.city import CITY, generate_city
from yibao.sim.visits import VisitGenerator

ROOT = Path(__file__).resolve().parent.parent


def scalar_split(claims, persons, snapshot) -> dict[str, tuple[int, ...]]:  # type: ignore[no-untyped-def]
    out = {}
    for bc in claims:
        c = bc.claim
        who, policy, ratio = split_context(bc, persons, snapshot)
        default_b = -1 if ratio is None else ratio
        t = split_fee_lines(c.fee_lines or (), policy.catalog, who.person_type, who.sex, who.age, c.visit_type,
                            c.hospital_level, default_b, False)  # fmt: skip
        out[c.claim_id] = t[:5]
    return out


def run(scale: Fraction, seed: int) -> dict[str, float]:
    base = load_policy_dir(ROOT / "policies")
    city = generate_city(scale, seed)
    items, priced = generate_catalog(seed)
    snapshot = PolicySnapshot(base.tree, base.layers, {**base.catalogs, CITY: items})
    visits = VisitGenerator(city, priced).visits()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_batch_inputs(folder, city, visits, snapshot, items)
        t = time.perf_counter()
        claims = read_claims(folder)
        persons = read_persons(folder / "persons.parquet")
        read_s = time.perf_counter() - t
    n_lines = sum(len(bc.claim.fee_lines or ()) for bc in claims)
    t = time.perf_counter()
    settle_scalar(claims, persons, snapshot)
    settle_s = time.perf_counter() - t
    t = time.perf_counter()
    scalar = scalar_split(claims, persons, snapshot)
    split_s = time.perf_counter() - t
    t = time.perf_counter()
    _tables(claims, persons, snapshot)  # the Python side alone: per-claim context and Arrow tables
    tables_s = time.perf_counter() - t
    t = time.perf_counter()
    con = split_lines_vectorised(claims, persons, snapshot)
    vector_s = time.perf_counter() - t
    rows = {
        r[0]: tuple(r[1:])
        for r in con.execute(
            "SELECT claim_id, total, full_self_pay, over_limit, self_pay_first, policy_range FROM claim_split JOIN ctx USING (idx)"
        ).fetchall()
    }
    con.close()
    agree = rows == scalar
    return {"claims": len(claims), "lines": n_lines, "read_s": read_s, "settle_s": settle_s, "split_s": split_s,
            "vector_s": vector_s, "tables_s": tables_s, "agree": float(agree)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", nargs="+", default=["0.001", "0.01"])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(f"# yibao batch benchmark — {date.today()} — {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, commit {commit}")  # fmt: skip
    print("| scale | claims | fee lines | read files | scalar executor (all rules) | scalar split | DuckDB split | "
          "DuckDB speed vs scalar split | of which building tables in Python | DuckDB query alone | "
          "query speed vs scalar split | splits agree |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for text in args.scales:
        r = run(Fraction(text), args.seed)
        c, n = r["claims"], r["lines"]
        print(f"| {text} | {c:,.0f} | {n:,.0f} | {r['read_s']:.1f} s | {r['settle_s']:.1f} s ({c / r['settle_s']:,.0f} claims/s) | "
              f"{r['split_s']:.1f} s ({n / r['split_s']:,.0f} lines/s) | {r['vector_s']:.1f} s ({n / r['vector_s']:,.0f} lines/s) | "
              f"{r['split_s'] / r['vector_s']:.2f}× | {r['tables_s']:.1f} s | {r['vector_s'] - r['tables_s']:.2f} s "
              f"({n / max(r['vector_s'] - r['tables_s'], 1e-9):,.0f} lines/s) | "
              f"{r['split_s'] / max(r['vector_s'] - r['tables_s'], 1e-9):.1f}× | {'yes' if r['agree'] else 'NO'} |")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
