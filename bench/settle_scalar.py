"""Settlements per second of the scalar engine on realistic random claims.

Target (the issue): ≥ 20,000 outpatient and ≥ 2,000 inpatient settlements per second
on one core. Claims come from ``bench/claimgen.py`` (seeded, so a seed gives the same
catalogue, persons and claims everywhere): outpatient 3–15 fee lines, inpatient
50–200, chronic (门诊慢特病) 3–40, for 潮州市 445100 and its counties, against the
shipped policy with a generated ~5,000-item catalogue.

Method: generate; settle every claim once (checks that nothing raises and the
identities hold, and warms the per-context policy caches, as a running service's
would be); then, ``--repeats`` times, settle each group in date order in one process,
threading each person's accumulators from one settlement to the next. Each repeat
times every variant back to back (plain; tracing on; ``keep_lines=True``; pre-split
totals instead of fee lines), so the ratios between variants come from the same
conditions. Figures are the best of the repeats (the usual estimator of intrinsic cost
on a shared machine: noise only ever adds time); medians are shown beside them. The result checksum is a hash of every
plain settlement's amounts: an optimisation that changes it changed the results.

    .venv/bin/python bench/settle_scalar.py                 # ≈ 45 s on a 2-core VM
    .venv/bin/python bench/settle_scalar.py --profile       # + cProfile of one inpatient batch

It reports; it does not assert (exit 0).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime
import gc
import hashlib
import io
import os
import platform
import pstats
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from claimgen import YEAR, GenClaim, Generator, PersonRecord
from yibao.engine import Accumulators, SplitTotals, settle, tracing
from yibao.engine.settle import area_of, context_of
from yibao.policy.snapshot import PolicySnapshot

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"outpatient": 20_000, "inpatient": 2_000}
VARIANTS = ("plain", "tracing", "keep_lines", "totals")
VARIANT_NOTE = {
    "plain": "keep_lines=False, no trace",
    "tracing": "`with tracing():` around each settle",
    "keep_lines": "keep_lines=True (per-line split kept)",
    "totals": "pre-split SplitTotals, no fee lines: the chain without the fee split",
}


# -- machine -----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for row in f:
                if row.startswith("model name"):
                    return row.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> list[str]:
    return [
        f"date      {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"platform  {platform.platform()}",
        f"cpu       {cpu_model()} ({os.cpu_count()} logical CPUs; one core used)",
        f"python    {platform.python_implementation()} {platform.python_version()} "
        f"({' '.join(platform.python_build())}, {platform.python_compiler()})",
    ]


# -- workload ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Group:
    name: str
    claims: list[GenClaim]
    totals_claims: list[GenClaim] = dataclasses.field(default_factory=list)

    @property
    def lines(self) -> int:
        return sum(len(c.claim.fee_lines or ()) for c in self.claims)


def initial_states(persons: Sequence[PersonRecord], snapshot: PolicySnapshot) -> dict[str, Accumulators]:
    """Each person's accumulators at the start of the year: zero, with the account balance."""
    out = {}
    for rec in persons:
        p = rec.person
        pooling = snapshot.tree.pooling_region(rec.insured_region).code
        out[p.person_id] = Accumulators(p.person_id, p.scheme, pooling, YEAR, account_balance=rec.account_balance)
    return out


def check_pass(group: Group, snapshot: PolicySnapshot, start: dict[str, Accumulators]) -> tuple[float, str, list[str]]:
    """Settle every claim once: drop (and report) claims that raise, build the totals-only twins.

    Returns the elapsed seconds (first pass: cold per-context caches), the result checksum
    and the problems found."""
    problems: list[str] = []
    seen: Counter[str] = Counter()
    kept: list[GenClaim] = []
    states = dict(start)
    digest = hashlib.sha256()
    t0 = time.perf_counter()
    for gc_ in group.claims:
        pid = gc_.person.person.person_id
        try:
            s, st = settle(gc_.claim, gc_.person.person, states[pid], snapshot)
        except Exception as e:
            key = f"{type(e).__name__}: {e}"
            if not seen[key]:
                problems.append(f"{group.name} {gc_.claim.claim_id}: {key}\n{traceback.format_exc()}")
            seen[key] += 1
            continue
        states[pid] = st
        kept.append(gc_)
        broken = s.identities()
        if broken:
            problems.append(f"{group.name} {gc_.claim.claim_id}: identities broken: {broken}")
        digest.update(
            f"{s.claim_id}|{s.total}|{s.full_self_pay}|{s.over_limit}|{s.self_pay_first}|{s.policy_range}|"
            f"{s.fund_pay_total}|{s.account_pay}|{s.cash_pay}|{sorted((d.fund_code, d.amount) for d in s.details)}\n".encode()
        )
        totals = SplitTotals(s.total, s.full_self_pay, s.over_limit, s.self_pay_first, s.policy_range)
        group.totals_claims.append(
            dataclasses.replace(gc_, claim=dataclasses.replace(gc_.claim, fee_lines=None, totals=totals))
        )
    elapsed = time.perf_counter() - t0
    for key, n in seen.items():
        problems.append(f"{group.name}: {n} claim(s) raised {key}")
    group.claims = kept
    return elapsed, digest.hexdigest()[:16], problems


