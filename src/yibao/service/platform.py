"""The running platform: database, policy snapshot, personal-data cipher, code tables, clock.

One :class:`Platform` is built at start-up and handed to every use case; nothing in the
service layer reads globals or the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from yibao.engine.model import CHRONIC, INPATIENT, OUTPATIENT, PHARMACY
from yibao.policy.snapshot import PolicySnapshot
from yibao.store.db import is_sqlite, session_factory
from yibao.store.ids import ISSUER, IdIssuer
from yibao.store.pii import PiiCipher

#: national baseline 医疗类别 → (visit type, day surgery); regions may extend it (national-platform.md §1.7)
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


@dataclass
class Platform:
    engine: Engine
    snapshot: PolicySnapshot
    cipher: PiiCipher
    admdvs: str = "000000"  # the platform's own 医保区划, the prefix of inf_refmsgid
    med_types: Mapping[str, Mapping[str, tuple[str, bool]]] = field(default_factory=dict)  # region → table
    clock: Callable[[], datetime] = datetime.now
    ids: IdIssuer = ISSUER
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(str(self.engine.url))

    def med_type(self, region: str, code: str) -> tuple[str, bool] | None:
        """A region's 医疗类别 table, falling back to its ancestors' and the national baseline."""
        for candidate in (region, region[:4] + "00", region[:2] + "0000"):
            table = self.med_types.get(candidate)
            if table and code in table:
                return table[code]
        return NATIONAL_MED_TYPES.get(code)
