"""The explanation trace: every amount with the step, rule, parameters and inputs behind it.

A :class:`Trace` is collected through a ``ContextVar`` (datasette's tracer pattern),
so rule functions need no tracer argument and pay nothing when nobody listens::

    with tracing() as trace:
        settle(claim, person, state, snapshot)
    trace.to_json()

Each step names the rule and its version (``deductible.per_admission@1``), the
parameters read (value, effective date, source, exceptions applied), the inputs and
outputs in fen, and a Chinese sentence for people.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from yibao.money import fen_to_yuan
from yibao.policy.resolved import ParamUse


@dataclass(frozen=True, slots=True)
class Step:
    step: str
    rule: str
    explanation: str
    params: tuple[ParamUse, ...]
    inputs: dict[str, int | str]
    outputs: dict[str, int | str]

    def to_json(self) -> dict[str, object]:
        return {
            "step": self.step,
            "rule": self.rule,
            "explanation": self.explanation,
            "params": [p.to_json() for p in self.params],
            "inputs": {k: _show(v) for k, v in self.inputs.items()},
            "outputs": {k: _show(v) for k, v in self.outputs.items()},
        }


def _show(value: int | str) -> str:
    return fen_to_yuan(value) if isinstance(value, int) else value


@dataclass(slots=True)
class Trace:
    steps: list[Step] = field(default_factory=list)

    def add(
        self,
        step: str,
        rule: str,
        explanation: str,
        params: tuple[ParamUse, ...] = (),
        inputs: dict[str, int | str] | None = None,
        outputs: dict[str, int | str] | None = None,
    ) -> None:
        self.steps.append(Step(step, rule, explanation, params, inputs or {}, outputs or {}))

    def to_json(self) -> list[dict[str, object]]:
        return [s.to_json() for s in self.steps]


_current: ContextVar[Trace | None] = ContextVar("yibao_trace", default=None)


def current() -> Trace | None:
    return _current.get()


@contextmanager
def tracing() -> Iterator[Trace]:
    trace = Trace()
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def adjusted(use: ParamUse) -> str:
    """``（原…，按「…」调整）`` when exception rules changed a parameter, else ``""``."""
    if not use.exceptions:
        return ""
    rules = "、".join(f"「{e.description}」" for e in use.exceptions)
    return f"（原{use.base_shown}，按{rules}调整）"


def yuan(fen: int) -> str:
    """Amount in words for explanations: ``1234.50元``."""
    return f"{fen_to_yuan(fen)}元"
