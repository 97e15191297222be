"""Small, valid, deterministic PNG files built with zlib (no imaging library needed)."""

from __future__ import annotations

import hashlib
import struct
import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB_8BIT = (8, 2)  # bit depth, colour type


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def make_png(width: int, height: int, seed: str) -> bytes:
    """An RGB gradient whose colours derive from ``seed``: same seed and size, same bytes."""
    if width < 1 or height < 1:
        raise ValueError("PNG dimensions must be positive")
    r0, g0, b0, step = hashlib.sha256(seed.encode()).digest()[:4]
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            rows += bytes(((r0 + x * (step | 1)) & 0xFF, (g0 + y * 3) & 0xFF, (b0 + x + y) & 0xFF))
    header = struct.pack(">IIBBBBB", width, height, *_RGB_8BIT, 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _chunk(b"IEND", b"")
    )
