"""Gateway authentication through real HTTP, on SQLite and PostgreSQL.

A server with gateway keys: a csb key (``_api_*``, HmacSHA1) and a tif key (``x-tif-*``) of
H44510000001, and a csb key of H44510200002. A correctly signed request of either scheme is
served; every other is answered HTTP 200, ``infcode`` −1 and the message of 表 6 (服务网关返回),
and writes nothing at all — not even the ``msgid``, which a correctly signed request can then use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import new_person
from harness import Client, build, close_clients, database, serving
from yibao.api.auth import GatewayKey, GatewayKeys, new_nonce, sign_csb, sign_tif
from yibao.store.models import Base, Visit

PATH = "/fsi/api/rsfComIfsService/callService"
HOSPITAL, CLINIC = "H44510000001", "H44510200002"
CSB_AK, CSB_SK = "AK-H44510000001", "csb-secret-of-the-hospital"
TIF_ID, TIF_SECRET = "PAAS-H44510000001", "tif-secret-of-the-hospital"
OTHER_AK, OTHER_SK = "AK-H44510200002", "csb-secret-of-the-clinic"
NOW = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
TABLES = Base.metadata.sorted_tables

# 表 6 (服务网关返回): the replies clients match on
MISSING = "缺少服务网关的请求头!"
EXPIRED = "签名时间戳超时!"
UNKNOWN = "非法用户!"
SIGNATURE = "签名不一致!"
# ours, where the spec has none
REPLAYED = "请求重复（x-tif-nonce 已使用）!"
MISMATCH = "报文中的定点医药机构编号与服务网关账户不符!"
BOTH = "请求同时携带 _api_* 与 x-tif-* 两种服务网关请求头!"
MALFORMED_TIME = "签名时间戳格式错误!"

KEYS = GatewayKeys(
    [
        GatewayKey("csb", CSB_AK, CSB_SK, HOSPITAL),
        GatewayKey("tif", TIF_ID, TIF_SECRET, HOSPITAL),
        GatewayKey("csb", OTHER_AK, OTHER_SK, CLINIC),
    ]
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(platform, base URL) of a server that requires gateway authentication."""
    with database(request.param, tmp_path_factory.mktemp(f"auth-{request.param}")) as url:
        platform = build(url)
        try:
            with serving(platform, KEYS) as base:
                yield platform, base
                close_clients()
        finally:
            platform.engine.dispose()


def counts(platform) -> dict[str, int]:
    query = select(*(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in TABLES))
    with platform.sessions() as s:
        row = s.execute(query).one()
    return dict(zip((t.name for t in TABLES), row, strict=True))


def now_ms() -> int:
    return int(time.time() * 1000)


def csb(infno: str = "2201", ak: str = CSB_AK, sk: str = CSB_SK, at_ms: int | None = None) -> dict[str, str]:
    return sign_csb(infno, "1.0.0", ak, sk, now_ms() if at_ms is None else at_ms)


