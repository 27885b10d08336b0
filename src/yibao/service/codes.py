"""Per-region code tables: 医疗类别 (med_type), 人员类别 (psn_type), 清算类别 (clr_type).

Provinces extend the national baseline (Hunan's 2101/2102 住院, 9901 门诊两病 …; 6-digit
local 人员类别). A region's table adds to or overrides its ancestors' and the national one::

    regions:
      "445100":
        med_type:
          "2101": {visit_type: inpatient}
          "9901": {visit_type: chronic, description: 门诊两病}
          "2801": {visit_type: inpatient, day_surgery: true}
        psn_type:
          "116003": active
        clr_type:
          chronic: "9901"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from yibao.engine.model import CHRONIC, INPATIENT, OUTPATIENT, PHARMACY, VISIT_TYPES
from yibao.errors import InputError
from yibao.io.claim_json import person_type_of
from yibao.io.fields import Fields
from yibao.io.settlement_json import CLR_TYPES
from yibao.policy.context import PERSON_TYPES

NATIONAL_MED_TYPES: dict[str, tuple[str, bool]] = {
    "11": (OUTPATIENT, False),
    "12": (OUTPATIENT, False),
    "13": (OUTPATIENT, False),
    "14": (CHRONIC, False),
    "21": (INPATIENT, False),
    "22": (INPATIENT, False),
    "24": (INPATIENT, False),
    "28": (INPATIENT, True),
    "41": (PHARMACY, False),
}


def _ancestors(region: str) -> tuple[str, ...]:
    return (region, region[:4] + "00", region[:2] + "0000")


@dataclass
class CodeTables:
    med_types: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)
    psn_types: dict[str, dict[str, str]] = field(default_factory=dict)
    clr_types: dict[str, dict[str, str]] = field(default_factory=dict)

    def med_type(self, region: str, code: str) -> tuple[str, bool] | None:
        for r in _ancestors(region):
            found = self.med_types.get(r, {}).get(code)
            if found is not None:
                return found
        return NATIONAL_MED_TYPES.get(code)

    def person_type(self, region: str, code: str) -> str:
        for r in _ancestors(region):
            found = self.psn_types.get(r, {}).get(code)
            if found is not None:
                return found
        return person_type_of(code)

    def clr_type(self, region: str, visit_type: str) -> str:
        for r in _ancestors(region):
            found = self.clr_types.get(r, {}).get(visit_type)
            if found is not None:
                return found
        return CLR_TYPES[visit_type]


def parse_code_tables(data: object) -> CodeTables:
    root = Fields(data, "")
    tables = CodeTables()
    if "regions" not in root.data:
        return tables
    regions = root.sub("regions")
    for region in regions.data:
        r = regions.sub(str(region))
        code = str(region)
        if "med_type" in r.data:
            med = r.sub("med_type")
            entries: dict[str, tuple[str, bool]] = {}
            for key in med.data:
                e = med.sub(str(key))
                visit = e.text("visit_type")
                if visit not in VISIT_TYPES:
                    raise InputError(e.where("visit_type"), f"应为 {list(VISIT_TYPES)} 之一：{visit!r}")
                entries[str(key)] = (visit, e.flag("day_surgery"))
            tables.med_types[code] = entries
        if "psn_type" in r.data:
            psn = r.sub("psn_type")
            kinds: dict[str, str] = {}
            for key, value in psn.data.items():
                if value not in PERSON_TYPES:
                    raise InputError(psn.where(str(key)), f"应为 {list(PERSON_TYPES)} 之一：{value!r}")
                kinds[str(key)] = str(value)
            tables.psn_types[code] = kinds
        if "clr_type" in r.data:
            clr: Mapping[str, object] = r.sub("clr_type").data
            for visit in clr:
                if visit not in VISIT_TYPES:
                    raise InputError(f"regions.{code}.clr_type.{visit}", f"应为 {list(VISIT_TYPES)} 之一")
            tables.clr_types[code] = {str(k): str(v) for k, v in clr.items()}
    return tables
