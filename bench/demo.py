"""Wall time and peak memory of `yibao demo` at several scales, and the projection for the full city.

Each scale runs as its own process (``yibao demo --scale S --out <tmp>``), so the peak resident
memory is that run's alone (``getrusage(RUSAGE_CHILDREN)`` after each child, which on Linux is
the largest child so far — the scales run smallest first). The projection for the full city
(scale 1, 266.30万 insured) extrapolates the per-settlement time of the largest scale measured,
which is linear in the visits: nothing in the demo grows faster than the number of settlements.

    .venv/bin/python bench/demo.py                    # default 0.01 and 0.1 (≈ 12 min on 2 cores)
    .venv/bin/python bench/demo.py --scales 0.001 0.01
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
YIBAO = Path(sys.executable).parent / "yibao"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def run(scale: str, out: Path, db: str | None) -> dict[str, object]:
    cmd = [str(YIBAO), "demo", "--scale", scale, "--out", str(out)]
    if db:
        cmd += ["--db", db]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"yibao demo --scale {scale} failed:\n{done.stderr[-2000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {
        "scale": scale,
        "insured": summary["insured_total"],
        "settlements": summary["settlements_total"],
        "wall_s": wall,
        "peak_mib": peak_kib / 1024,
        "db_mib": (out / "yibao.db").stat().st_size / 2**20 if (out / "yibao.db").exists() else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", default=["0.01", "0.1"])
    parser.add_argument("--db", help="run against this database URL (must be empty) instead of SQLite files")
    args = parser.parse_args()
    print(f"# yibao demo benchmark — {time.strftime('%Y-%m-%d')} — {machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in sorted(args.scales, key=float):
            rows.append(run(scale, Path(tmp) / scale, args.db))
            r = rows[-1]
            print(f"scale {scale}: {r['insured']:,} insured, {r['settlements']:,} settlements, "
                  f"{r['wall_s']:.1f} s, peak {r['peak_mib']:.0f} MiB", flush=True)  # fmt: skip
    print()
    print("| scale | insured | settlements | wall time | settlements/s | peak memory | database |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        rate = r["settlements"] / r["wall_s"]  # type: ignore[operator]
        db = f"{r['db_mib']:.0f} MiB" if r["db_mib"] is not None else "—"
        print(f"| {r['scale']} | {r['insured']:,} | {r['settlements']:,} | {r['wall_s']:.1f} s | {rate:,.0f} "
              f"| {r['peak_mib']:.0f} MiB | {db} |")  # fmt: skip
    base = rows[0]
    for r in rows[1:]:
        ratio = r["wall_s"] / base["wall_s"]  # type: ignore[operator]
        print(f"\nscale {r['scale']} vs {base['scale']}: {ratio:.2f}× the time for "
              f"{r['settlements'] / base['settlements']:.2f}× the settlements")  # type: ignore[operator]  # fmt: skip
    last = rows[-1]
    per = last["wall_s"] / last["settlements"]  # type: ignore[operator]
    full = per * last["settlements"] / float(last["scale"])  # type: ignore[arg-type, operator]
    print(f"\nprojected full city (scale 1): ≈ {full / 60:.0f} min on this machine, "
          f"≈ {last['settlements'] / float(last['scale']):,.0f} settlements")  # type: ignore[arg-type, operator]  # fmt: skip


if __name__ == "__main__":
    main()
