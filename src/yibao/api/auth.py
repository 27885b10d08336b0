"""Gateway authentication of the designated-institution interface (服务网关鉴权).

Two families of headers reach a national-interface server, and both are verified here:

``csb``  The ``_api_*`` headers of 表 5 (服务网关请求头定义) in the Hunan edition V1.1.27 of
         《医疗保障信息平台 定点医药机构接口规范》: the key=value pairs of the gateway headers,
         keys in natural order, joined with ``&``, signed with HmacSHA1 under the SK (UTF-8),
         base64. ``_api_timestamp`` is 13-digit milliseconds; 表 6 rejects it after
         30 minutes by default.
``tif``  The ``x-tif-*`` headers used by the Tencent TIF gateways of several provinces:
         ``x-tif-signature = sha256_hex(timestamp + secret + nonce + timestamp)``,
         ``x-tif-timestamp`` in seconds. The national spec does not describe it; we apply the
         same 30-minute window and, with a :class:`NonceCache`, refuse a nonce seen twice.

Everything here is a pure function of the headers, the configured keys and ``now_ms``
(the caller reads the clock), so the web layer stays a thin adapter::

    >>> keys = GatewayKeys([GatewayKey("csb", "ak1", "sk1", "H44510000001")])
    >>> headers = sign_csb("1101", "1.0.0", "ak1", "sk1", 1_700_000_000_000)
    >>> authenticate(headers, keys, now_ms=1_700_000_000_000).fixmedins_code
    'H44510000001'

Where no keys are configured the server runs without gateway authentication; that is the
caller's decision (``GatewayKeys.empty()``), never a fallback taken here.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
import os
import secrets
import string
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import yaml

from yibao.errors import YibaoError

Scheme = Literal["csb", "tif"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)

#: 表 6: "时间戳超时，默认为30分钟" — applied to both schemes, in both directions.
DEFAULT_TOLERANCE_MS = 30 * 60 * 1000

CSB_PREFIX = "_api_"
CSB_SIGNATURE = "_api_signature"
#: 表 5, all required ("是否必填 Y")
CSB_REQUIRED = ("_api_name", "_api_version", "_api_timestamp", "_api_access_key", CSB_SIGNATURE)
TIF_PREFIX = "x-tif-"
TIF_REQUIRED = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
#: clients send 32 alphanumerics; the bound keeps a replay cache entry small
TIF_NONCE_MAX = 128

# The spec's own reply texts (表 6); clients match on them, so they are kept verbatim.
MSG_MISSING = "缺少服务网关的请求头!"
MSG_TIMESTAMP = "签名时间戳超时!"
MSG_UNKNOWN_KEY = "非法用户!"
MSG_SIGNATURE = "签名不一致!"

ReasonCode = Literal[
    "missing_header",
    "ambiguous_scheme",
    "malformed_header",
    "timestamp_expired",
    "timestamp_future",
    "unknown_key",
    "bad_signature",
    "replayed_nonce",
    "replay_cache_full",
    "institution_mismatch",
]


class GatewayAuthError(YibaoError):
    """A request failed gateway authentication.

    ``reason_code`` is for logs and metrics; ``message`` is what the caller is told (the
    spec's wording where 表 6 has one); ``detail`` names the offending header, never a secret.
    """

    code = "YB400"

    def __init__(self, reason_code: ReasonCode, message: str, detail: str = "", http_status: int = 401) -> None:
        super().__init__(message)
        self.reason_code: ReasonCode = reason_code
        self.detail = detail
        self.http_status = http_status

    def response_body(self) -> dict[str, object]:
        """The reply body of 表 6, e.g. ``{"code": 401, "message": "签名不一致!"}``."""
        return {"code": self.http_status, "message": self.message}


class GatewayKeysError(YibaoError):
    """The gateway key configuration is invalid."""

    code = "YB401"

    def __init__(self, source: str, path: str, reason: str) -> None:
        where = f"{source}: {path}" if path else source
        super().__init__(f"网关密钥配置 {where}：{reason}")
        self.source = source
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """One gateway account: the AK (csb) or paasid (tif), its secret, and the institution it belongs to."""

    scheme: Scheme
    key_id: str
    secret: str = field(repr=False)
    fixmedins_code: str


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who a request comes from, once its gateway headers have been verified."""

    fixmedins_code: str
    key_id: str
    scheme: Scheme
    #: ``_api_name`` of a csb request (the service, e.g. "1101"); None for tif
    api_name: str | None = None


class GatewayKeys:
    """The configured gateway accounts, looked up by (scheme, key id)."""

    __slots__ = ("_by_id",)

    def __init__(self, keys: Iterable[GatewayKey] = ()) -> None:
        by_id: dict[tuple[Scheme, str], GatewayKey] = {}
        for key in keys:
            if (key.scheme, key.key_id) in by_id:
                raise GatewayKeysError("GatewayKeys", key.key_id, f"{key.scheme} 账户 {key.key_id} 重复配置")
            by_id[(key.scheme, key.key_id)] = key
        self._by_id = by_id

    @classmethod
    def empty(cls) -> GatewayKeys:
        """No accounts: the caller runs without gateway authentication."""
        return cls()

    @classmethod
    def from_mapping(
        cls, data: object, environ: Mapping[str, str] | None = None, source: str = "mapping"
    ) -> GatewayKeys:
        return parse_gateway_keys(data, os.environ if environ is None else environ, source)

    @classmethod
    def from_file(cls, path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayKeys:
        return load_gateway_keys(path, environ)

    def lookup(self, scheme: Scheme, key_id: str) -> GatewayKey | None:
        return self._by_id.get((scheme, key_id))

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[GatewayKey]:
        return iter(self._by_id.values())

    def __repr__(self) -> str:
        return f"GatewayKeys({len(self)} keys)"


_KEY_FIELDS = frozenset({"scheme", "key_id", "secret", "secret_env", "fixmedins_code"})


def parse_gateway_keys(data: object, environ: Mapping[str, str], source: str = "mapping") -> GatewayKeys:
    """``{"keys": [{"scheme", "key_id", "secret" | "secret_env", "fixmedins_code"}, ...]}`` → GatewayKeys.

    ``secret_env`` names an environment variable read from ``environ`` now, so secrets need
    not sit in the file. Every value must be a string: YAML reads ``key_id: 0012`` as a number.
    """
    if not isinstance(data, Mapping) or set(data) != {"keys"} or not isinstance(data["keys"], list):
        raise GatewayKeysError(source, "", '应为 {"keys": [...]} 的形式')
    keys: list[GatewayKey] = []
    for i, entry in enumerate(data["keys"]):
        where = f"keys[{i}]"
        if not isinstance(entry, Mapping):
            raise GatewayKeysError(source, where, "应为一个映射")
        unknown = sorted(str(k) for k in entry if k not in _KEY_FIELDS)
        if unknown:
            raise GatewayKeysError(source, where, f"未知字段 {', '.join(unknown)}")
        values: dict[str, str] = {}
        for name in sorted(_KEY_FIELDS & set(entry)):
            value = entry[name]
            if not isinstance(value, str) or not value.strip():
                raise GatewayKeysError(source, f"{where}.{name}", "应为非空字符串（YAML 中数字请加引号）")
            values[name] = value.strip()
        for name in ("scheme", "key_id", "fixmedins_code"):
            if name not in values:
                raise GatewayKeysError(source, f"{where}.{name}", "缺少此字段")
        scheme = values["scheme"]
        if scheme not in SCHEMES:
            raise GatewayKeysError(source, f"{where}.scheme", f"应为 {' 或 '.join(SCHEMES)}，而不是 {scheme}")
        if ("secret" in values) == ("secret_env" in values):
            raise GatewayKeysError(source, where, "secret 与 secret_env 须有且只有一个")
        if "secret_env" in values:
            secret = environ.get(values["secret_env"], "")
            if not secret:
                raise GatewayKeysError(source, f"{where}.secret_env", f"环境变量 {values['secret_env']} 未设置或为空")
        else:
            # the secret is used exactly as written: stripping would change what clients sign with
            secret = str(entry["secret"])
        keys.append(GatewayKey("csb" if scheme == "csb" else "tif", values["key_id"], secret, values["fixmedins_code"]))
    try:
        return GatewayKeys(keys)
    except GatewayKeysError as e:
        raise GatewayKeysError(source, "keys", e.reason) from None


def load_gateway_keys(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayKeys:
    """Read a ``.json`` or ``.yaml``/``.yml`` key file, then :func:`parse_gateway_keys`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise GatewayKeysError(str(p), "", f"无法读取：{e.strerror}") from None
    try:
        data: object = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise GatewayKeysError(str(p), "", f"格式错误：{e}") from None
    return parse_gateway_keys(data, os.environ if environ is None else environ, str(p))


# --- signing (client side, also the server's reference computation) -------------------------------


def csb_string_to_sign(headers: Mapping[str, str]) -> str:
    """The 表 5 string to sign: every ``_api_*`` header but the signature, ``key=value``, sorted, joined by ``&``.

    Keys are expected lower-case (HTTP header names are case-insensitive; the spec spells them
    lower-case). "自然排序" is Java's natural String order, the same as Python's for ASCII keys.
    """
    pairs = sorted((k, v) for k, v in headers.items() if k.startswith(CSB_PREFIX) and k != CSB_SIGNATURE)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _csb_signature(string_to_sign: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _tif_signature(timestamp: str, secret: str, nonce: str) -> str:
    return hashlib.sha256((timestamp + secret + nonce + timestamp).encode("utf-8")).hexdigest()


def sign_csb(api_name: str, api_version: str, access_key: str, secret: str, timestamp_ms: int) -> dict[str, str]:
    """The five ``_api_*`` headers of 表 5 for one call."""
    headers = {
        "_api_name": api_name,
        "_api_version": api_version,
        "_api_timestamp": str(timestamp_ms),
        "_api_access_key": access_key,
    }
    headers[CSB_SIGNATURE] = _csb_signature(csb_string_to_sign(headers), secret)
    return headers


def sign_tif(paasid: str, secret: str, timestamp_s: int, nonce: str) -> dict[str, str]:
    """The four ``x-tif-*`` headers for one call; ``nonce`` must be fresh per call (see :func:`new_nonce`)."""
    timestamp = str(timestamp_s)
    return {
        "x-tif-paasid": paasid,
        "x-tif-timestamp": timestamp,
        "x-tif-nonce": nonce,
        "x-tif-signature": _tif_signature(timestamp, secret, nonce),
    }


_NONCE_ALPHABET = string.ascii_letters + string.digits


def new_nonce(length: int = 32) -> str:
    """A random alphanumeric nonce, 32 characters like the clients in the field send."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


# --- replay protection for tif -----------------------------------------------------------------------


class NonceCache:
    """The tif nonces accepted within the timestamp window, to refuse a replayed request.

    An entry lives until its request's timestamp leaves the window; after that the
    timestamp check alone refuses a replay (the signature binds nonce and timestamp). Bounded: when ``max_entries`` live
    entries are held, new requests are refused (fail closed) rather than forgetting a nonce
    that could then be replayed. Thread-safe. One process only: several workers need a
    shared store (or sticky routing) for the same guarantee.
    """

    __slots__ = ("_expiry", "_heap", "_lock", "max_entries")

    def __init__(self, max_entries: int = 200_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._expiry: dict[tuple[str, str], int] = {}
        self._heap: list[tuple[int, tuple[str, str]]] = []
        self._lock = threading.Lock()

    def remember(self, key_id: str, nonce: str, expires_ms: int, now_ms: int) -> bool:
        """Record ``nonce`` for ``key_id`` until ``expires_ms`` (exclusive); False if already recorded.

        Raises :class:`GatewayAuthError` (``replay_cache_full``) when the cache is full.
        """
        entry = (key_id, nonce)
        with self._lock:
            self._purge(now_ms)
            if entry in self._expiry:
                return False
            if len(self._expiry) >= self.max_entries:
                raise GatewayAuthError("replay_cache_full", "服务网关请求过多，请稍后重试!", http_status=503)
            self._expiry[entry] = expires_ms
            heapq.heappush(self._heap, (expires_ms, entry))
            return True

    def _purge(self, now_ms: int) -> None:
        while self._heap and self._heap[0][0] <= now_ms:
            _, entry = heapq.heappop(self._heap)
            self._expiry.pop(entry, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


# --- verification (server side) ---------------------------------------------------------------------


def _normalise(headers: Mapping[str, str]) -> dict[str, str]:
    # HTTP header names are case-insensitive (RFC 9110 §5.1); values are taken as received
    return {k.strip().lower(): v for k, v in headers.items()}


def _require(h: Mapping[str, str], names: Iterable[str]) -> None:
    for name in names:
        if not h.get(name, "").strip():
            raise GatewayAuthError("missing_header", MSG_MISSING, name)


def _digits(value: str, header: str) -> int:
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise GatewayAuthError("malformed_header", "签名时间戳格式错误!", header)
    return int(value)


def _check_window(timestamp: int, now: int, tolerance: int, header: str) -> None:
    # 表 6 "时间戳超时，默认为30分钟": exactly 30 minutes is still on time. Future timestamps get
    # the same allowance for clock skew, no more.
    if timestamp < now - tolerance:
        raise GatewayAuthError("timestamp_expired", MSG_TIMESTAMP, header)
    if timestamp > now + tolerance:
        raise GatewayAuthError("timestamp_future", MSG_TIMESTAMP, header)


def _same(expected: str, given: str) -> bool:
    # bytes, so a non-ASCII header cannot make compare_digest raise
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _authenticate_csb(h: Mapping[str, str], keys: GatewayKeys, now_ms: int, tolerance_ms: int) -> Authenticated:
    _require(h, CSB_REQUIRED)
    _check_window(_digits(h["_api_timestamp"], "_api_timestamp"), now_ms, tolerance_ms, "_api_timestamp")
    key = keys.lookup("csb", h["_api_access_key"])
    if key is None:
        raise GatewayAuthError("unknown_key", MSG_UNKNOWN_KEY, "_api_access_key")
    if not _same(_csb_signature(csb_string_to_sign(h), key.secret), h[CSB_SIGNATURE].strip()):
        raise GatewayAuthError("bad_signature", MSG_SIGNATURE, CSB_SIGNATURE)
    return Authenticated(key.fixmedins_code, key.key_id, "csb", h["_api_name"])


def _authenticate_tif(
    h: Mapping[str, str], keys: GatewayKeys, now_ms: int, tolerance_ms: int, nonces: NonceCache | None
) -> Authenticated:
    _require(h, TIF_REQUIRED)
    timestamp = h["x-tif-timestamp"].strip()
    seconds = _digits(timestamp, "x-tif-timestamp")
    # compared in whole seconds, the unit the client signs in
    _check_window(seconds, now_ms // 1000, tolerance_ms // 1000, "x-tif-timestamp")
    nonce = h["x-tif-nonce"].strip()
    if len(nonce) > TIF_NONCE_MAX:
        raise GatewayAuthError("malformed_header", "x-tif-nonce 过长!", "x-tif-nonce")
    key = keys.lookup("tif", h["x-tif-paasid"])
    if key is None:
        raise GatewayAuthError("unknown_key", MSG_UNKNOWN_KEY, "x-tif-paasid")
    # hex case is not part of the secret; some clients send upper-case digests
    if not _same(_tif_signature(timestamp, key.secret, nonce), h["x-tif-signature"].strip().lower()):
        raise GatewayAuthError("bad_signature", MSG_SIGNATURE, "x-tif-signature")
    # only after the signature holds, so strangers cannot fill the cache; kept until the first
    # millisecond at which the window check above refuses this timestamp
    expires_ms = (seconds + tolerance_ms // 1000 + 1) * 1000
    if nonces is not None and not nonces.remember(key.key_id, nonce, expires_ms, now_ms):
        raise GatewayAuthError("replayed_nonce", "请求重复（x-tif-nonce 已使用）!", "x-tif-nonce")
    return Authenticated(key.fixmedins_code, key.key_id, "tif")


def authenticate(
    headers: Mapping[str, str],
    keys: GatewayKeys,
    now_ms: int,
    *,
    nonces: NonceCache | None = None,
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
) -> Authenticated:
    """Verify a request's gateway headers; return the institution and key they authenticate.

    The scheme is the header family present. Checks run in the order of 表 6: headers
    present, timestamp window, known key, signature (then, for tif, the nonce). csb has no
    nonce: a captured request can be replayed within the window, so the server must make
    writes idempotent on ``msgid`` / business keys (the spec's own answer to retries).

    Raises :class:`GatewayAuthError`.
    """
    h = _normalise(headers)
    csb = any(k.startswith(CSB_PREFIX) for k in h)
    tif = any(k.startswith(TIF_PREFIX) for k in h)
    if csb and tif:
        # one family per request: verifying either one alone would leave the other unchecked
        raise GatewayAuthError("ambiguous_scheme", "请求同时携带 _api_* 与 x-tif-* 两种服务网关请求头!")
    if csb:
        return _authenticate_csb(h, keys, now_ms, tolerance_ms)
    if tif:
        return _authenticate_tif(h, keys, now_ms, tolerance_ms, nonces)
    raise GatewayAuthError("missing_header", MSG_MISSING)


def require_institution(auth: Authenticated, fixmedins_code: str) -> None:
    """The envelope's ``fixmedins_code`` must be the authenticated institution's own.

    Without this an institution holding valid keys could act for another (and read its
    visits); the server calls it on every request before touching data.
    """
    if auth.fixmedins_code != fixmedins_code.strip():
        raise GatewayAuthError(
            "institution_mismatch",
            "报文中的定点医药机构编号与服务网关账户不符!",
            "fixmedins_code",
            http_status=403,
        )
