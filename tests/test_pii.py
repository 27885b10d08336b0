"""Personal-data protection: AES-256-GCM at rest, keyed look-up hash, masking, the log filter. Real crypto, no mocks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from yibao.store.pii import (
    LABEL_CERTNO,
    LABEL_NAME,
    PiiCipher,
    PiiDecryptError,
    PiiKeyError,
    PiiLogFilter,
    mask_certno,
    mask_certnos_in,
    mask_name,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
CERTNO = "440102199001011234"
CERTNO_X = "11010519491231002X"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def hkdf(master: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


# --- encryption -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", CERTNO, "张三丰", "买买提·艾力", "🙂 emoji"])
def test_round_trip(text: str) -> None:
    cipher = PiiCipher(KEY_A)
    assert cipher.decrypt(cipher.encrypt(text, LABEL_NAME), LABEL_NAME) == text


def test_blob_layout_decrypts_independently() -> None:
    # key_id || 12-byte nonce || ciphertext+tag, AES-256-GCM under the HKDF-derived key, AAD = label
    blob = PiiCipher(KEY_A).encrypt(CERTNO, LABEL_CERTNO)
    assert len(blob) == 1 + 12 + len(CERTNO) + 16
    assert blob[0] == hkdf(KEY_A, b"yibao/pii/key-id/v1", 1)[0]
    aes = AESGCM(hkdf(KEY_A, b"yibao/pii/aes-256-gcm/v1"))
    assert aes.decrypt(blob[1:13], blob[13:], b"certno") == CERTNO.encode()


def test_nonce_is_fresh_per_value() -> None:
    cipher = PiiCipher(KEY_A)
    blobs = {cipher.encrypt(CERTNO, LABEL_CERTNO) for _ in range(50)}
    assert len(blobs) == 50
    assert len({b[1:13] for b in blobs}) == 50


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_a_flipped_byte_is_detected(position: int) -> None:
    cipher = PiiCipher(KEY_A)
    blob = bytearray(cipher.encrypt(CERTNO, LABEL_CERTNO))
    blob[position] ^= 0x01
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(bytes(blob), LABEL_CERTNO)


@pytest.mark.parametrize("blob", [b"", b"\x00", bytes(28)])
def test_short_or_empty_blob(blob: bytes) -> None:
    with pytest.raises(PiiDecryptError):
        PiiCipher(KEY_A).decrypt(blob, LABEL_CERTNO)


def test_a_blob_cannot_move_to_another_column() -> None:
    cipher = PiiCipher(KEY_A)
    blob = cipher.encrypt(CERTNO, LABEL_CERTNO)
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(blob, LABEL_NAME)


def test_another_key_cannot_decrypt() -> None:
    blob = PiiCipher(KEY_A).encrypt(CERTNO, LABEL_CERTNO)
    with pytest.raises(PiiDecryptError):
        PiiCipher(KEY_B).decrypt(blob, LABEL_CERTNO)


def test_rotation_old_key_still_decrypts_new_writes_use_the_current_key() -> None:
    old_blob = PiiCipher(KEY_A).encrypt("张三", LABEL_NAME)
    rotated = PiiCipher(KEY_B, [KEY_A])
    assert rotated.decrypt(old_blob, LABEL_NAME) == "张三"
    assert rotated.needs_reencrypt(old_blob)
    new_blob = rotated.reencrypt(old_blob, LABEL_NAME)
    assert new_blob[0] == rotated.key_id == PiiCipher(KEY_B).key_id
    assert not rotated.needs_reencrypt(new_blob)
    # the new blob no longer needs the old key
    assert PiiCipher(KEY_B).decrypt(new_blob, LABEL_NAME) == "张三"
    with pytest.raises(PiiDecryptError):
        PiiCipher(KEY_A).decrypt(new_blob, LABEL_NAME)


def test_old_keys_in_any_order() -> None:
    # the id byte is a fingerprint of the key, not its place in YIBAO_PII_OLD_KEYS
    key_c = bytes(range(200, 232))
    blob_a = PiiCipher(KEY_A).encrypt(CERTNO, LABEL_CERTNO)
    blob_c = PiiCipher(key_c).encrypt(CERTNO, LABEL_CERTNO)
    for old in ([KEY_A, key_c], [key_c, KEY_A]):
        cipher = PiiCipher(KEY_B, old)
        assert cipher.decrypt(blob_a, LABEL_CERTNO) == cipher.decrypt(blob_c, LABEL_CERTNO) == CERTNO
    assert PiiCipher(KEY_A).key_id == PiiCipher(KEY_A, [KEY_B]).key_id == blob_a[0]


def test_repr_shows_no_key_material() -> None:
    text = repr(PiiCipher(KEY_A, [KEY_B]))
    assert b64(KEY_A) not in text and KEY_A.hex() not in text
    assert "old_keys=1" in text


# --- key handling -----------------------------------------------------------------------------------


def test_from_env() -> None:
    cipher = PiiCipher.from_env({"YIBAO_PII_KEY": b64(KEY_B), "YIBAO_PII_OLD_KEYS": f" {b64(KEY_A)} ,"})
    assert cipher.decrypt(PiiCipher(KEY_A).encrypt(CERTNO, LABEL_CERTNO), LABEL_CERTNO) == CERTNO
    assert cipher.key_id == PiiCipher(KEY_B).key_id


@pytest.mark.parametrize("env", [{}, {"YIBAO_PII_KEY": ""}, {"YIBAO_PII_KEY": "  "}])
def test_missing_key_names_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(PiiKeyError) as info:
        PiiCipher.from_env(env)
    assert "YIBAO_PII_KEY" in info.value.message and "未设置" in info.value.message


@pytest.mark.parametrize("value", ["not base64!", b64(bytes(16)), b64(bytes(33)), "AAAA"])
def test_malformed_key(value: str) -> None:
    with pytest.raises(PiiKeyError) as info:
        PiiCipher.from_env({"YIBAO_PII_KEY": value})
    assert "YIBAO_PII_KEY" in info.value.message and "格式错误" in info.value.message
    assert value not in info.value.message  # never echo a key back


def test_malformed_old_key_names_its_position() -> None:
    with pytest.raises(PiiKeyError) as info:
        PiiCipher.from_env({"YIBAO_PII_KEY": b64(KEY_A), "YIBAO_PII_OLD_KEYS": f"{b64(KEY_B)},short"})
    assert "YIBAO_PII_OLD_KEYS 第 2 项" in info.value.message


def test_generate_key() -> None:
    keys = {PiiCipher.generate_key() for _ in range(10)}
    assert len(keys) == 10
    for key in keys:
        assert len(base64.b64decode(key, validate=True)) == 32
        PiiCipher.from_env({"YIBAO_PII_KEY": key})


def test_wrong_size_key_in_constructor() -> None:
    with pytest.raises(PiiKeyError):
        PiiCipher(bytes(31))


# --- look-up hash -----------------------------------------------------------------------------------


def test_lookup_hash_known_answer() -> None:
    lookup_key = hkdf(KEY_A, b"yibao/pii/lookup-hash/v1")
    expected = hmac.new(lookup_key, CERTNO_X.encode(), hashlib.sha256).hexdigest()
    assert PiiCipher(KEY_A).lookup_hash(CERTNO_X) == expected
    # the look-up key is not the master key, nor the encryption key
    assert expected != hmac.new(KEY_A, CERTNO_X.encode(), hashlib.sha256).hexdigest()
    assert lookup_key != hkdf(KEY_A, b"yibao/pii/aes-256-gcm/v1")


def test_lookup_hash_is_deterministic_and_normalised() -> None:
    cipher = PiiCipher(KEY_A)
    h = cipher.lookup_hash(CERTNO_X)
    assert len(h) == 64 and int(h, 16) >= 0
    assert cipher.lookup_hash(CERTNO_X) == h
    assert cipher.lookup_hash(" 11010519491231002x\n") == h
    assert PiiCipher(KEY_A).lookup_hash(CERTNO_X) == h  # a new instance, same key


def test_lookup_hash_differs_by_id_and_by_key() -> None:
    a = PiiCipher(KEY_A)
    assert a.lookup_hash(CERTNO) != a.lookup_hash("440102199001011235")
    assert a.lookup_hash(CERTNO) != PiiCipher(KEY_B).lookup_hash(CERTNO)


def test_lookup_hashes_during_rotation() -> None:
    rotated = PiiCipher(KEY_B, [KEY_A])
    assert rotated.lookup_hashes(CERTNO) == [PiiCipher(KEY_B).lookup_hash(CERTNO), PiiCipher(KEY_A).lookup_hash(CERTNO)]
    assert rotated.lookup_hash(CERTNO) == PiiCipher(KEY_B).lookup_hash(CERTNO)


# --- masking ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("440102199001011234", "440102********1234"),
        ("11010519491231002X", "110105********002X"),
        ("110105491231002", "110105*****1002"),  # 15-digit form
        (" 440102199001011234 ", "440102********1234"),
        ("12345678901", "123456*8901"),  # 11 characters: the shortest that keeps 6 + 4
        ("1234567890", "**********"),  # 10 or fewer: nothing shown
        ("E1234567", "********"),
        ("1", "*"),
        ("", ""),
    ],
)
def test_mask_certno(value: str, masked: str) -> None:
    assert mask_certno(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧**娜"),
        ("买买提·艾力", "买****力"),
        ("张", "*"),
        ("", ""),
        (" 李四 ", "李*"),
    ],
)
def test_mask_name(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("certno=440102199001011234", "certno=440102********1234"),
        ('{"certno":"11010519491231002x"}', '{"certno":"110105********002x"}'),
        ("old 110105491231002 id", "old 110105*****1002 id"),
        ("两个 440102199001011234 和 11010519491231002X", "两个 440102********1234 和 110105********002X"),
        # not ID-shaped: no plausible birth date, or part of a longer number
        ("440102199013011234", "440102199013011234"),
        ("440102199001321234", "440102199001321234"),
        ("msgid=H44510000001202410141530001234", "msgid=H44510000001202410141530001234"),
        ("card 6222021234567890123", "card 6222021234567890123"),
        ("amount 1234.56", "amount 1234.56"),
    ],
)
def test_mask_certnos_in(text: str, masked: str) -> None:
    assert mask_certnos_in(text) == masked


# --- the log filter, on real loggers ----------------------------------------------------------------


@pytest.fixture
def masked_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    log_filter = PiiLogFilter()
    caplog.handler.addFilter(log_filter)
    yield caplog
    caplog.handler.removeFilter(log_filter)


def test_log_filter_on_the_handler(masked_caplog: pytest.LogCaptureFixture) -> None:
    caplog = masked_caplog
    log = logging.getLogger("yibao.test.pii.handler")
    with caplog.at_level(logging.INFO):
        log.info("1101 certno=%s name=%s", CERTNO, mask_name("张三"))
        log.info("dict arg %s", {"certno": CERTNO_X, "n": 1})
        log.info("int arg %d done", 440102199001011234)
        log.warning("in the message itself 110105491231002 (old form)")
        log.info("100%% of %s, no ID", "fees")
        log.info("50% without args stays as written")
    text = caplog.text
    assert CERTNO not in text and CERTNO_X not in text and "440102199001011234" not in text
    assert "110105491231002" not in text
    assert "certno=440102********1234 name=张*" in text
    assert "'certno': '110105********002X'" in text
    assert "int arg 440102********1234 done" in text
    assert "100% of fees, no ID" in text
    assert "50% without args stays as written" in text
    assert caplog.records[0].getMessage() == "1101 certno=440102********1234 name=张*"


def test_log_filter_on_the_logger_masks_exceptions_and_stacks(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("yibao.test.pii.logger")
    log.addFilter(PiiLogFilter())
    try:
        with caplog.at_level(logging.INFO, logger=log.name):
            try:
                raise ValueError(f"no person with certno {CERTNO}")
            except ValueError:
                log.exception("lookup failed for %s", CERTNO)
            log.info("here", stack_info=True, extra={"unrelated": 1})
        assert CERTNO not in caplog.text
        assert "no person with certno 440102********1234" in caplog.text
        assert "lookup failed for 440102********1234" in caplog.text
    finally:
        log.filters.clear()


def test_log_filter_survives_a_bad_format_string(masked_caplog: pytest.LogCaptureFixture) -> None:
    caplog = masked_caplog
    log = logging.getLogger("yibao.test.pii.bad")
    with caplog.at_level(logging.INFO):
        log.info("two placeholders %s %s", CERTNO)  # a programming mistake, with an ID in the args
    assert CERTNO not in caplog.text
    assert "440102********1234" in caplog.text


def test_log_filter_never_drops_a_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("text",), None)
    assert PiiLogFilter().filter(record) is True
    assert record.getMessage() == "plain text"
