"""Scales: bands with thresholds and rates (分段), one abstraction for every banded rule.

A scale is a list of bands; band *i* covers ``[lower_i, lower_{i+1})`` of some axis
(a stay's policy-range amount, a year's cumulative amount, a 大病 base) and pays its
``rate`` on the part of an interval that falls inside it. Banded inpatient ratios,
大病保险 bands and (later) contribution rates over a base all use it.

Amounts are fen, rates basis points, and the integral is exact in fen × basis points,
so a caller rounds once per fund payment:

>>> s = Scale.of([(0, 6000), (3_000_000, 6500)])      # 0–3万 60%, above 65%
>>> s.integral(0, 4_000_000)                           # 30000×60% + 10000×65%, in fen·bp
244000000000
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from yibao.money import RATIO_ONE, fen_to_yuan, percent, ratio_to_str


@dataclass(frozen=True, slots=True)
class Scale:
    lowers: tuple[int, ...]
    rates: tuple[int, ...]

    @classmethod
    def of(cls, bands: Iterable[tuple[int, int]]) -> Scale:
        pairs = list(bands)
        return cls(tuple(lo for lo, _ in pairs), tuple(r for _, r in pairs))

    def __post_init__(self) -> None:
        if not self.lowers or len(self.lowers) != len(self.rates):
            raise ValueError("a scale needs at least one band and one rate per band")
        if any(b <= a for a, b in zip(self.lowers, self.lowers[1:], strict=False)):
            raise ValueError("band thresholds must increase strictly")

    def integral(self, start: int, end: int) -> int:
        """Σ rate × |[start, end] ∩ band|, exact, in fen × basis points (0 if end ≤ start)."""
        if end <= start:
            return 0
        total = 0
        lowers = self.lowers
        n = len(lowers)
        for i in range(n):
            lo = lowers[i]
            hi = lowers[i + 1] if i + 1 < n else end
            a = start if start > lo else lo
            b = end if end < hi else hi
            if b > a:
                total += (b - a) * self.rates[i]
        return total

    def rate_at(self, x: int) -> int:
        """The rate of the band that contains ``x`` (0 below the first band)."""
        rate = 0
        for lo, r in zip(self.lowers, self.rates, strict=True):
            if x >= lo:
                rate = r
            else:
                break
        return rate

    def reach(self, start: int, target: int) -> int | None:
        """The point ``x ≥ start`` where ``integral(start, x)`` first reaches ``target``.

        ``target`` is in fen × basis points; the answer is rounded half-up to the fen.
        ``None`` if the scale never pays that much (a top band at rate 0).
        """
        if target <= 0:
            return start
        acc = 0
        n = len(self.lowers)
        for i in range(n):
            lo = self.lowers[i]
            hi = self.lowers[i + 1] if i + 1 < n else None
            a = max(start, lo)
            if hi is not None and hi <= a:
                continue
            rate = self.rates[i]
            if rate > 0:
                capacity = None if hi is None else (hi - a) * rate
                if capacity is None or acc + capacity >= target:
                    need = target - acc
                    return a + (2 * need + rate) // (2 * rate)
                acc += capacity
        return None

    def map_rates(self, fn: Callable[[int], int]) -> Scale:
        """A scale with the same thresholds and each rate replaced by ``fn(rate)``."""
        return Scale(self.lowers, tuple(fn(r) for r in self.rates))

    def max_rate(self) -> int:
        return max(self.rates)

    def describe(self) -> str:
        """Chinese one-line description, e.g. ``0–30000.00元 60%；30000.00元以上 65%``."""
        parts = []
        n = len(self.lowers)
        for i in range(n):
            lo = fen_to_yuan(self.lowers[i])
            pct = percent(self.rates[i])
            if i + 1 < n:
                parts.append(f"{lo}–{fen_to_yuan(self.lowers[i + 1])}元 {pct}")
            else:
                parts.append(f"{lo}元以上 {pct}")
        return "；".join(parts)

    def to_json(self) -> list[dict[str, str]]:
        return [
            {"from": fen_to_yuan(lo), "rate": ratio_to_str(r)} for lo, r in zip(self.lowers, self.rates, strict=True)
        ]


@lru_cache(maxsize=1024)
def flat(ratio_bp: int) -> Scale:
    """The one-band scale of a flat ratio (cached: flat ratios are read on every settlement)."""
    return Scale((0,), (ratio_bp,))


def clip_ratio(ratio_bp: int) -> int:
    return 0 if ratio_bp < 0 else (RATIO_ONE if ratio_bp > RATIO_ONE else ratio_bp)
