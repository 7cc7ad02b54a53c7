#!/usr/bin/env python3
"""Checks that a PNG screenshot is not blank, without PIL (python3-pil is not installed here).

Usage: png_check.py OUT.png [RRGGBB ...]

Decodes the PNG with zlib (8-bit greyscale, RGB, grey+alpha or RGBA, not interlaced: what
Chromium writes), then fails unless the image has at least MIN_COLOURS distinct colours and at
least MIN_INK of its pixels differ from the most common colour (the background). Each RRGGBB
given must also appear exactly in some pixel: the report's chart uses solid fills, so their
colours prove the inline SVG was drawn. Prints one line with the figures; exit 0 = not blank.
"""
import struct
import sys
import zlib
from collections import Counter

MIN_COLOURS = 8
MIN_INK = 0.005


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path, wanted = sys.argv[1], [w.lower().lstrip("#") for w in sys.argv[2:]]
    width, height, channels, rows = decode(path)
    counts = Counter()
    for row in rows:
        for x in range(0, len(row), channels):
            px = row[x:x + channels]
            rgb = bytes(px[:1] * 3) if channels <= 2 else bytes(px[:3])
            counts[rgb] += 1
    total = width * height
    background, bg_count = counts.most_common(1)[0]
    ink = 1 - bg_count / total
    missing = [w for w in wanted if bytes.fromhex(w) not in counts]
    ok = len(counts) >= MIN_COLOURS and ink >= MIN_INK and not missing
    print(f"{path}: {width}x{height}, {len(counts)} colours, {100 * ink:.1f} % not background "
          f"#{background.hex()}" + (f", missing colours {' '.join(missing)}" if missing else "")
          + (": not blank" if ok else ": BLANK or incomplete"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
