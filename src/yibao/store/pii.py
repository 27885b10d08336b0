"""Protection of personal data (个人信息): ID numbers and names at rest, in responses and in logs.

- At rest: :class:`PiiCipher` encrypts each value with AES-256-GCM under a random 96-bit nonce.
  The associated data is a purpose label (``b"certno"``, ``b"name"``), so a ciphertext moved
  to a column of another kind no longer decrypts.
- Look-up: :meth:`PiiCipher.lookup_hash` is a keyed, deterministic HMAC-SHA256 of the
  normalised ID number, so 1101 (人员信息获取) can find a person by an index without the
  database ever holding the number in clear.
- Display and logs: :func:`mask_certno`, :func:`mask_name`, and :class:`PiiLogFilter`, which
  masks anything shaped like a mainland ID number before a log record is written.

Keys: ``YIBAO_PII_KEY`` holds the master key (base64 of 32 bytes); ``YIBAO_PII_OLD_KEYS``
(comma-separated) holds retired keys that still decrypt. The AES key, the look-up key and
the one-byte key id are derived from the master key with HKDF-SHA256 under distinct labels,
so no key material serves two purposes.

Blob layout: ``key_id (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``.

    >>> cipher = PiiCipher(bytes(32))
    >>> cipher.decrypt(cipher.encrypt("张三", LABEL_NAME), LABEL_NAME)
    '张三'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from yibao.errors import YibaoError

ENV_KEY = "YIBAO_PII_KEY"
ENV_OLD_KEYS = "YIBAO_PII_OLD_KEYS"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit, the GCM size (NIST SP 800-38D §8.2)
TAG_BYTES = 16

LABEL_CERTNO = b"certno"
LABEL_NAME = b"name"

# HKDF info labels; changing one changes every derived key (and every stored hash)
_INFO_AES = b"yibao/pii/aes-256-gcm/v1"
_INFO_LOOKUP = b"yibao/pii/lookup-hash/v1"
_INFO_KEY_ID = b"yibao/pii/key-id/v1"


class PiiKeyError(YibaoError):
    """The PII master key is missing or malformed."""

    code = "YB500"


class PiiDecryptError(YibaoError):
    """A stored value does not decrypt: wrong key, tampered, or another column's label."""

    code = "YB501"


def _derive(master: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


def _parse_key(text: str, variable: str, position: str = "") -> bytes:
    where = f"{variable}{position}"
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PiiKeyError(f"环境变量 {where} 格式错误：应为 32 字节密钥的 base64 编码") from None
    if len(raw) != KEY_BYTES:
        raise PiiKeyError(f"环境变量 {where} 格式错误：应为 32 字节密钥的 base64 编码，解码后为 {len(raw)} 字节")
    return raw


def normalise_certno(certno: str) -> str:
    """The form an ID number is hashed in: no surrounding blanks, check character ``X`` upper-case."""
    return certno.strip().upper()


class _Key:
    """One master key and what is derived from it."""

    __slots__ = ("aead", "key_id", "lookup")

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_BYTES:
            raise PiiKeyError(f"个人信息密钥应为 {KEY_BYTES} 字节，而不是 {len(master)} 字节")
        self.aead = AESGCM(_derive(master, _INFO_AES))
        self.lookup = _derive(master, _INFO_LOOKUP)
        # a fingerprint rather than a list position: stays the same when the key moves to the old list
        self.key_id = _derive(master, _INFO_KEY_ID, 1)[0]


class PiiCipher:
    """Encrypts with the current key; decrypts with the current key or any old one."""

    __slots__ = ("_current", "_keys")

    def __init__(self, key: bytes, old_keys: Iterable[bytes] = ()) -> None:
        self._current = _Key(key)
        self._keys = [self._current, *(_Key(k) for k in old_keys if k != key)]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PiiCipher:
        """Read ``YIBAO_PII_KEY`` and ``YIBAO_PII_OLD_KEYS`` from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        text = env.get(ENV_KEY, "").strip()
        if not text:
            raise PiiKeyError(
                f"环境变量 {ENV_KEY} 未设置：个人信息加密需要一个 32 字节密钥的 base64 编码"
                "（可用 PiiCipher.generate_key() 生成，见 docs/security.md）"
            )
        key = _parse_key(text, ENV_KEY)
        old = [
            _parse_key(part, ENV_OLD_KEYS, f" 第 {i} 项")
            for i, part in enumerate(env.get(ENV_OLD_KEYS, "").split(","), start=1)
            if part.strip()
        ]
        return cls(key, old)

    @staticmethod
    def generate_key() -> str:
        """A new random master key, base64, for ``YIBAO_PII_KEY``."""
        return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")

    @property
    def key_id(self) -> int:
        """The id byte written in front of every blob the current key encrypts."""
        return self._current.key_id

    def encrypt(self, text: str, label: bytes) -> bytes:
        """``key_id || nonce || ciphertext+tag`` of ``text`` (UTF-8), bound to ``label``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, text.encode("utf-8"), label)
        return bytes([self._current.key_id]) + nonce + sealed

    def decrypt(self, blob: bytes, label: bytes) -> str:
        """The text of a blob from :meth:`encrypt` under the same ``label``; :class:`PiiDecryptError` otherwise."""
        if len(blob) < 1 + NONCE_BYTES + TAG_BYTES:
            raise PiiDecryptError("个人信息密文长度不正确")
        key_id, nonce, sealed = blob[0], blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        # one id byte can be shared by two keys (1 in 256 per pair): try each candidate
        for key in self._keys:
            if key.key_id == key_id:
                try:
                    return key.aead.decrypt(nonce, sealed, label).decode("utf-8")
                except InvalidTag:
                    continue
        raise PiiDecryptError("个人信息密文无法解密：密钥不符、数据被篡改或用途标签不符")

    def needs_reencrypt(self, blob: bytes) -> bool:
        """True when ``blob`` was not written by the current key (a rotation job re-encrypts it)."""
        return len(blob) == 0 or blob[0] != self._current.key_id

    def reencrypt(self, blob: bytes, label: bytes) -> bytes:
        """``blob`` decrypted with whichever key wrote it and encrypted again with the current key."""
        return self.encrypt(self.decrypt(blob, label), label)

    def lookup_hash(self, certno: str) -> str:
        """Hex HMAC-SHA256 of the normalised ID number under the current look-up key (64 characters)."""
        return _lookup(self._current.lookup, certno)

    def lookup_hashes(self, certno: str) -> list[str]:
        """The look-up hash under every key, current first: query with ``IN (...)`` while a rotation runs."""
        return [_lookup(k.lookup, certno) for k in self._keys]

    def __repr__(self) -> str:
        return f"PiiCipher(key_id=0x{self.key_id:02x}, old_keys={len(self._keys) - 1})"


