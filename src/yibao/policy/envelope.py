"""The national benefit-list envelope (医疗保障待遇清单): what local policy may decide.

A region's file that goes outside the envelope is rejected with the file, the path
inside it and the reason. Each rule cites the national document that sets it.
Checks run on the *resolved* values (after inheritance and exceptions), for every
region with its own policy, at the start of every interval in which its policy
changes, so an exception that lowers a protected group below the national minimum
is caught as surely as a plain value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from yibao.errors import EnvelopeViolation, PolicyError
from yibao.money import RATIO_ONE, fen_to_yuan, ratio_to_str
from yibao.policy.context import RuleContext
from yibao.policy.resolved import ParamUse, ResolvedPolicy
from yibao.policy.scale import Scale
from yibao.policy.schema import SCHEMES

DOC_2015_57 = "国办发〔2015〕57号《关于全面实施城乡居民大病保险的意见》"
DOC_2021_42 = "国办发〔2021〕42号《关于健全重特大疾病医疗保险和救助制度的意见》"
DOC_2021_14 = "国办发〔2021〕14号《关于建立健全职工基本医疗保险门诊共济保障机制的指导意见》"
#: a rule binds from the date of its document; older policy is judged by the rules of its time
SINCE_2015_57 = date(2015, 7, 28)
SINCE_2021_42 = date(2021, 10, 28)
SINCE_2021_14 = date(2021, 4, 13)

#: groups whose 大病 preferences are protected (threshold −50%, ratio +5 points, no cap)
PROTECTED_CI_GROUPS = ("extreme_poverty", "subsistence_allowance", "relapse_poverty")
#: groups assisted at no less than 70%
PROTECTED_ASSISTANCE_GROUPS = ("extreme_poverty", "subsistence_allowance")


@dataclass(frozen=True, slots=True)
class Finding:
    origin: str  # "file: path" of the value (or exception) that breaks the rule
    reason: str


def base_context(scheme: str, category: str = "none") -> RuleContext:
    return RuleContext(
        scheme=scheme,
        person_type="adult" if scheme == "resident" else "active",
        assistance_category=category,
        age=45,
        sex="male",
        visit_type="inpatient",
        hospital_level="level_3",
        area="local",
        filed=False,
        day_surgery=False,
        disease="",
        civil_servant=False,
    )


def _where(use: ParamUse) -> str:
    return use.origin


def _rule_where(use: ParamUse, policy: ResolvedPolicy) -> str:
    """Blame the last exception applied (it made the value), else the value itself."""
    if not use.exceptions:
        return use.origin
    last = use.exceptions[-1].rule_id
    for rule, _ in policy.exceptions:
        if rule.rule_id == last:
            return str(rule.origin)
    return use.origin


def _scale(use: ParamUse) -> Scale:
    assert isinstance(use.value, Scale)
    return use.value


def _critical_illness(policy: ResolvedPolicy, on: date) -> list[Finding]:
    out: list[Finding] = []
    for scheme in SCHEMES:
        base = base_context(scheme)
        enabled = policy.optional(f"{scheme}.critical_illness.enabled", base, on)
        if enabled is None or enabled.value is not True or not policy.has(f"{scheme}.critical_illness.bands"):
            continue
        bands = policy.resolve(f"{scheme}.critical_illness.bands", base, on)
        if scheme == "resident" and on >= SINCE_2015_57 and min(_scale(bands).rates) < 5000:
            out.append(Finding(_where(bands), f"居民大病保险支付比例应不低于50%（{DOC_2015_57}）"))
        if scheme != "resident" or on < SINCE_2021_42:
            continue
        threshold = policy.resolve(f"{scheme}.critical_illness.threshold", base, on)
        for group in PROTECTED_CI_GROUPS:
            ctx = base_context(scheme, group)
            t = policy.resolve(f"{scheme}.critical_illness.threshold", ctx, on)
            assert isinstance(t.value, int) and isinstance(threshold.value, int)
            if 2 * t.value > threshold.value:
                out.append(
                    Finding(
                        _rule_where(t, policy),
                        f"{group} 的大病保险起付线 {fen_to_yuan(t.value)} 元高于普通人群"
                        f" {fen_to_yuan(threshold.value)} 元的50%（{DOC_2021_42}）",
                    )
                )
            b = policy.resolve(f"{scheme}.critical_illness.bands", ctx, on)
            ordinary, special = _scale(bands), _scale(b)
            ok = len(special.rates) >= 1 and all(
                special.rate_at(lo) >= min(RATIO_ONE, ordinary.rate_at(lo) + 500) for lo in ordinary.lowers
            )
            if not ok:
                out.append(
                    Finding(
                        _rule_where(b, policy), f"{group} 的大病保险支付比例应比普通人群提高5个百分点（{DOC_2021_42}）"
                    )
                )
            cap = policy.optional(f"{scheme}.critical_illness.annual_cap", ctx, on)
            if cap is not None and cap.value is not None:
                out.append(Finding(_rule_where(cap, policy), f"{group} 的大病保险应取消封顶线（{DOC_2021_42}）"))
    return out


def _assistance(policy: ResolvedPolicy, on: date) -> list[Finding]:
    out: list[Finding] = []
    if on < SINCE_2021_42:
        return out
    for group in PROTECTED_ASSISTANCE_GROUPS:
        path = f"assistance.{group}.ratio"
        if not policy.has(path):
            continue
        for scheme in SCHEMES:
            use = policy.resolve(path, base_context(scheme, group), on)
            assert isinstance(use.value, int)
            if use.value < 7000:
                out.append(
                    Finding(
                        _rule_where(use, policy),
                        f"{group} 的医疗救助比例 {ratio_to_str(use.value)} 低于70%（{DOC_2021_42}）",
                    )
                )
    return out


def _outpatient_pooling(policy: ResolvedPolicy, on: date) -> list[Finding]:
    out: list[Finding] = []
    base = base_context("employee")
    enabled = policy.optional("employee.outpatient_pooling.enabled", base, on)
    if on < SINCE_2021_14 or enabled is None or enabled.value is not True:
        return out
    for level in ("level_0", "level_1", "level_2", "level_3"):
        path = f"employee.outpatient_pooling.ratio.{level}"
        if policy.has(path):
            use = policy.resolve(path, base, on)
            assert isinstance(use.value, int)
            if use.value < 5000:
                out.append(Finding(_where(use), f"职工门诊共济报销比例应从50%起步，不低于50%（{DOC_2021_14}）"))
    return out


CHECKS: tuple[Callable[[ResolvedPolicy, date], list[Finding]], ...] = (
    _critical_illness,
    _assistance,
    _outpatient_pooling,
)


def check(policy: ResolvedPolicy, on: date) -> list[Finding]:
    findings: list[Finding] = []
    for rule in CHECKS:
        try:
            findings.extend(rule(policy, on))
        except EnvelopeViolation:
            raise
        except PolicyError as e:  # a missing or conflicting value is itself a finding
            findings.append(Finding(policy.region, e.message))
    return findings


def violation(finding: Finding) -> EnvelopeViolation:
    file, _, path = finding.origin.partition(": ")
    return EnvelopeViolation(file, path, finding.reason)