def run(claims: Sequence[GenClaim], snapshot: PolicySnapshot, start: dict[str, Accumulators], variant: str) -> float:
    """Settle ``claims`` in order, threading accumulators; returns elapsed seconds."""
    states = dict(start)
    keep = variant == "keep_lines"
    gc.collect()
    if variant == "tracing":
        t0 = time.perf_counter()
        for c in claims:
            pid = c.person.person.person_id
            with tracing():
                _, states[pid] = settle(c.claim, c.person.person, states[pid], snapshot)
        return time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in claims:
        pid = c.person.person.person_id
        _, states[pid] = settle(c.claim, c.person.person, states[pid], snapshot, keep)
    return time.perf_counter() - t0


def spin() -> float:
    """A fixed pure-Python loop (ms): run between timed passes, its spread shows the machine's noise."""
    t0 = time.perf_counter()
    acc = 0
    for i in range(1_000_000):
        acc += i
    return (time.perf_counter() - t0) * 1e3


def distinct_contexts(groups: Sequence[Group], snapshot: PolicySnapshot) -> int:
    seen = set()
    for g in groups:
        for c in g.claims:
            pooling = snapshot.tree.pooling_region(c.claim.insured_region)
            seen.add(context_of(c.claim, c.person.person, area_of(pooling, c.claim.treatment_region)))
    return len(seen)


# -- output ------------------------------------------------------------------------------------


def n(x: float) -> str:
    return f"{x:,.0f}"


def describe_groups(groups: Sequence[Group]) -> None:
    print(f"{'group':<11} {'claims':>8} {'lines':>10} {'lines/claim':>12} {'median total':>13} {'p90 total':>11}")
    for g in groups:
        totals = sorted(sum(ln.amount for ln in c.claim.fee_lines or ()) for c in g.claims)
        if not totals:
            continue
        print(
            f"{g.name:<11} {n(len(g.claims)):>8} {n(g.lines):>10} {g.lines / len(g.claims):>12.1f} "
            f"{statistics.median(totals) / 100:>12,.2f}元 {totals[int(len(totals) * 0.9)] / 100:>10,.2f}元"
        )