def _lookup(key: bytes, certno: str) -> str:
    return hmac.new(key, normalise_certno(certno).encode("utf-8"), hashlib.sha256).hexdigest()


# --- masking ----------------------------------------------------------------------------------------


def mask_certno(certno: str) -> str:
    """``440102199001011234`` → ``440102********1234``: first 6 and last 4 kept.

    A value of 10 characters or fewer would be shown whole by that rule; it is masked entirely.
    """
    value = certno.strip()
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_name(name: str) -> str:
    """``张三丰`` → ``张*丰``, ``张三`` → ``张*``, ``欧阳娜娜`` → ``欧**娜``; one character → ``*``."""
    value = name.strip()
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


# GB 11643-1999: 6-digit region code, birth date YYYYMMDD, 3-digit sequence, check digit 0-9/X.
# The 15-digit form (before 1999) has a 2-digit year and no check digit. Digits on either side
# mean a longer number (msgid, mdtrt_id, a bank card) and are left alone.
_MONTH_DAY = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_CERTNO_RE = re.compile(
    rf"(?<![0-9])(?:[1-9][0-9]{{5}}(?:18|19|20)[0-9]{{2}}{_MONTH_DAY}[0-9]{{3}}[0-9Xx]"
    rf"|[1-9][0-9]{{5}}[0-9]{{2}}{_MONTH_DAY}[0-9]{{3}})(?![0-9])"
)


def mask_certnos_in(text: str) -> str:
    """``text`` with every ID-number-shaped run masked by :func:`mask_certno`."""
    return _CERTNO_RE.sub(lambda m: mask_certno(m.group(0)), text)


class PiiLogFilter(logging.Filter):
    """Masks ID numbers in a record's message, arguments, exception and stack text.

    The message is formatted here (``msg % args``) and the result masked, so an ID number
    inside any argument (a dict, an exception, an int) is caught. Attach it to handlers:
    a filter on a logger does not see records propagated from its children. Custom
    ``extra`` attributes are not inspected; names cannot be recognised and must be
    masked with :func:`mask_name` where they are logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record, nor leak its args
            message = f"{record.msg!s} {record.args!r}"
        record.msg = mask_certnos_in(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatter.format reuses exc_text when set, so the masked text is what gets written
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_certnos_in(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_certnos_in(record.stack_info)
        return True
