#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into corpus/<target>/.

Cookies are sealed as the `cookie` crate's private jar seals them (HKDF-SHA256
expand of the key material into a signing and an encryption key, AES-256-GCM
with the cookie name as associated data, base64 of nonce, ciphertext and tag),
with the fixed test keys of src/lib.rs. Needs the `cryptography` package.
Run from fuzz/: `python3 seeds.py`.
"""

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

KEY = bytes([7] * 32)
OLD_KEY = bytes([9] * 32)
SEP = b"\xff"


def seal(material: bytes, name: str, plaintext: str) -> str:
    both = HKDFExpand(
        hashes.SHA256(), 64, b"COOKIE;SIGNED:HMAC-SHA256;PRIVATE:AEAD-AES-256-GCM"
    ).derive(material)
    nonce = os.urandom(12)
    sealed = AESGCM(both[32:]).encrypt(nonce, plaintext.encode(), name.encode())
    return base64.b64encode(nonce + sealed).decode()


def payload(data: str, idle: str = "1700007200", absolute: int = 1700604800) -> str:
    return (
        '{"v":1,"id":"mRl2S5MgMYa6XwOVhPv3vw","issued":1700000000,'
        f'"idle_until":{idle},"absolute_until":{absolute},"data":{data}}}'
    )


V2 = (
    '{"fz.items":[{"sku":"tea","quantity":2}],"fz.count":3,'
    '"fz.token":{"exp":1700000900,"v":"t0k3n"},"fz.notice":"saved","fz.__version":2}'
)
V1 = '{"fz.items":["tea","tea","cake"],"fz.user":"u42","fz.__version":1}'

SEEDS = {
    "record": [
        V2.encode(),
        V1.encode(),
        b'{"a\\"b\\\\\\u000a":1,"shop.cart":[{"sku":"tea"}]}',
        b'{"x":null,"y":1e5,"z":[true,false,{}],"\xc3\xa9":"\\ud83d\\ude00"}',
        b"{}",
    ],
    "store_rows": [
        b"\x00" + SEP.join([b"3", V2.encode(), b"1700000900000"]),
        b"\x00" + SEP.join([b"", b"", b"1700000900000"]),
        b"\x00" + SEP.join([b"1", b"{}", b"1600000000000"]),
        b"\x01\x02\x00\x03" + SEP.join([b"\x05", V2.encode(), b"\x00"]),
        b"\x01\x02\x05\x03" + SEP.join([b"\x05", b"", b"\x00"]),
        b"\x01\x01\x01\x01" + SEP.join([b"7", V1.encode(), b"9e99"]),
    ],
    "schema": [
        b"\x10" + SEP.join([b'["tea","tea","cake"]', b'"u42"', b'{"exp":1700000900,"v":"tok"}',
                            b"", b"", b"", b"1"]),
        b"\x10" + SEP.join([b'["tea"]', b'"u7"']),
        b"\x10" + SEP.join([b'["tea"]', b'"bob"', b"", b"", b"", b"", b"1"]),
        b"\x10" + SEP.join([b'[{"sku":"tea","quantity":2}]', b"", b'{"exp":1700000900,"v":"tok"}',
                            b"42", b'"hi"', b"3", b"2"]),
        b"\x40" + SEP.join([b"", b"", b'{"exp":1700000900,"v":"tok"}', b"", b"", b"", b"2"]),
        b"\x10" + SEP.join([b"", b"", b"", b"", b"", b"1", b"3"]),
    ],
    "cookie_session": [
        b"\x04" + payload(V2).encode(),
        b"\x05" + payload(V2).encode(),
        b"\x0c" + payload(V2).encode(),
        b"\x06" + payload("{}", idle="null").encode(),
        b"\x07" + payload(V1).encode(),
        b"\x04" + payload("{}", absolute=1600000000).encode(),
        b"\x00id=" + seal(KEY, "id", payload(V2)).encode(),
        b"\x01a=b; id=" + seal(KEY, "id", payload(V2)).encode() + b"; c=d",
        b"\x00id=" + seal(OLD_KEY, "id", payload(V1)).encode(),
        b"\x03id=" + seal(KEY, "id", payload(V2)).encode() + b"\nid=garbage",
        b"\x00id=not-a-cookie",
    ],
    "session_layer": [
        b"\x00id=@@",
        b"\x04id=@@",
        b"\x00a=1; id=@@; id=zz",
        b"\x11@@",
        b"\x15 @@ ",
        b"\x01id=@@",
        b"\x02id=@@",
        b"\x06id=@@",
        b"\x03id=@@",
        b"\x0bid=@@",
        b"\x0fid=@@",
        b"\x22mRl2S5MgMYa6XwOVhPv3vw",
        b"\x23mRl2S5MgMYa6XwOVhPv3vw",
    ],
}

for target, seeds in SEEDS.items():
    folder = Path("corpus") / target
    folder.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds):
        (folder / f"seed-{index:02}").write_bytes(seed)
