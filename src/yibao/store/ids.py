"""Ids the platform issues: ``mdtrt_id``, ``setl_id``, ``sign_no``, ``inf_refmsgid``.

Each is a prefix, the time to the second, a per-process random tag and a per-process
counter, so ids are unique across processes without a shared database counter (which
would serialise every settlement in the province on one row). The primary keys are
the last guard.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class IdIssuer:
    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or "".join(secrets.choice(_ALPHABET) for _ in range(4))
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next(self, prefix: str, now: datetime, width: int = 30) -> str:
        with self._lock:
            n = next(self._counter) % 1_000_000
        text = f"{prefix}{now:%Y%m%d%H%M%S}{self.tag}{n:06d}"
        return text[:width]


ISSUER = IdIssuer()