def tif(paasid: str = TIF_ID, secret: str = TIF_SECRET, at_s: int | None = None, nonce: str = "") -> dict[str, str]:
    return sign_tif(paasid, secret, now_ms() // 1000 if at_s is None else at_s, nonce or new_nonce())


def registration(c: Client, psn: str, msgid: str) -> dict[str, object]:
    return c.envelope("2201", {"data": {"psn_no": psn, "insutype": "310", "begntime": NOW, "ipt_otp_no": "OP1"}}, msgid)


def post(base: str, env: dict[str, object], headers: dict[str, str]) -> dict[str, Any]:
    r = httpx.post(base + PATH, content=json.dumps(env, ensure_ascii=False), headers=headers, timeout=60)
    if r.status_code != 200:
        time.sleep(0.3)  # let the in-process server log its traceback first (see test_service_fuzz.settle_server)
        pytest.fail(f"HTTP {r.status_code}: {r.text[:300]}")
    doc = r.json()
    assert type(doc["infcode"]) is int and doc["infcode"] in (0, -1), doc
    if doc["infcode"] == -1:
        assert doc["output"] == {} and doc["inf_refmsgid"] and doc["refmsg_time"] and doc["respond_time"]
    return doc


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def earlier(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "_api_timestamp": str(int(headers["_api_timestamp"]) - 1)}


def but(headers: dict[str, str], **changed: str) -> dict[str, str]:
    return {**headers, **changed}


def test_a_correctly_signed_request_of_each_scheme_is_served(gated) -> None:
    platform, base = gated
    c = Client(base)
    for headers in (csb(), tif()):
        psn = new_person(platform)
        before = counts(platform)
        doc = post(base, registration(c, psn, c.msgid()), headers)
        assert doc["infcode"] == 0, doc["err_msg"]
        with platform.sessions() as s:
            assert s.get(Visit, doc["output"]["data"]["mdtrt_id"]).psn_no == psn
        assert counts(platform)["visit"] == before["visit"] + 1
    # the clinic's key serves the clinic
    clinic = Client(base, CLINIC)
    doc = post(base, registration(clinic, new_person(platform), clinic.msgid()), csb(ak=OTHER_AK, sk=OTHER_SK))
    assert doc["infcode"] == 0, doc["err_msg"]
    # header names are case-insensitive (RFC 9110)
    upper = {k.upper(): v for k, v in tif().items()}
    assert post(base, c.envelope("1101", {"data": {"psn_no": "44510000000002"}}), upper)["infcode"] == 0


HALF_AN_HOUR_AND_A_MINUTE = 31 * 60

CASES: list[tuple[str, Callable[[], dict[str, str]], str, str]] = [
    # (id, headers, the envelope's institution, the reply)
    ("no gateway headers", dict, HOSPITAL, MISSING),
    *[
        (f"csb without {h}", lambda h=h: without(csb(), h), HOSPITAL, MISSING)
        for h in ("_api_name", "_api_version", "_api_timestamp", "_api_access_key", "_api_signature")
    ],
    *[
        (f"tif without {h}", lambda h=h: without(tif(), h), HOSPITAL, MISSING)
        for h in ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
    ],
    ("csb empty signature", lambda: but(csb(), _api_signature=""), HOSPITAL, MISSING),
    ("csb signed with a wrong secret", lambda: csb(sk="not-the-secret"), HOSPITAL, SIGNATURE),
    ("csb signed by the clinic's secret", lambda: csb(sk=OTHER_SK), HOSPITAL, SIGNATURE),
    ("csb _api_name changed after signing", lambda: but(csb(), _api_name="2207"), HOSPITAL, SIGNATURE),
    ("csb timestamp changed after signing", lambda: earlier(csb()), HOSPITAL, SIGNATURE),
    ("tif signed with a wrong secret", lambda: tif(secret="not-the-secret"), HOSPITAL, SIGNATURE),
    ("tif nonce changed after signing", lambda: but(tif(), **{"x-tif-nonce": new_nonce()}), HOSPITAL, SIGNATURE),
    (
        "tif signature truncated",
        lambda: {**(h := tif()), "x-tif-signature": h["x-tif-signature"][:-1]},
        HOSPITAL,
        SIGNATURE,
    ),
    ("csb timestamp 31 minutes old", lambda: csb(at_ms=now_ms() - HALF_AN_HOUR_AND_A_MINUTE * 1000), HOSPITAL, EXPIRED),
    (
        "csb timestamp 31 minutes ahead",
        lambda: csb(at_ms=now_ms() + HALF_AN_HOUR_AND_A_MINUTE * 1000),
        HOSPITAL,
        EXPIRED,
    ),
    ("csb timestamp a day old", lambda: csb(at_ms=now_ms() - 86_400_000), HOSPITAL, EXPIRED),
    ("tif timestamp 31 minutes old", lambda: tif(at_s=now_ms() // 1000 - HALF_AN_HOUR_AND_A_MINUTE), HOSPITAL, EXPIRED),
    (
        "tif timestamp 31 minutes ahead",
        lambda: tif(at_s=now_ms() // 1000 + HALF_AN_HOUR_AND_A_MINUTE),
        HOSPITAL,
        EXPIRED,
    ),
    ("tif timestamp in milliseconds", lambda: tif(at_s=now_ms()), HOSPITAL, EXPIRED),
    ("csb timestamp not a number", lambda: but(csb(), _api_timestamp="yesterday"), HOSPITAL, MALFORMED_TIME),
    ("csb unknown access key", lambda: csb(ak="AK-NOBODY"), HOSPITAL, UNKNOWN),
    ("csb access key of the tif account", lambda: csb(ak=TIF_ID, sk=TIF_SECRET), HOSPITAL, UNKNOWN),
    ("tif unknown paasid", lambda: tif(paasid="PAAS-NOBODY"), HOSPITAL, UNKNOWN),
    ("tif paasid of the csb account", lambda: tif(paasid=CSB_AK, secret=CSB_SK), HOSPITAL, UNKNOWN),
    ("both header families", lambda: {**csb(), **tif()}, HOSPITAL, BOTH),
    # the clinic's valid key, used for the hospital; and the hospital's keys naming the clinic
    ("the clinic's key for the hospital", lambda: csb(ak=OTHER_AK, sk=OTHER_SK), HOSPITAL, MISMATCH),
    ("the hospital's csb key naming the clinic", csb, CLINIC, MISMATCH),
    ("the hospital's tif key naming the clinic", tif, CLINIC, MISMATCH),
]


@pytest.mark.parametrize(("headers", "institution", "reply"), [pytest.param(h, i, r, id=n) for n, h, i, r in CASES])
def test_a_request_failing_authentication_is_refused_and_writes_nothing(
    gated, headers: Callable[[], dict[str, str]], institution: str, reply: str
) -> None:
    platform, base = gated
    c = Client(base, institution)
    psn = new_person(platform)
    msgid = c.msgid()
    before = counts(platform)
    doc = post(base, registration(c, psn, msgid), headers())
    assert (doc["infcode"], doc["err_msg"]) == (-1, reply)
    assert counts(platform) == before
    # the msgid was not spent: the same message, signed as its institution's key signs it, is served
    good = csb() if institution == HOSPITAL else csb(ak=OTHER_AK, sk=OTHER_SK)
    assert post(base, registration(c, psn, msgid), good)["infcode"] == 0


def test_a_replayed_tif_nonce_is_refused_and_writes_nothing(gated) -> None:
    platform, base = gated
    c = Client(base)
    headers = tif()
    psn = new_person(platform)
    assert post(base, registration(c, psn, c.msgid()), headers)["infcode"] == 0
    before = counts(platform)
    for env in (registration(c, psn, c.msgid()), registration(c, new_person(platform), c.msgid())):
        counted = counts(platform)
        doc = post(base, env, headers)
        assert (doc["infcode"], doc["err_msg"]) == (-1, REPLAYED)
        assert counts(platform) == counted
    assert counts(platform)["visit"] == before["visit"]
    # a fresh nonce is served
    assert post(base, registration(c, psn, c.msgid()), tif())["infcode"] == 0


def test_a_replayed_csb_request_gets_the_first_answer_and_writes_nothing(gated) -> None:
    """csb has no nonce (表 5): a replay inside the window is answered from the msgid, never done twice."""
    platform, base = gated
    c = Client(base)
    headers = csb()
    env = registration(c, new_person(platform), c.msgid())
    first = post(base, env, headers)
    assert first["infcode"] == 0
    before = counts(platform)
    assert post(base, env, headers) == first
    assert counts(platform) == before


def test_authentication_is_checked_on_the_path_with_the_infno(gated) -> None:
    platform, base = gated
    c = Client(base)
    env = registration(c, new_person(platform), c.msgid())
    before = counts(platform)
    r = httpx.post(f"{base}{PATH}/2201", content=json.dumps(env), headers=csb(sk="wrong"), timeout=60)
    assert r.status_code == 200 and (r.json()["infcode"], r.json()["err_msg"]) == (-1, SIGNATURE)
    assert counts(platform) == before
    r = httpx.post(f"{base}{PATH}/2201", content=json.dumps(env), headers=csb(), timeout=60)
    assert r.status_code == 200 and r.json()["infcode"] == 0


@pytest.mark.parametrize(
    "body",
    [b'{"infno": "2201", "msgid": ', b"[]", b'{"infno": "9999"}', b"x" * 2_100_000],
    ids=["truncated JSON", "a JSON array", "an unknown infno", "over 2,000,000 bytes"],
)
def test_a_request_without_gateway_headers_is_refused_as_such_whatever_its_body(gated, body: bytes) -> None:
    """The gateway stands before the service (表 5, 表 6): a caller who is not authenticated learns nothing of how
    the service reads a body, and gets no parsing of it done."""
    platform, base = gated
    before = counts(platform)
    r = httpx.post(base + PATH, content=body, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert (r.json()["infcode"], r.json()["err_msg"]) == (-1, MISSING)
    assert counts(platform) == before
