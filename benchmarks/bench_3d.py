"""3-D affine resampling against SimpleITK (issue 13, target 1): float32 256^3, the same threads.

    pip install SimpleITK
    python benchmarks/bench_3d.py [--threads 2] [--repeat 7] [--runs 3] [--side 256]

Two transforms, each about the volume's centre: a 15-degree rotation about z (every output row
stays in one input slice), and an oblique rotation (10, 20, 30) degrees with a scale of 0.9 (rows
cross slices: no row-to-row locality). Trilinear and nearest each. gswarp runs
``warp_affine`` with the sampling matrix (output voxel -> input voxel); SimpleITK ``Resample``
gets that same matrix as an ``AffineTransform`` on an image with unit spacing, so both sample the
same points (the outputs are compared on the central half: trilinear within float32 rounding,
nearest the same voxel except at rounding ties). Calls are interleaved; each run prints the
medians and the ratio gswarp / SimpleITK (target <= 0.5).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import gswarp
from gswarp.transforms import affine_3d, sampling_matrix

CASES = {
    "rotate 15 about z": {"rotate": (0.0, 0.0, 15.0), "scale": 1.0},
    "oblique (10, 20, 30), scale 0.9": {"rotate": (10.0, 20.0, 30.0), "scale": 0.9},
}


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def check_agreement(ours: np.ndarray, peer: np.ndarray, mode: str) -> str:
    """How far the two outputs are apart on the central half of the volume (near the edges the
    libraries differ by design: torch's zeros padding blends in zeros half a voxel out, ITK's
    linear interpolator does not)."""
    inner = tuple(slice(n // 4, 3 * n // 4) for n in ours.shape)
    difference = np.abs(ours[inner].astype(np.float64) - peer[inner])
    if mode == "bilinear":
        return f"max |difference| {difference.max():.1e}"
    return f"voxels that differ {np.count_nonzero(difference) / difference.size:.1e}"


def run_case(sitk, volume, image, matrix, mode: str, repeat: int) -> tuple[float, float, str]:
    x = volume[None, None]
    out = np.empty_like(x)
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(matrix[:3, :3].ravel().tolist())
    transform.SetTranslation(matrix[:3, 3].tolist())
    interpolator = sitk.sitkLinear if mode == "bilinear" else sitk.sitkNearestNeighbor

    def ours():
        gswarp.warp_affine(x, matrix[:3], mode=mode, out=out)

    def peer():
        return sitk.Resample(image, image, transform, interpolator, 0.0, sitk.sitkFloat32)

    ours()
    resampled = peer()  # held: the array view below reads its buffer
    agreement = check_agreement(out[0, 0], sitk.GetArrayViewFromImage(resampled), mode)
    del resampled
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for _ in range(repeat):
        times["ours"].append(timed(ours))
        times["peer"].append(timed(peer))
    return statistics.median(times["ours"]), statistics.median(times["peer"]), agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--side", type=int, default=256)
    options = parser.parse_args()
    import SimpleITK as sitk  # noqa: N813 - its usual name

    import gswarp as _gswarp_threads

    _gswarp_threads.set_num_threads(options.threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(options.threads)
    side = options.side
    volume = np.random.default_rng(2).random((side, side, side), dtype=np.float32)
    image = sitk.GetImageFromArray(volume)
    centre = ((side - 1) / 2,) * 3
    for name, parameters in CASES.items():
        matrix = sampling_matrix(affine_3d(center=centre, **parameters))
        for mode in ("bilinear", "nearest"):
            for number in range(options.runs):
                ours, peer, agreement = run_case(sitk, volume, image, matrix, mode, options.repeat)
                print(
                    f"{name:32} {mode:8} run {number + 1}: gswarp {1000 * ours:6.1f} ms, "
                    f"SimpleITK {1000 * peer:6.1f} ms, ratio {ours / peer:.2f} "
                    f"(target <= 0.5; {agreement})"
                )


if __name__ == "__main__":
    main()
