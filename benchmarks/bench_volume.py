"""Rotating a NIfTI volume through `gswarp apply` against SimpleITK (read, Resample, write).

    python benchmarks/bench_volume.py [--size 256] [--repeats 5] [--threads 2] [--gz]

Writes a float32 SIZE^3 volume as .nii (uncompressed, so file compression does not hide the
resampling; with ``--gz`` as .nii.gz, read and written compressed on both sides), then times,
each as a fresh process: ``gswarp apply`` with ``rotate: [0, 0, 15]`` (trilinear), and a
SimpleITK script that reads the file, resamples it with the same rotation about the centre
(linear) onto the same grid, and writes it. Prints medians and the ratio (target <= 0.6 for
.nii, issue 4; <= 0.9 for .nii.gz, issue 13). gzip level 6 on both sides: gswarp's default
``--compress-level``, and ITK's NIfTI writer's only level (gzopen's default; it ignores
SimpleITK's ``compressionLevel``: the files are byte-identical at 1, 6 and 9). Peak memory:
tracemalloc's peak of ``gswarp.run.warp.warp_volume_file`` in one process over the volume's size
(target <= 2.3; the input is memory-mapped by nibabel for .nii, so its pages are not counted; a
.nii.gz run is shown too, where they are).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

SITK_SCRIPT = """
import sys, SimpleITK as sitk
image = sitk.ReadImage(sys.argv[1])
centre = image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()])
transform = sitk.Euler3DTransform(centre, 0.0, 0.0, float(sys.argv[3]) * 3.141592653589793 / 180)
out = sitk.Resample(image, image, transform, sitk.sitkLinear, 0.0)
sitk.WriteImage(out, sys.argv[2])
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gz", action="store_true", help="read and write .nii.gz")
    args = parser.parse_args()
    suffix = ".nii.gz" if args.gz else ".nii"
    target = 0.9 if args.gz else 0.6
    import nibabel

    gswarp = shutil.which("gswarp")
    if gswarp is None:
        print("gswarp is not installed (pip install .)", file=sys.stderr)
        return 2
    threads = str(args.threads)
    env = dict(
        os.environ,
        NUMBA_NUM_THREADS=threads,
        SITK_NUM_THREADS=threads,
        ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=threads,
    )
    with tempfile.TemporaryDirectory(prefix="gswarp-volume-") as scratch:
        root = Path(scratch)
        n = args.size
        z, y, x = np.mgrid[0:n, 0:n, 0:n].astype(np.float32) / n
        volume = np.sin(7 * x) * np.cos(5 * y) + z
        del z, y, x
        affine = np.diag([0.8, 0.8, 1.2, 1.0])
        nibabel.save(
            nibabel.Nifti1Image(np.swapaxes(volume, 0, 2).copy(), affine), str(root / "in.nii")
        )
        nibabel.save(
            nibabel.Nifti1Image(np.swapaxes(volume, 0, 2).copy(), affine), str(root / "in.nii.gz")
        )
        spec = root / "rotate.yaml"
        spec.write_text("version: 1\ntransform: {affine: {rotate: [0, 0, 15]}}\n")
        script = root / "sitk_resample.py"
        script.write_text(SITK_SCRIPT)
        gswarp_command = [
            gswarp,
            "apply",
            str(spec),
            str(root / f"in{suffix}"),
            "-o",
            str(root / f"g{suffix}"),
            "--overwrite",
            "--jobs",
            threads,
        ]
        sitk_command = [
            sys.executable,
            str(script),
            str(root / f"in{suffix}"),
            str(root / f"s{suffix}"),
            "15",
        ]
        subprocess.run(gswarp_command, check=True, env=env, stdout=subprocess.DEVNULL)  # warm
        runs: dict[str, list[float]] = {"gswarp": [], "SimpleITK": []}
        for _ in range(args.repeats):
            runs["gswarp"].append(timed(gswarp_command, env))
            runs["SimpleITK"].append(timed(sitk_command, env))
        ours = nibabel.load(str(root / f"g{suffix}")).get_fdata()
        theirs = nibabel.load(str(root / f"s{suffix}")).get_fdata()
        inner = (slice(n // 4, 3 * n // 4),) * 3
        difference = float(np.abs(ours[inner] - theirs[inner]).max())
        peaks = {}
        import gswarp as _gswarp_threads

        _gswarp_threads.set_num_threads(args.threads)
        from gswarp.run.warp import warp_volume_file
        from gswarp.spec import load_spec

        parsed = load_spec(spec)
        import SimpleITK as sitk  # noqa: N813 - its usual name

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)

        def sitk_in_process() -> None:
            image = sitk.ReadImage(str(root / f"in{suffix}"))
            size = image.GetSize()
            centre = image.TransformContinuousIndexToPhysicalPoint([(k - 1) / 2 for k in size])
            turn = sitk.Euler3DTransform(centre, 0.0, 0.0, np.deg2rad(15.0))
            sitk.WriteImage(
                sitk.Resample(image, image, turn, sitk.sitkLinear, 0.0), str(root / f"s2{suffix}")
            )

        def gswarp_in_process() -> None:
            warp_volume_file(parsed, root / f"in{suffix}", root / f"g2{suffix}", overwrite=True)

        warm = {}
        for name, function in (("gswarp", gswarp_in_process), ("SimpleITK", sitk_in_process)):
            function()
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                function()
                times.append(time.perf_counter() - start)
            warm[name] = times
        for name in ("in.nii", "in.nii.gz"):
            tracemalloc.start()
            warp_volume_file(parsed, root / name, root / f"t-{name}", overwrite=True)
            peaks[name] = tracemalloc.get_traced_memory()[1] / volume.nbytes
            tracemalloc.stop()
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(
        f"rotate a {n}^3 float32 {suffix} 15 degrees about z, {args.threads} threads, "
        f"median of {args.repeats} fresh processes (s):"
    )
    for name, values in runs.items():
        print(f"  {name:10s} {median[name]:6.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
        ratio = median["gswarp"] / median["SimpleITK"]
    print(f"ratio gswarp / SimpleITK ({suffix}): {ratio:.2f} (target <= {target})")
    print(f"max |gswarp - SimpleITK| on the central half: {difference:.2e}")
    warm_median = {k: statistics.median(v) for k, v in warm.items()}
    print(
        f"in one warm process (read, resample, write; kernels loaded), median of "
        f"{args.repeats} (s):"
    )
    for name, values in warm.items():
        print(f"  {name:10s} {warm_median[name]:6.3f}   ({', '.join(f'{v:.3f}' for v in values)})")
    print(f"ratio gswarp / SimpleITK, warm: {warm_median['gswarp'] / warm_median['SimpleITK']:.2f}")
    for name, peak in peaks.items():
        print(
            f"peak traced memory of warp_volume_file({name}) / volume size: {peak:.2f} "
            "(target <= 2.3)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
