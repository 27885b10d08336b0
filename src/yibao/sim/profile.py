"""The synthetic city's age and sex profile: a census profile reweighted to the city's ageing.

The default is Guangdong's 2020 census (第七次全国人口普查, 《中国人口普查年鉴-2020》表1-5,
as transcribed in ``../shared/reference/actuarial/census_age_sex_by_region_2010_2020.csv``;
official NBS statistics, embedded here as parameters so the demo runs without that folder).
潮州 is older than the province (the city's 十四五 plan: 60+ 19.17%, 65+ 13.27% against
Guangdong's 12.35% and 8.58%), so the three segments below 60, 60–64 and 65+ are scaled to the
city's shares while the shape inside each segment and the sex ratio by age are kept.

Any region of that file can be used instead (``load_census``): the national profile or
another province's.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from yibao.errors import InputError

#: Guangdong, 2020 census: (age_lo, age_hi, male, female); the last band is 100 and over
GUANGDONG_2020: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 691738, 599010),
    (1, 4, 3575143, 3126704),
    (5, 9, 4597464, 3964896),
    (10, 14, 3884271, 3310656),
    (15, 19, 3556607, 2778628),
    (20, 24, 5260488, 4139074),
    (25, 29, 6549206, 5352699),
    (30, 34, 7173902, 6009716),
    (35, 39, 5950175, 5129044),
    (40, 44, 4785408, 4237650),
    (45, 49, 5096764, 4723442),
    (50, 54, 4653924, 4312663),
    (55, 59, 3605405, 3382767),
    (60, 64, 2393321, 2358745),
    (65, 69, 2028352, 2116493),
    (70, 74, 1313194, 1340246),
    (75, 79, 803478, 884950),
    (80, 84, 550340, 687928),
    (85, 89, 285721, 449842),
    (90, 94, 95240, 178492),
    (95, 99, 21180, 48165),
    (100, 104, 2325, 7054),
)
CENSUS_SOURCE = "第七次全国人口普查《中国人口普查年鉴-2020》表1-5（各地区分年龄、性别的人口）"


@dataclass(frozen=True, slots=True)
class Band:
    """People of one sex aged ``lo``–``hi`` (inclusive), as a weight."""

    lo: int
    hi: int
    sex: str  # male | female
    weight: Fraction


def bands_of(table: tuple[tuple[int, int, int, int], ...]) -> list[Band]:
    out: list[Band] = []
    for lo, hi, male, female in table:
        out.append(Band(lo, hi, "male", Fraction(male)))
        out.append(Band(lo, hi, "female", Fraction(female)))
    return out


def load_census(path: Path, region: str, year: int = 2020) -> tuple[tuple[int, int, int, int], ...]:
    """One region's age × sex table from the census CSV (census_year, region, …, sex, population)."""
    male: dict[tuple[int, int], int] = {}
    female: dict[tuple[int, int], int] = {}
    try:
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["census_year"] != str(year) or row["region"] != region:
                    continue
                lo = int(row["age_lo"])
                hi = int(row["age_hi"]) if row["age_hi"] else lo + 4
                (male if row["sex"] == "M" else female)[lo, hi] = int(row["population"])
    except (OSError, KeyError, ValueError) as e:
        raise InputError("census", f"无法读取人口普查文件 {path}：{e}") from e
    if not male:
        raise InputError("census", f"人口普查文件中没有 {year} 年“{region}”的数据")
    return tuple((lo, hi, male[lo, hi], female.get((lo, hi), 0)) for lo, hi in sorted(male))


def reweight(bands: list[Band], share_60: Fraction, share_65: Fraction) -> list[Band]:
    """Scale the segments <60, 60–64 and 65+ so that they hold the given shares of the total."""
    if not (0 < share_65 < share_60 < 1):
        raise InputError("share_60", "应满足 0 < 65岁以上占比 < 60岁以上占比 < 1")

    def segment(b: Band) -> int:
        return 0 if b.hi < 60 else 1 if b.lo < 65 else 2

    totals = [sum((b.weight for b in bands if segment(b) == s), Fraction(0)) for s in range(3)]
    if min(totals) == 0:
        raise InputError("census", "人口普查表缺少 60 岁以下、60–64 岁或 65 岁以上的人口")
    targets = (1 - share_60, share_60 - share_65, share_65)
    return [Band(b.lo, b.hi, b.sex, b.weight * targets[segment(b)] / totals[segment(b)]) for b in bands]


def allocate(weights: list[Fraction], total: int) -> list[int]:
    """``total`` split in proportion to ``weights`` by largest remainder (exact, deterministic)."""
    whole = sum(weights, Fraction(0))
    if whole <= 0:
        raise InputError("weights", "权重之和必须为正")
    raw = [w * total / whole for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts
