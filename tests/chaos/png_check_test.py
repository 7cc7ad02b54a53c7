#!/usr/bin/env python3
"""Tests of png_check.py on PNGs written here: a blank one fails, a drawn one passes, and the
row filters Chromium uses (none, sub, up, average, Paeth) decode to the pixels written.

Usage: python3 tests/chaos/png_check_test.py
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import png_check  # noqa: E402


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def write_png(path, rows, channels=3):
    """rows: list of bytes (width*channels each); row y uses filter y % 5."""
    width = len(rows[0]) // channels
    raw, prev = b"", bytes(len(rows[0]))
    for y, row in enumerate(rows):
        kind = y % 5
        out = bytearray()
        for x in range(len(row)):
            a = row[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            out.append((row[x] - pred) & 255)
        raw += bytes([kind]) + bytes(out)
        prev = row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    colour = {3: 2, 4: 6}[channels]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, colour, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def run(path, *colours):
    return subprocess.run([sys.executable, os.path.join(HERE, "png_check.py"), path, *colours],
                          capture_output=True, text=True)


def main():
    failed = passed = 0

    def check(name, cond, detail=""):
        nonlocal failed, passed
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name} {detail}")

    with tempfile.TemporaryDirectory() as tmp:
        blank = os.path.join(tmp, "blank.png")
        write_png(blank, [bytes([255, 255, 255] * 40)] * 30)
        r = run(blank)
        check("blank fails", r.returncode == 1 and "BLANK" in r.stdout, r.stdout)

        drawn = os.path.join(tmp, "drawn.png")
        rows = [bytes(v for x in range(40) for v in ((x * 7 + y * 3) % 256, (x * y) % 256, 0x8f if x > 20 else 0xff))
                for y in range(30)]
        rows[5] = bytes([0x7c, 0xc4, 0x8f] * 40)
        write_png(drawn, rows)
        _, _, channels, decoded = png_check.decode(drawn)
        check("filters decode", decoded == rows and channels == 3)
        r = run(drawn, "7cc48f")
        check("drawn passes", r.returncode == 0 and "not blank" in r.stdout, r.stdout)
        r = run(drawn, "e0766c")
        check("missing colour fails", r.returncode == 1 and "missing colours e0766c" in r.stdout, r.stdout)

        rgba = os.path.join(tmp, "rgba.png")
        rows4 = [bytes(v for x in range(20) for v in (x * 12, y * 8, 3, 255)) for y in range(10)]
        write_png(rgba, rows4, channels=4)
        check("rgba decodes", png_check.decode(rgba)[3] == rows4)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
