"""The facts about a settlement that exception rules may test (their ``when``).

A :class:`RuleContext` is a named tuple — cheap to build and to hash. The engine resolves
a claim's benefit terms once per distinct *projection* of the context onto the attributes
the policy's exception rules actually test (:meth:`Condition.attributes`), so a policy that
only distinguishes retirees and out-of-area care keeps a handful of cached terms however
many ages and diseases pass through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from yibao.policy.schema import CATEGORIES, LEVELS, SCHEMES

PERSON_TYPES = ("active", "retiree", "flexible", "student", "minor", "adult")
#: where the visit happened relative to the insured's pooling region:
#: ``local`` (inside it), ``province`` (elsewhere in the province), ``national`` (another province)
AREAS = ("local", "province", "national")
VISIT_TYPES = ("inpatient", "outpatient", "chronic", "pharmacy")
SEXES = ("male", "female")

#: attribute → allowed values (``None`` = any string; bool attributes take true/false)
ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "scheme": SCHEMES,
    "person_type": PERSON_TYPES,
    "assistance_category": (*CATEGORIES, "none"),
    "hospital_level": LEVELS,
    "area": AREAS,
    "visit_type": VISIT_TYPES,
    "sex": SEXES,
    "disease": None,
}
BOOL_ATTRIBUTES = ("filed", "day_surgery", "civil_servant")
AGE_BOUNDS = ("age_at_least", "age_below")


class RuleContext(NamedTuple):
    scheme: str
    person_type: str
    assistance_category: str  # "none" when the person is in no category
    age: int
    sex: str
    visit_type: str
    hospital_level: str
    area: str
    filed: bool
    day_surgery: bool
    disease: str
    civil_servant: bool

    def attribute(self, name: str) -> object:
        value: object = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Condition:
    """A conjunction: every named attribute must be one of its allowed values."""

    allowed: tuple[tuple[str, frozenset[object]], ...] = ()
    age_at_least: int | None = None
    age_below: int | None = None

    def matches(self, ctx: RuleContext) -> bool:
        for name, values in self.allowed:
            if ctx.attribute(name) not in values:
                return False
        if self.age_at_least is not None and ctx.age < self.age_at_least:
            return False
        return not (self.age_below is not None and ctx.age >= self.age_below)

    def attributes(self) -> set[str]:
        """The context attributes this condition reads."""
        names = {name for name, _ in self.allowed}
        if self.age_at_least is not None or self.age_below is not None:
            names.add("age")
        return names

    def describe(self) -> str:
        parts = [f"{name}∈{{{','.join(sorted(str(v) for v in values))}}}" for name, values in self.allowed]
        if self.age_at_least is not None:
            parts.append(f"age≥{self.age_at_least}")
        if self.age_below is not None:
            parts.append(f"age<{self.age_below}")
        return " 且 ".join(parts) if parts else "总是"

    def to_json(self) -> Mapping[str, object]:
        out: dict[str, object] = {name: sorted(str(v) for v in values) for name, values in self.allowed}
        if self.age_at_least is not None:
            out["age_at_least"] = self.age_at_least
        if self.age_below is not None:
            out["age_below"] = self.age_below
        return out