def profile_inpatient(group: Group, snapshot: PolicySnapshot, start: dict[str, Accumulators], top: int) -> None:
    prof = cProfile.Profile()
    prof.enable()
    run(group.claims, snapshot, start, "plain")
    prof.disable()
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats(key).print_stats(top)
        print(f"\n-- cProfile, one warm inpatient batch ({len(group.claims):,} claims), top {top} by {key} --")
        text = out.getvalue().replace(str(ROOT) + "/", "").replace(sys.prefix, "<venv>")
        print(text[text.find("   ncalls") :].rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outpatient", type=int, default=5_000, help="outpatient claims (3–15 lines)")
    ap.add_argument("--inpatient", type=int, default=600, help="inpatient claims (50–200 lines)")
    ap.add_argument("--chronic", type=int, default=500, help="门诊慢特病 claims (3–40 lines)")
    ap.add_argument("--persons", type=int, default=3_000, help="insured persons the claims are spread over")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--repeats", type=int, default=9, help="timed passes per variant (best reported)")
    ap.add_argument("--policies", type=Path, default=ROOT / "policies")
    ap.add_argument("--no-freeze", action="store_true", help="do not gc.freeze() the generated data before timing")
    ap.add_argument("--profile", action="store_true", help="also cProfile one warm inpatient batch")
    ap.add_argument("--top", type=int, default=20, help="rows per profile listing")
    args = ap.parse_args(argv)

    print("yibao scalar settlement benchmark (bench/settle_scalar.py)")
    for row in machine():
        print(row)
    print(
        f"workload  seed={args.seed} persons={args.persons:,} outpatient={args.outpatient:,} "
        f"inpatient={args.inpatient:,} chronic={args.chronic:,} repeats={args.repeats}"
    )

    t0 = time.perf_counter()
    gen = Generator(args.seed)
    snapshot = gen.snapshot(args.policies)
    persons = gen.persons(args.persons)
    groups = [
        Group("outpatient", gen.outpatient_claims(persons, args.outpatient)),
        Group("inpatient", gen.inpatient_claims(persons, args.inpatient)),
        Group("chronic", gen.chronic_claims(persons, args.chronic)),
    ]
    groups = [g for g in groups if g.claims]
    gen_s = time.perf_counter() - t0
    start = initial_states(persons, snapshot)
    print(
        f"generated {len(gen.items):,} catalogue items, {len(persons):,} persons, "
        f"{sum(len(g.claims) for g in groups):,} claims in {gen_s:.1f} s; snapshot {snapshot.id}"
    )
    describe_groups(groups)

    print("\n-- check pass (every claim once; cold per-context caches) --")
    problems: list[str] = []
    checksums = []
    for g in groups:
        before = len(g.claims)
        elapsed, digest, found = check_pass(g, snapshot, start)
        problems += found
        checksums.append(digest)
        print(f"{g.name:<11} {before / elapsed:>10,.0f} claims/s  ({elapsed * 1e6 / before:,.1f} µs/claim)")
    print(f"distinct rule contexts: {distinct_contexts(groups, snapshot):,}")
    print(f"result checksum: {hashlib.sha256(''.join(checksums).encode()).hexdigest()[:16]} (seed {args.seed})")
    if problems:
        print(f"PROBLEMS ({len(problems)}):")
        for p in problems[:20]:
            print("  " + p.replace("\n", "\n  "))
    else:
        print("no claim raised; every settlement's identities hold")

    # warm the tracing and keep_lines paths too (a few hundred claims each)
    for g in groups:
        for variant in ("tracing", "keep_lines", "totals"):
            run((g.totals_claims if variant == "totals" else g.claims)[:300], snapshot, start, variant)
    if not args.no_freeze:
        # The generated claims (millions of FeeLines and Decimals) stay alive for the whole run;
        # without this every full collection during a timed loop scans them, which measures the
        # benchmark's heap, not the engine. The engine's own garbage is still collected as usual.
        gc.collect()
        gc.freeze()
    print(
        f"\ngc: {'default (bench data scanned by full collections)' if args.no_freeze else 'bench data frozen (gc.freeze) before timing'}"
    )

    times: dict[tuple[str, str], list[float]] = {}
    spins: list[float] = []
    for _ in range(args.repeats):
        spins.append(spin())
        for g in groups:
            for variant in VARIANTS:
                claims = g.totals_claims if variant == "totals" else g.claims
                times.setdefault((g.name, variant), []).append(run(claims, snapshot, start, variant))

    print(f"\n-- plain settle, warm: best of {args.repeats} passes (median in brackets) --")
    print(f"{'group':<11} {'claims/s':>17} {'lines/s':>11} {'µs/claim':>9} {'µs/line':>8}  vs target")
    headline = []
    for g in groups:
        ts = times[(g.name, "plain")]
        best, med = min(ts), statistics.median(ts)
        rate = len(g.claims) / best
        target = TARGETS.get(g.name)
        vs = f"{rate / target:.2f}× target {n(target)}/s" if target else "(no target)"
        print(
            f"{g.name:<11} {n(rate):>7} ({n(len(g.claims) / med):>7}) {n(g.lines / best):>11} "
            f"{best * 1e6 / len(g.claims):>9.1f} {best * 1e6 / g.lines:>8.2f}  {vs}"
        )
        if target:
            headline.append(f"{g.name} {n(rate)}/s = {rate / target:.2f}× target")

    print("\n-- variants, same run: best µs/claim (ratio to plain) --")
    print(f"{'group':<11} " + " ".join(f"{v:>20}" for v in VARIANTS))
    for g in groups:
        plain = min(times[(g.name, "plain")])
        cells = []
        for v in VARIANTS:
            t = min(times[(g.name, v)])
            cells.append(f"{t * 1e6 / len(g.claims):>9.1f} ({t / plain:>5.2f}×)")
        print(f"{g.name:<11} " + " ".join(f"{c:>20}" for c in cells))
    for v in VARIANTS:
        print(f"  {v:<11} {VARIANT_NOTE[v]}")

    best_spin, med_spin = min(spins), statistics.median(spins)
    print(
        f"\nnoise: a fixed pure-Python loop took {best_spin:.1f} ms best, {med_spin:.1f} ms median, "
        f"{max(spins):.1f} ms worst over the repeats ({(med_spin / best_spin - 1) * 100:+.0f}% median vs best); "
        "compare runs on the best figures, and only on the same machine"
    )
    print("\nheadline: " + "; ".join(headline))
    if args.profile:
        inpatient = next((g for g in groups if g.name == "inpatient"), None)
        if inpatient is not None:
            profile_inpatient(inpatient, snapshot, start, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
