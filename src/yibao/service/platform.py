"""The running platform: database, policy snapshot, personal-data cipher, code tables, clock.

One :class:`Platform` is built at start-up and handed to every use case; nothing in the
service layer reads globals or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from yibao.policy.snapshot import PolicySnapshot
from yibao.service.codes import CodeTables
from yibao.service.ledger import Ledger
from yibao.store.db import is_sqlite, session_factory
from yibao.store.ids import ISSUER, IdIssuer
from yibao.store.pii import PiiCipher


@dataclass
class Platform:
    engine: Engine
    snapshot: PolicySnapshot
    cipher: PiiCipher
    admdvs: str = "000000"  # the platform's own 医保区划, the prefix of inf_refmsgid
    codes: CodeTables = field(default_factory=CodeTables)  # per-region med_type / psn_type / clr_type
    clock: Callable[[], datetime] = datetime.now
    ids: IdIssuer = ISSUER
    #: the books' writer; ``None`` only where a benchmark measures what posting costs (bench/ledger.py)
    ledger: Ledger | None = field(default_factory=Ledger)
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(str(self.engine.url))

    def med_type(self, region: str, code: str) -> tuple[str, bool] | None:
        """A region's 医疗类别 table, falling back to its ancestors' and the national baseline."""
        return self.codes.med_type(region, code)
