"""Gateway authentication (表 5 / 表 6 of the interface spec, and the x-tif-* family): real crypto, no mocks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from pathlib import Path

import pytest

from yibao.api.auth import (
    DEFAULT_TOLERANCE_MS,
    Authenticated,
    GatewayAuthError,
    GatewayKey,
    GatewayKeys,
    GatewayKeysError,
    NonceCache,
    authenticate,
    csb_string_to_sign,
    load_gateway_keys,
    new_nonce,
    parse_gateway_keys,
    require_institution,
    sign_csb,
    sign_tif,
)

NOW_MS = 1_728_900_000_123  # 2024-10-14, not a whole second on purpose
NOW_S = NOW_MS // 1000
TOL_S = DEFAULT_TOLERANCE_MS // 1000
H1 = "H44510000001"
H2 = "H43010000002"

KEYS = GatewayKeys(
    [
        GatewayKey("csb", "ak-hosp-1", "sk-secret-1", H1),
        GatewayKey("tif", "paas-hosp-1", "tif-secret-1", H1),
        GatewayKey("csb", "ak-hosp-2", "sk-secret-2", H2),
    ]
)


def csb(timestamp_ms: int = NOW_MS, key: str = "ak-hosp-1", secret: str = "sk-secret-1") -> dict[str, str]:
    return sign_csb("1101", "1.0.0", key, secret, timestamp_ms)


def tif(
    timestamp_s: int = NOW_S, nonce: str = "n" * 32, key: str = "paas-hosp-1", secret: str = "tif-secret-1"
) -> dict[str, str]:
    return sign_tif(key, secret, timestamp_s, nonce)


def fails(headers: dict[str, str], reason: str, message: str | None = None, **kw: object) -> GatewayAuthError:
    with pytest.raises(GatewayAuthError) as info:
        authenticate(headers, KEYS, NOW_MS, **kw)  # type: ignore[arg-type]
    assert info.value.reason_code == reason
    if message is not None:
        assert info.value.message == message
    return info.value


# --- known answers, computed here with hmac/hashlib rather than by the code under test ---------------


def test_csb_known_answer() -> None:
    # 表 5: keys in natural order, key=value joined with &, HmacSHA1 under the SK over UTF-8, base64
    expected_string = "_api_access_key=ak-hosp-1&_api_name=1101&_api_timestamp=1728900000123&_api_version=1.0.0"
    mac = hmac.new(b"sk-secret-1", expected_string.encode("utf-8"), hashlib.sha1).digest()
    expected_sig = base64.b64encode(mac).decode()
    headers = csb()
    assert headers == {
        "_api_name": "1101",
        "_api_version": "1.0.0",
        "_api_timestamp": "1728900000123",
        "_api_access_key": "ak-hosp-1",
        "_api_signature": expected_sig,
    }
    assert csb_string_to_sign(headers) == expected_string
    assert authenticate(headers, KEYS, NOW_MS) == Authenticated(H1, "ak-hosp-1", "csb", "1101")


def test_fixed_vectors() -> None:
    # pinned values (computed once with Python's hmac/hashlib), so a change of algorithm,
    # ordering or encoding cannot pass unnoticed
    assert sign_csb("2207", "V1.0", "ak", "sk", 1_700_000_000_000)["_api_signature"] == "Q1LbRzUub1R1qCJH5JDgWjsO39I="
    assert (
        sign_tif("p", "secret", 1_700_000_000, "nonce")["x-tif-signature"]
        == "79b5fa2ac51a4476d25251a32c9766e6f5bb966021ef6df3778a72fb07039ee4"
    )


def test_tif_known_answer() -> None:
    nonce = "AbCdEfGh0123456789AbCdEfGh012345"
    ts = str(NOW_S)
    expected = hashlib.sha256((ts + "tif-secret-1" + nonce + ts).encode("utf-8")).hexdigest()
    headers = tif(nonce=nonce)
    assert headers == {
        "x-tif-paasid": "paas-hosp-1",
        "x-tif-timestamp": ts,
        "x-tif-nonce": nonce,
        "x-tif-signature": expected,
    }
    assert authenticate(headers, KEYS, NOW_MS) == Authenticated(H1, "paas-hosp-1", "tif", None)


def test_tif_accepts_an_upper_case_digest() -> None:
    headers = tif()
    headers["x-tif-signature"] = headers["x-tif-signature"].upper()
    assert authenticate(headers, KEYS, NOW_MS).key_id == "paas-hosp-1"


def test_the_key_decides_the_institution() -> None:
    assert authenticate(csb(key="ak-hosp-2", secret="sk-secret-2"), KEYS, NOW_MS).fixmedins_code == H2


# --- header names are case-insensitive --------------------------------------------------------------


@pytest.mark.parametrize("transform", [str.upper, str.title, lambda k: f" {k} "])
def test_header_names_are_case_insensitive(transform: object) -> None:
    for headers in (csb(), tif()):
        renamed = {transform(k): v for k, v in headers.items()}  # type: ignore[operator]
        assert authenticate(renamed, KEYS, NOW_MS).fixmedins_code == H1


def test_unrelated_headers_are_ignored() -> None:
    headers = {**csb(), "Content-Type": "application/json", "User-Agent": "his/1.0"}
    assert authenticate(headers, KEYS, NOW_MS).scheme == "csb"


# --- failures: 表 6 order and wording ----------------------------------------------------------------


def test_no_gateway_headers() -> None:
    error = fails({"Content-Type": "application/json"}, "missing_header", "缺少服务网关的请求头!")
    assert error.response_body() == {"code": 401, "message": "缺少服务网关的请求头!"}


@pytest.mark.parametrize("name", ["_api_name", "_api_version", "_api_timestamp", "_api_access_key", "_api_signature"])
def test_csb_missing_header(name: str) -> None:
    headers = csb()
    del headers[name]
    assert fails(headers, "missing_header", "缺少服务网关的请求头!").detail == name


def test_csb_empty_header_counts_as_missing() -> None:
    fails({**csb(), "_api_signature": " "}, "missing_header")


@pytest.mark.parametrize("name", ["x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature"])
def test_tif_missing_header(name: str) -> None:
    headers = tif()
    del headers[name]
    assert fails(headers, "missing_header", "缺少服务网关的请求头!").detail == name


def test_both_families_at_once_are_refused() -> None:
    fails({**csb(), **tif()}, "ambiguous_scheme")


@pytest.mark.parametrize(
    "offset",
    [0, 1, -1, DEFAULT_TOLERANCE_MS - 1, -DEFAULT_TOLERANCE_MS + 1, DEFAULT_TOLERANCE_MS, -DEFAULT_TOLERANCE_MS],
)
def test_csb_timestamp_inside_the_window(offset: int) -> None:
    # 表 6: "时间戳超时，默认为30分钟" — exactly 30 minutes either way is still on time
    assert authenticate(csb(NOW_MS + offset), KEYS, NOW_MS).key_id == "ak-hosp-1"


def test_csb_timestamp_one_ms_too_old() -> None:
    fails(csb(NOW_MS - DEFAULT_TOLERANCE_MS - 1), "timestamp_expired", "签名时间戳超时!")


def test_csb_timestamp_one_ms_too_new() -> None:
    fails(csb(NOW_MS + DEFAULT_TOLERANCE_MS + 1), "timestamp_future", "签名时间戳超时!")


def test_csb_seconds_instead_of_milliseconds_is_out_of_window() -> None:
    fails(csb(NOW_S), "timestamp_expired")


@pytest.mark.parametrize("value", ["abc", "1.7e12", "-1728900000123", "１７２８９０００００１２３", "9" * 40])
def test_csb_malformed_timestamp(value: str) -> None:
    fails({**csb(), "_api_timestamp": value}, "malformed_header")


@pytest.mark.parametrize("offset", [0, TOL_S, -TOL_S])
def test_tif_timestamp_inside_the_window(offset: int) -> None:
    assert authenticate(tif(NOW_S + offset), KEYS, NOW_MS).scheme == "tif"


def test_tif_timestamp_one_second_too_old() -> None:
    fails(tif(NOW_S - TOL_S - 1), "timestamp_expired", "签名时间戳超时!")


def test_tif_timestamp_one_second_too_new() -> None:
    fails(tif(NOW_S + TOL_S + 1), "timestamp_future", "签名时间戳超时!")


def test_tif_milliseconds_instead_of_seconds_is_out_of_window() -> None:
    fails(tif(NOW_MS), "timestamp_future")


def test_unknown_csb_key() -> None:
    assert fails(csb(key="ak-nobody"), "unknown_key", "非法用户!").detail == "_api_access_key"


def test_unknown_tif_key() -> None:
    fails(tif(key="paas-nobody"), "unknown_key", "非法用户!")


def test_a_key_of_one_scheme_is_unknown_to_the_other() -> None:
    fails(tif(key="ak-hosp-1", secret="sk-secret-1"), "unknown_key")


def test_csb_wrong_secret() -> None:
    fails(csb(secret="sk-secret-2"), "bad_signature", "签名不一致!")


@pytest.mark.parametrize("name", ["_api_name", "_api_version", "_api_timestamp"])
def test_csb_altered_header_breaks_the_signature(name: str) -> None:
    headers = csb()
    headers[name] = str(NOW_MS + 1) if name == "_api_timestamp" else headers[name] + "0"
    fails(headers, "bad_signature")


def test_csb_extra_api_header_is_covered_by_the_signature() -> None:
    fails({**csb(), "_api_extra": "x"}, "bad_signature")


def test_csb_another_institutions_key_cannot_be_borrowed() -> None:
    headers = csb(key="ak-hosp-2", secret="sk-secret-1")
    fails(headers, "bad_signature")


def test_csb_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    fails({**csb(), "_api_signature": "签名"}, "bad_signature")


def test_tif_wrong_secret() -> None:
    fails(tif(secret="wrong"), "bad_signature", "签名不一致!")


@pytest.mark.parametrize("name", ["x-tif-nonce", "x-tif-timestamp"])
def test_tif_altered_header_breaks_the_signature(name: str) -> None:
    headers = tif()
    headers[name] = "m" * 32 if name == "x-tif-nonce" else str(NOW_S + 1)
    fails(headers, "bad_signature")


def test_tif_overlong_nonce() -> None:
    fails(tif(nonce="n" * 129), "malformed_header")


# --- replay -----------------------------------------------------------------------------------------


def test_tif_replayed_nonce_is_refused() -> None:
    cache = NonceCache()
    headers = tif()
    assert authenticate(headers, KEYS, NOW_MS, nonces=cache).key_id == "paas-hosp-1"
    fails(headers, "replayed_nonce", nonces=cache)
    # a fresh nonce is fine
    assert authenticate(tif(nonce=new_nonce()), KEYS, NOW_MS, nonces=cache).scheme == "tif"


def test_tif_nonce_is_remembered_until_the_timestamp_leaves_the_window() -> None:
    cache = NonceCache()
    headers = tif(NOW_S)
    authenticate(headers, KEYS, NOW_MS, nonces=cache)
    last_ok_ms = (NOW_S + TOL_S) * 1000 + 999  # the timestamp check still accepts this instant
    with pytest.raises(GatewayAuthError) as info:
        authenticate(headers, KEYS, last_ok_ms, nonces=cache)
    assert info.value.reason_code == "replayed_nonce"
    with pytest.raises(GatewayAuthError) as info:
        authenticate(headers, KEYS, last_ok_ms + 1, nonces=cache)
    assert info.value.reason_code == "timestamp_expired"
    # purged lazily, on the next insertion after it became useless
    assert cache.remember("other", "x", last_ok_ms + 2, last_ok_ms + 1)
    assert len(cache) == 1


def test_tif_bad_signature_does_not_consume_the_nonce() -> None:
    cache = NonceCache()
    fails(tif(secret="wrong"), "bad_signature", nonces=cache)
    assert len(cache) == 0
    assert authenticate(tif(), KEYS, NOW_MS, nonces=cache).scheme == "tif"


def test_same_nonce_under_two_keys_is_not_a_replay() -> None:
    keys = GatewayKeys([GatewayKey("tif", "a", "s1", H1), GatewayKey("tif", "b", "s2", H2)])
    cache = NonceCache()
    authenticate(sign_tif("a", "s1", NOW_S, "same"), keys, NOW_MS, nonces=cache)
    authenticate(sign_tif("b", "s2", NOW_S, "same"), keys, NOW_MS, nonces=cache)


def test_full_nonce_cache_fails_closed() -> None:
    cache = NonceCache(max_entries=2)
    authenticate(tif(nonce="1"), KEYS, NOW_MS, nonces=cache)
    authenticate(tif(nonce="2"), KEYS, NOW_MS, nonces=cache)
    error = fails(tif(nonce="3"), "replay_cache_full", nonces=cache)
    assert error.http_status == 503


def test_nonce_cache_is_thread_safe() -> None:
    cache = NonceCache()
    accepted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for i in range(200):
            ok = cache.remember("k", str(i), NOW_MS + 1000, NOW_MS)
            with lock:
                accepted.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert accepted.count(True) == 200  # each nonce accepted exactly once across all threads
    assert len(cache) == 200


def test_new_nonce() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(len(n) == 32 and n.isalnum() and n.isascii() for n in nonces)


# --- binding to the institution ---------------------------------------------------------------------


def test_require_institution() -> None:
    auth = authenticate(csb(), KEYS, NOW_MS)
    require_institution(auth, H1)
    with pytest.raises(GatewayAuthError) as info:
        require_institution(auth, H2)
    assert info.value.reason_code == "institution_mismatch"
    assert info.value.http_status == 403


# --- key configuration ------------------------------------------------------------------------------


def test_empty_keys() -> None:
    assert len(GatewayKeys.empty()) == 0
    with pytest.raises(GatewayAuthError):
        authenticate(csb(), GatewayKeys.empty(), NOW_MS)


def test_parse_inline_and_env_secrets() -> None:
    keys = parse_gateway_keys(
        {
            "keys": [
                {"scheme": "csb", "key_id": "ak1", "secret": "inline", "fixmedins_code": H1},
                {"scheme": "tif", "key_id": "p1", "secret_env": "YB_TEST_TIF", "fixmedins_code": H2},
            ]
        },
        {"YB_TEST_TIF": "from-env"},
    )
    assert keys.lookup("csb", "ak1") == GatewayKey("csb", "ak1", "inline", H1)
    assert keys.lookup("tif", "p1") == GatewayKey("tif", "p1", "from-env", H2)
    assert keys.lookup("tif", "ak1") is None
    assert "inline" not in repr(keys.lookup("csb", "ak1"))


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"keys": [{"scheme": "csb", "key_id": "a", "secret_env": "YB_ABSENT", "fixmedins_code": H1}]}, "YB_ABSENT"),
        ({"keys": [{"scheme": "csb", "key_id": "a", "fixmedins_code": H1}]}, "secret"),
        (
            {"keys": [{"scheme": "csb", "key_id": "a", "secret": "s", "secret_env": "X", "fixmedins_code": H1}]},
            "secret",
        ),
        ({"keys": [{"scheme": "hmac", "key_id": "a", "secret": "s", "fixmedins_code": H1}]}, "scheme"),
        ({"keys": [{"scheme": "csb", "key_id": 12, "secret": "s", "fixmedins_code": H1}]}, "key_id"),
        ({"keys": [{"scheme": "csb", "key_id": "a", "secret": "s"}]}, "fixmedins_code"),
        ({"keys": [{"scheme": "csb", "key_id": "a", "secret": "s", "fixmedins_code": H1, "secert": "x"}]}, "secert"),
        ({"keys": [{"scheme": "csb", "key_id": "a", "secret": "s", "fixmedins_code": H1}] * 2}, "重复"),
        ({"key": []}, "keys"),
        ([], "keys"),
    ],
)
def test_parse_errors(data: object, fragment: str) -> None:
    with pytest.raises(GatewayKeysError) as info:
        parse_gateway_keys(data, {})
    assert fragment in info.value.message


def test_env_secret_missing_message_names_the_variable() -> None:
    data = {"keys": [{"scheme": "tif", "key_id": "p", "secret_env": "YB_GATEWAY_SECRET", "fixmedins_code": H1}]}
    with pytest.raises(GatewayKeysError) as info:
        parse_gateway_keys(data, {}, "gateway.yaml")
    assert (
        info.value.message == "网关密钥配置 gateway.yaml: keys[0].secret_env：环境变量 YB_GATEWAY_SECRET 未设置或为空"
    )


def test_load_yaml_and_json_files(tmp_path: Path) -> None:
    yaml_file = tmp_path / "gateway.yaml"
    yaml_file.write_text(
        f"keys:\n  - scheme: csb\n    key_id: ak-hosp-1\n    secret_env: YB_TEST_SK\n    fixmedins_code: {H1}\n",
        encoding="utf-8",
    )
    keys = load_gateway_keys(yaml_file, {"YB_TEST_SK": "sk-secret-1"})
    assert authenticate(csb(), keys, NOW_MS).fixmedins_code == H1

    json_file = tmp_path / "gateway.json"
    json_file.write_text(
        json.dumps(
            {"keys": [{"scheme": "tif", "key_id": "paas-hosp-1", "secret": "tif-secret-1", "fixmedins_code": H1}]}
        )
    )
    keys = GatewayKeys.from_file(json_file, {})
    assert authenticate(tif(), keys, NOW_MS).scheme == "tif"


def test_yaml_number_must_be_quoted(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yml"
    path.write_text(f"keys:\n  - {{scheme: csb, key_id: 0012, secret: s, fixmedins_code: {H1}}}\n", encoding="utf-8")
    with pytest.raises(GatewayKeysError) as info:
        load_gateway_keys(path, {})
    assert "keys[0].key_id" in info.value.message


def test_unreadable_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(GatewayKeysError):
        load_gateway_keys(tmp_path / "absent.yaml", {})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(GatewayKeysError):
        load_gateway_keys(broken, {})
