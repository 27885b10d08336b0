"""Batch settlement at city scale: the vectorised (DuckDB) executor on a generated city-year, with the
scalar executor on the same data as the ratio's other side, and the scaling curve.

    .venv/bin/python bench/batch_city.py --lines 1e6                 # with the scalar ratio (≈ 2 min)
    .venv/bin/python bench/batch_city.py --lines 1e6,1e7 --no-scalar-above 1e6
    .venv/bin/python bench/batch_city.py --lines 1.7e8 --no-scalar-above 0   # the issue's city-year

For each size it writes a synthetic 潮州 2020 year straight to Parquet with DuckDB (persons, claims
with about 12 fee lines each — 170 M lines ≈ 14 M claims, a 2.7-million-insured city — items from the
generated catalogue, every visit type, levels, transfers, day surgery, assistance categories, waiting
periods, 1 % reversals), then runs ``yibao batch settle --engine duckdb`` in a fresh process (the
same code path a user runs: read and check the files, settle, write results.parquet) and reports wall
time, claims/s, fee lines/s and the process's peak memory; at the sizes allowed it runs
``--engine scalar`` on the same files and reports the ratio, and checks the two results are equal.
With ``--spark`` it also runs ``--engine spark`` (local, every core) on the same files and reports
its wall time and whether its results (a dataset of parts, sorted by claim) equal the DuckDB
engine's. It reports; it does not assert.

    .venv/bin/python bench/batch_city.py --lines 1e5,1e6 --spark
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from yibao.io.catalog_files import write_catalog
from yibao.sim.catalog import generate_catalog

ROOT = Path(__file__).resolve().parent.parent
YIBAO = str(Path(sys.executable).parent / "yibao")
LINES_PER_CLAIM = 12
CLAIMS_PER_PERSON = 5  # 14 M claims over 2.7 M insured


def generate(folder: Path, lines: int, seed: int = 7) -> tuple[int, int]:
    """Persons, claims and lines Parquet for a city-year of about ``lines`` fee lines."""
    folder.mkdir(parents=True, exist_ok=True)
    items, _ = generate_catalog(5)
    write_catalog(folder / "catalog.csv", items)
    codes = sorted(item.code for item in items)
    claims = max(1, lines // LINES_PER_CLAIM)
    persons = max(1, claims // CLAIMS_PER_PERSON)
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed / 100})")
    con.execute("CREATE TABLE codes AS SELECT unnest(?) AS code, generate_subscripts(?, 1) - 1 AS i", [codes, codes])
    f = str(folder)
    con.execute(f"""COPY (
        SELECT 'P' || lpad(i::VARCHAR, 9, '0') AS person_id, 2020 AS year,
               '445100' AS region, ['445102', '445103', '445122'][1 + (hash(i) % 3)::INT] AS county,
               CASE WHEN hash(i, 1) % 10 < 4 THEN 'employee' ELSE 'resident' END AS scheme,
               CASE WHEN hash(i, 1) % 10 < 4 THEN ['active', 'retiree', 'flexible'][1 + (hash(i, 2) % 3)::INT]
                    ELSE ['adult', 'student', 'minor'][1 + (hash(i, 2) % 3)::INT] END AS person_type,
               CASE WHEN hash(i, 1) % 10 < 4 AND hash(i, 2) % 3 = 1 THEN 60 + (hash(i, 3) % 30)::INT
                    WHEN hash(i, 1) % 10 >= 4 AND hash(i, 2) % 3 > 0 THEN (hash(i, 3) % 18)::INT
                    ELSE 18 + (hash(i, 3) % 42)::INT END AS age,
               ['male', 'female'][1 + (hash(i, 4) % 2)::INT] AS sex,
               CASE WHEN hash(i, 5) % 100 < 4 THEN ['extreme_poverty', 'subsistence_allowance',
                    'near_subsistence', 'relapse_poverty'][1 + (hash(i, 6) % 4)::INT] ELSE 'none' END
                 AS assistance_category,
               CASE WHEN hash(i, 7) % 100 < 2 THEN DATE '2020-03-01' END AS benefits_from,
               CASE WHEN hash(i, 1) % 10 < 4 THEN ((hash(i, 8) % 300000) / 100.0)::DECIMAL(12, 2)
                    ELSE 0 END AS account_balance
        FROM range({persons}) t(i)) TO '{f}/persons.parquet' (FORMAT parquet)""")
    con.execute(f"""CREATE TABLE c AS SELECT i, 'C' || lpad(i::VARCHAR, 10, '0') AS claim_id,
               'P' || lpad((hash(i, 11) % {persons})::VARCHAR, 9, '0') AS person_id,
               ['inpatient', 'outpatient', 'outpatient', 'outpatient', 'outpatient', 'pharmacy', 'pharmacy',
                'chronic'][1 + (hash(i, 12) % 8)::INT] AS visit_type,
               (hash(i, 13) % 4)::INT AS hospital_level,
               DATE '2020-01-20' + (hash(i, 14) % 330)::INT AS settlement_date
        FROM range({claims}) t(i)""")
    con.execute(f"""COPY (
        SELECT c.claim_id, c.person_id, p.county AS insured_region, c.visit_type, c.hospital_level,
               c.settlement_date,
               CASE WHEN c.visit_type = 'inpatient' THEN c.settlement_date - (hash(i, 15) % 15)::INT END
                 AS admission_date,
               CASE WHEN c.visit_type = 'inpatient' THEN c.settlement_date END AS discharge_date,
               CASE WHEN c.visit_type = 'chronic' THEN 'malignant_tumour' ELSE '' END AS disease,
               c.visit_type = 'inpatient' AND hash(i, 16) % 10 = 0 AS day_surgery,
               CASE WHEN c.visit_type = 'inpatient' AND hash(i, 17) % 20 = 0 THEN (hash(i, 18) % 4)::INT END
                 AS transfer_from_level,
               ['0', '1', '1', '1'][1 + (hash(i, 19) % 4)::INT] AS acct_used_flag, NULL::VARCHAR AS reverses
        FROM c JOIN read_parquet('{f}/persons.parquet') p USING (person_id)
        UNION ALL  -- 1 % reversals, settled on the same day after their claim
        SELECT 'R' || c.claim_id, c.person_id, p.county, c.visit_type, c.hospital_level, c.settlement_date,
               CASE WHEN c.visit_type = 'inpatient' THEN c.settlement_date - (hash(i, 15) % 15)::INT END,
               CASE WHEN c.visit_type = 'inpatient' THEN c.settlement_date END,
               CASE WHEN c.visit_type = 'chronic' THEN 'malignant_tumour' ELSE '' END, FALSE, NULL, '1', c.claim_id
        FROM c JOIN read_parquet('{f}/persons.parquet') p USING (person_id) WHERE hash(i, 20) % 100 = 0
        ) TO '{f}/claims.parquet' (FORMAT parquet)""")
    n_codes = len(codes)
    con.execute(f"""COPY (
        SELECT c.claim_id, k.code AS item_code,
               (CASE WHEN c.visit_type = 'inpatient' THEN 1 + hash(c.i, j, 21) % 200000
                     ELSE 1 + hash(c.i, j, 21) % 20000 END / 100.0)::DECIMAL(12, 2) AS price,
               (1 + hash(c.i, j, 22) % 3)::DECIMAL(8, 0) AS quantity
        FROM c, range(1 + (hash(c.i, 23) % {2 * LINES_PER_CLAIM - 1})::BIGINT) r(j)
        JOIN codes k ON k.i = hash(c.i, j, 24) % {n_codes}
        ) TO '{f}/lines.parquet' (FORMAT parquet)""")
    n_claims = pq.ParquetFile(folder / "claims.parquet").metadata.num_rows
    n_lines = pq.ParquetFile(folder / "lines.parquet").metadata.num_rows
    return n_claims, n_lines


def settle(folder: Path, engine: str, out: Path) -> tuple[float, float]:
    """Run ``yibao batch settle`` in a fresh process: (wall seconds, peak RSS GiB)."""
    cmd = [YIBAO, "batch", "settle", "--claims", str(folder), "--persons", str(folder / "persons.parquet"),
           "--catalog", f"445100={folder / 'catalog.csv'}", "--out", str(out), "--engine", engine,
           "-p", str(ROOT / "policies")]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{engine} failed: {done.stderr[-2000:]}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return wall, peak_kib / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", default="1e6", help="fee lines per run, comma-separated (1e6,1e7,1e8,1.7e8)")
    ap.add_argument("--no-scalar-above", type=float, default=1e6, help="skip the scalar engine above this size")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the data (default: a temp dir)")
    ap.add_argument("--spark", action="store_true", help="also run --engine spark (local[*]) on the same data")
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"DuckDB {duckdb.__version__}")  # fmt: skip
    base = args.dir or Path(tempfile.mkdtemp(prefix="yibao-batch-"))
    extra = (" spark s | spark = duckdb |", "---:|:---:|") if args.spark else ("", "")
    print(
        "| fee lines | claims | generate s | duckdb s | claims/s | lines/s | peak GiB | scalar s | ratio |" + extra[0]
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + extra[1])
    for size in (int(float(x)) for x in args.lines.split(",")):
        folder = base / f"in-{size}"
        t0 = time.perf_counter()
        n_claims, n_lines = generate(folder, size)
        gen = time.perf_counter() - t0
        wall, peak = settle(folder, "duckdb", base / f"duckdb-{size}")
        scalar = ratio = "–"
        if size <= args.no_scalar_above:
            s_wall, _ = settle(folder, "scalar", base / f"scalar-{size}")
            same = all(pq.read_table(base / f"duckdb-{size}" / n).to_pylist() == pq.read_table(base / f"scalar-{size}" / n).to_pylist()
                       for n in ("results.parquet", "accumulators.parquet"))  # fmt: skip
            scalar, ratio = f"{s_wall:.1f}", f"{s_wall / wall:.1f}×" + ("" if same else " (results DIFFER)")
        spark = ""
        if args.spark:
            sp_wall, _ = settle(folder, "spark", base / f"spark-{size}")
            spark = (
                f" {sp_wall:.1f} | {'yes' if same_rows(base / f'duckdb-{size}', base / f'spark-{size}') else 'NO'} |"
            )
        print(f"| {n_lines:,} | {n_claims:,} | {gen:.1f} | {wall:.1f} | {n_claims / wall:,.0f} | "
              f"{n_lines / wall:,.0f} | {peak:.1f} | {scalar} | {ratio} |{spark}", flush=True)  # fmt: skip


def same_rows(duck: Path, spark: Path) -> bool:
    """The Spark engine's datasets of parts hold the DuckDB engine's rows, sorted by claim (person-year)."""
    for name, key in (("results.parquet", ["claim_id"]), ("accumulators.parquet", ["person_id", "year"])):
        a, b = pq.read_table(duck / name), pq.read_table(spark / name)
        order = [(k, "ascending") for k in key]
        if a.schema.names != b.schema.names or a.sort_by(order).to_pylist() != b.sort_by(order).to_pylist():
            return False
    return True


if __name__ == "__main__":
    main()
