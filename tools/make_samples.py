"""Regenerate ``sample_images/``: small procedural test charts we make ourselves.

    python tools/make_samples.py

checkerboard.png (RGB), gradient.png (grayscale), text.png (RGB with text), rgba_circle.png
(RGBA with a soft alpha edge), ramp16.png (16-bit grayscale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "sample_images"
SIZE = 256


def checkerboard() -> Image.Image:
    y, x = np.mgrid[:SIZE, :SIZE]
    cells = ((x // 32) + (y // 32)) % 2
    rgb = np.stack([cells * 230 + 10, cells * 40 + 90, 200 - cells * 150], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def gradient() -> Image.Image:
    y, x = np.mgrid[:SIZE, :SIZE]
    return Image.fromarray(((x + y) * 255 // (2 * SIZE - 2)).astype(np.uint8), "L")


def text() -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    for row, line in enumerate(["gswarp", "grid_sample", "align: False", "0123456789"]):
        draw.text((12, 20 + 56 * row), line, fill=(20, 30, 120), font=font)
    draw.rectangle([4, 4, SIZE - 5, SIZE - 5], outline=(200, 20, 20), width=3)
    return image


def rgba_circle() -> Image.Image:
    y, x = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    radius = np.hypot(x, y)
    alpha = np.clip((100 - radius) / 8, 0, 1) * 255
    rgba = np.stack([128 + x / 2, 128 + y / 2, np.full_like(x, 180), alpha], axis=-1)
    return Image.fromarray(np.clip(rgba, 0, 255).astype(np.uint8), "RGBA")


def ramp16() -> Image.Image:
    y, x = np.mgrid[:SIZE, :SIZE]
    values = (x * 65535 // (SIZE - 1)).astype(np.uint16) ^ ((y % 16 == 0) * 0x0F0F).astype(
        np.uint16
    )
    return Image.fromarray(values)  # uint16 -> mode "I;16"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, make in [
        ("checkerboard", checkerboard),
        ("gradient", gradient),
        ("text", text),
        ("rgba_circle", rgba_circle),
        ("ramp16", ramp16),
    ]:
        path = OUT / f"{name}.png"
        make().save(path, optimize=True)
        print(path.relative_to(OUT.parent))


if __name__ == "__main__":
    main()
