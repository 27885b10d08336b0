"""Pure calculation: fee split, deductible, pooled fund, 大病, 救助, personal account; traces.

``settle`` is the scalar executor (one claim, exact, microseconds); ``reverse`` settles
the exact negative of an earlier settlement. Nothing here does I/O.
"""

from yibao.engine.model import Claim, FeeLine, Person, SplitTotals
from yibao.engine.result import FundDetail, LineSplit, Settlement
from yibao.engine.reversal import reverse
from yibao.engine.settle import settle
from yibao.engine.state import Accumulators
from yibao.engine.trace import Trace, tracing

__all__ = [
    "Accumulators",
    "Claim",
    "FeeLine",
    "FundDetail",
    "LineSplit",
    "Person",
    "Settlement",
    "SplitTotals",
    "Trace",
    "reverse",
    "settle",
    "tracing",
]
