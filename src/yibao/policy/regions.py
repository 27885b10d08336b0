"""Pooling regions (统筹区) by 6-digit 医保区划 code, and their hierarchy.

A code is province (2 digits) + city (2) + county (2): ``440000`` 广东省, ``445100``
潮州市, ``445102`` 湘桥区. ``000000`` is the national template every region inherits
from. The parent of a region is its nearest *known* ancestor by code, so a
municipality's district (``500112`` 渝北区) hangs directly under ``500000`` when no
``500100`` is defined.

Which region is the *pooling* region (where the fund and the policy are unified)
is declared, not guessed: a region with ``pooling: true`` pools everything below it
(市级统筹 puts it on the city, 省级统筹 on the province).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from yibao.errors import UnknownRegion

NATIONAL = "000000"
_LEVEL_CACHE: dict[str, str] = {}
_CODE = re.compile(r"^\d{6}$")


def is_region_code(code: str) -> bool:
    return bool(_CODE.match(code))


def region_level(code: str) -> str:
    """``national`` | ``province`` | ``city`` | ``county`` from the code's shape."""
    if code == NATIONAL:
        return "national"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def ancestor_codes(code: str) -> list[str]:
    """Candidate ancestors, nearest first (whether or not they are defined)."""
    level = region_level(code)
    found: list[str] = []
    if level == "county":
        found.append(code[:4] + "00")
    if level in ("county", "city"):
        found.append(code[:2] + "0000")
    if level != "national":
        found.append(NATIONAL)
    return found


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    pooling: bool = False
    parent: str | None = None

    @property
    def level(self) -> str:
        return _LEVEL_CACHE.get(self.code) or _LEVEL_CACHE.setdefault(self.code, region_level(self.code))


class RegionTree:
    """The known regions and their parents; answers "which chain applies to code X"."""

    def __init__(self, regions: Mapping[str, Region]) -> None:
        self._regions = dict(regions)
        self._pooling: dict[str, Region] = {}

    @classmethod
    def build(cls, declared: Mapping[str, tuple[str, bool]]) -> RegionTree:
        """Build from ``code → (name, pooling)``; parents are derived from the codes."""
        regions: dict[str, Region] = {}
        for code in sorted(declared, key=lambda c: (len(ancestor_codes(c)), c)):
            name, pooling = declared[code]
            parent = next((a for a in ancestor_codes(code) if a in declared), None)
            regions[code] = Region(code=code, name=name, pooling=pooling, parent=parent)
        return cls(regions)

    def __contains__(self, code: object) -> bool:
        return code in self._regions

    def __iter__(self) -> Iterator[Region]:
        return iter(self._regions.values())

    def __len__(self) -> int:
        return len(self._regions)

    def get(self, code: str, field: str = "") -> Region:
        region = self._regions.get(code)
        if region is None:
            raise UnknownRegion(code, field)
        return region

    def chain(self, code: str, field: str = "") -> list[Region]:
        """Regions from the national template down to ``code`` (inclusive)."""
        node: Region | None = self.get(code, field)
        out: list[Region] = []
        while node is not None:
            out.append(node)
            node = self._regions[node.parent] if node.parent else None
        out.reverse()
        return out

    def pooling_region(self, code: str, field: str = "") -> Region:
        """The region whose fund and policy govern ``code`` (nearest pooling ancestor-or-self)."""
        found = self._pooling.get(code)
        if found is None:
            chain = self.chain(code, field)
            found = next((r for r in reversed(chain) if r.pooling), chain[-1])
            self._pooling[code] = found
        return found

    def descendants(self, code: str) -> list[Region]:
        return [r for r in self._regions.values() if r.code != code and code in self._ancestry(r.code)]

    def _ancestry(self, code: str) -> list[str]:
        return [r.code for r in self.chain(code)]

    def same_province(self, a: str, b: str) -> bool:
        return a[:2] == b[:2]
