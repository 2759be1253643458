"""A ``.nii.gz``'s deflate: gswarp's default (ISA-L's level 2 where ``isal`` is installed,
zlib's 6 again for pieces it shrinks below half, the smaller kept) against zlib's level 6
(zlib-ng where installed; gzip's usual level), on volumes of the kinds users write: a smooth
float32 field with noise (``bench_ants_apply.py``'s input), nibabel's ``example4d`` MRI series
(int16, and as float32), and an int16 label map.

    python benchmarks/bench_gzip.py [--rounds 3]

Prints, per volume, each deflater's compressed size as a fraction of the raw bytes and its
median time over the rounds on one thread (4 MiB members, as gswarp writes them).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import numpy as np

from gswarp.io import gzipped


def volumes() -> dict[str, bytes]:
    """The raw bytes of each volume, by name."""
    import nibabel
    from nibabel.testing import data_path

    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(*(np.linspace(0, 6, 160),) * 3, indexing="ij")
    smooth = (np.sin(x) * np.cos(y) + np.sin(z) + 0.1 * rng.random(x.shape)).astype(np.float32)
    mri = np.asarray(nibabel.load(os.path.join(data_path, "example4d.nii.gz")).dataobj)
    axes = np.arange(192)
    labels = (np.add.outer(np.add.outer(axes // 20, axes // 30), axes // 25) % 7).astype(np.int16)
    return {
        "smooth float32 160^3 + noise": smooth.tobytes(),
        "example4d int16 (MRI)": mri.tobytes(),
        "example4d as float32": mri.astype(np.float32).tobytes(),
        "label map int16 192^3": labels.tobytes(),
    }


def deflate(raw: bytes, level: int | None) -> tuple[int, float]:
    """(compressed size, seconds) of ``raw`` written as gswarp writes a ``.nii.gz``."""
    pieces = [memoryview(raw)[i : i + (4 << 20)] for i in range(0, len(raw), 4 << 20)]
    stream = io.BytesIO()
    start = time.perf_counter()
    gzipped.write_gzip(stream, pieces, level, threads=1)
    return stream.tell(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    fast = "ISA-L 2, zlib 6 where < 1/2" if gzipped._isal is not None else "zlib 6, no isal"
    print(f"| volume | MiB | default ({fast}) | zlib 6 | size ratio | speed-up |")
    print("|---|---|---|---|---|---|")
    for name, raw in volumes().items():
        sizes, times = {}, {None: [], 6: []}
        for _ in range(options.rounds):  # interleaved
            for level in (None, 6):
                sizes[level], seconds = deflate(raw, level)
                times[level].append(seconds)
        medians = {level: statistics.median(t) for level, t in times.items()}
        cells = [
            f"{sizes[level] / len(raw):.3f} of raw, {medians[level] * 1000:.0f} ms"
            for level in (None, 6)
        ]
        print(
            f"| {name} | {len(raw) / 2**20:.1f} | {cells[0]} | {cells[1]} | "
            f"{sizes[None] / sizes[6]:.3f} | {medians[6] / medians[None]:.1f}x |"
        )


if __name__ == "__main__":
    main()
