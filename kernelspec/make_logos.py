#!/usr/bin/env python3
"""Generate the PySheets kernelspec logos (logo-32x32.png, logo-64x64.png).

Uses only the Python standard library: the picture is rasterised by hand and
written as an RGBA PNG with zlib + struct, so regenerating the logos needs no
third-party package:

    python3 kernelspec/make_logos.py            # writes next to this script
    python3 kernelspec/make_logos.py --out DIR  # writes into DIR

The design is a small spreadsheet: a white sheet with rounded corners, a green
header row, a 3x3 grid of cells and one selected cell (light green fill with a
green outline).  Geometry is described on a 32x32 design grid so that grid
lines fall on whole pixels at both 32 and 64 px; edges that are not axis
aligned (the rounded corners) are anti-aliased by supersampling.
"""

import argparse
import os
import struct
import zlib

# --- palette (R, G, B, A) ----------------------------------------------------
TRANSPARENT = (0, 0, 0, 0)
BORDER = (27, 110, 58, 255)      # dark green outline of the sheet
HEADER = (46, 158, 91, 255)      # green header row
HEADER_SEP = (120, 200, 150, 255)  # column separators inside the header
CELL = (255, 255, 255, 255)      # cell background
GRID = (176, 188, 196, 255)      # grid lines between cells
SELECTED_FILL = (214, 241, 224, 255)
SELECTED_EDGE = (30, 130, 70, 255)

# --- geometry on the 32x32 design grid (units; x right, y down) ---------------
SHEET = (2.0, 2.0, 30.0, 30.0)   # x0, y0, x1, y1 of the whole sheet
RADIUS = 3.5                     # rounded corner radius
BORDER_W = 1.0                   # sheet outline width
HEADER_Y1 = 9.0                  # header row spans SHEET y0 .. HEADER_Y1
COL_LINES = (11.0, 20.0)         # left edges of the 1-unit vertical grid lines
ROW_LINES = (16.0, 23.0)         # top edges of the 1-unit horizontal grid lines
SELECTED = (11.0, 16.0, 21.0, 24.0)  # cell B2, outline drawn over its grid lines
SELECTED_W = 1.0


def _inside_rounded_rect(x, y, rect, r):
    x0, y0, x1, y1 = rect
    if x < x0 or x >= x1 or y < y0 or y >= y1:
        return False
    # Distance to the nearest corner centre, only relevant in the corner boxes.
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    dx, dy = x - cx, y - cy
    return dx * dx + dy * dy <= r * r


def _in_box(x, y, box):
    x0, y0, x1, y1 = box
    return x0 <= x < x1 and y0 <= y < y1


def colour_at(x, y):
    """Colour of the design at point (x, y) in 32-unit design coordinates."""
    if not _inside_rounded_rect(x, y, SHEET, RADIUS):
        return TRANSPARENT
    x0, y0, x1, y1 = SHEET
    inner = (x0 + BORDER_W, y0 + BORDER_W, x1 - BORDER_W, y1 - BORDER_W)
    if not _inside_rounded_rect(x, y, inner, RADIUS - BORDER_W):
        return BORDER
    if y < HEADER_Y1:
        for cx in COL_LINES:
            if cx <= x < cx + 1.0 and y >= y0 + 2.5:
                return HEADER_SEP
        return HEADER
    if y < HEADER_Y1 + 1.0:
        return BORDER  # line under the header
    sx0, sy0, sx1, sy1 = SELECTED
    if _in_box(x, y, SELECTED):
        w = SELECTED_W
        if x < sx0 + w or x >= sx1 - w or y < sy0 + w or y >= sy1 - w:
            return SELECTED_EDGE
        return SELECTED_FILL
    for cx in COL_LINES:
        if cx <= x < cx + 1.0:
            return GRID
    for ry in ROW_LINES:
        if ry <= y < ry + 1.0:
            return GRID
    return CELL


def render(size, samples=4):
    """Rasterise the design at size x size pixels; returns rows of RGBA bytes."""
    scale = 32.0 / size
    rows = []
    n = samples * samples
    for py in range(size):
        row = bytearray()
        for px in range(size):
            r = g = b = a = 0
            for sy in range(samples):
                for sx in range(samples):
                    x = (px + (sx + 0.5) / samples) * scale
                    y = (py + (sy + 0.5) / samples) * scale
                    cr, cg, cb, ca = colour_at(x, y)
                    # accumulate premultiplied colour so edges blend cleanly
                    r += cr * ca
                    g += cg * ca
                    b += cb * ca
                    a += ca
            if a == 0:
                row += bytes((0, 0, 0, 0))
            else:
                row += bytes((
                    round(r / a), round(g / a), round(b / a), round(a / n),
                ))
        rows.append(bytes(row))
    return rows


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(
        ">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_bytes(rows):
    height = len(rows)
    width = len(rows[0]) // 4
    # 8-bit depth, colour type 6 (RGBA), deflate, adaptive filter, no interlace
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per row
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                        help="directory to write the logos into")
    parser.add_argument("--sizes", default="32,64",
                        help="comma-separated pixel sizes (default 32,64)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        path = os.path.join(args.out, "logo-%dx%d.png" % (size, size))
        with open(path, "wb") as fh:
            fh.write(png_bytes(render(size)))
        print("wrote", path)


if __name__ == "__main__":
    main()
