"""Regenerate ``sample_images/`` and ``sample_masks/``: small procedural test charts we make
ourselves, and a label mask per chart (for ``gswarp apply --pair``).

    python tools/make_samples.py

checkerboard.png (RGB), gradient.png (grayscale), text.png (RGB with text), rgba_circle.png
(RGBA with a soft alpha edge), ramp16.png (16-bit grayscale). Each mask is an 8-bit label image
of the same size with a few labels (0 = background).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "sample_images"
MASKS = OUT.parent / "sample_masks"
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


def mask_of(name: str, image: Image.Image) -> Image.Image:
    """Labels that follow the chart's content: cells, bands, the disc, ink and frame."""
    y, x = np.mgrid[:SIZE, :SIZE]
    if name == "checkerboard":
        labels = 1 + ((x // 32) + (y // 32)) % 2
    elif name in ("gradient", "ramp16"):
        labels = 1 + (x * 4) // SIZE
    elif name == "rgba_circle":
        labels = (np.asarray(image)[..., 3] > 127).astype(np.int64)
    else:  # text: ink 1, frame 2
        pixels = np.asarray(image.convert("RGB")).astype(np.int64)
        labels = np.where(pixels[..., 0] < 120, 1, 0)
        labels[(pixels[..., 0] > 150) & (pixels[..., 1] < 100)] = 2
    return Image.fromarray(labels.astype(np.uint8), "L")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    MASKS.mkdir(exist_ok=True)
    for name, make in [
        ("checkerboard", checkerboard),
        ("gradient", gradient),
        ("text", text),
        ("rgba_circle", rgba_circle),
        ("ramp16", ramp16),
    ]:
        path = OUT / f"{name}.png"
        image = make()
        image.save(path, optimize=True)
        mask = MASKS / f"{name}.png"
        mask_of(name, image).save(mask, optimize=True)
        print(path.relative_to(OUT.parent), mask.relative_to(OUT.parent))


if __name__ == "__main__":
    main()
