"""Applying a registration's transforms (issue 16): gswarp against SimpleITK's ``Resample``.

    pip install '.[transforms]' SimpleITK      # SimpleITK: benchmark peer and test oracle only
    pip install antspyx                        # optional third column (ANTs in process)
    python benchmarks/bench_transforms.py [--size 256] [--runs 3] [--threads 2]

A float32 SIZE^3 volume (1 mm voxels, a smooth pattern), an ITK affine ``.mat`` and an ITK
displacement field at half the resolution (a smooth ~3 mm deformation), trilinear, onto the
volume's own grid (the reference):

1. In one process, the same threads: ``gswarp.run.warp.warp_volume_file``-equivalent library
   call (``resolve`` + ``warp_pixels`` on the volume in memory) against ``sitk.Resample`` with
   the same composite transform (``sitk.ProcessObject.SetGlobalDefaultNumberOfThreads``).
   Target: gswarp <= 0.5x SimpleITK's time. Reading the files is outside the timing for both;
   each timing is the median of 5 calls, the two interleaved, and the result compared inside
   the field of view.
2. Fresh processes, files to file: ``gswarp apply -r ref -t warp -t affine moving -o out.nii``
   against a Python script doing ``sitk.ReadImage``/``ReadTransform``/``Resample``/``WriteImage``
   (both start-up and I/O included).

Runs interleave; each line prints the medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SITK_SCRIPT = """
import sys, SimpleITK as sitk
sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(sys.argv[5]))
moving = sitk.ReadImage(sys.argv[1], sitk.sitkFloat32)
composite = sitk.CompositeTransform(3)
composite.AddTransform(sitk.ReadTransform(sys.argv[3]))
field = sitk.ReadImage(sys.argv[2], sitk.sitkVectorFloat64)
composite.AddTransform(sitk.DisplacementFieldTransform(field))
result = sitk.Resample(moving, moving, composite, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
sitk.WriteImage(result, sys.argv[4])
"""


def make_inputs(work: Path, n: int):
    """The volume, the affine and the half-resolution field (written once under ``work``)."""
    import nibabel
    import SimpleITK as sitk  # noqa: N813

    volume, affine_path, field_path = (
        work / f"moving{n}.nii",
        work / "affine.mat",
        work / "warp.nii.gz",
    )
    if not volume.exists():
        z, y, x = np.meshgrid(*[np.linspace(0, 6 * np.pi, n)] * 3, indexing="ij")
        values = (np.sin(x) * np.cos(y) + np.sin(z + x / 3)).astype(np.float32) * 1000
        header_affine = np.diag([-1.0, -1.0, 1.0, 1.0])  # LPS-like voxels, as scanners write
        header_affine[:3, 3] = [n / 2, n / 2, -n / 2]
        nibabel.save(nibabel.Nifti1Image(values.transpose(2, 1, 0), header_affine), volume)
    transform = sitk.AffineTransform(3)
    angle = np.deg2rad(4.0)
    transform.SetMatrix(
        [np.cos(angle), -np.sin(angle), 0, np.sin(angle), np.cos(angle), 0, 0, 0, 1.03]
    )
    transform.SetTranslation((2.0, -1.5, 1.0))
    sitk.WriteTransform(transform, str(affine_path))
    image = sitk.ReadImage(str(volume))
    size = [s // 2 + 1 for s in image.GetSize()]
    zz, yy, xx = np.meshgrid(*[np.linspace(0, 2 * np.pi, m) for m in size[::-1]], indexing="ij")
    vectors = np.stack([3 * np.sin(xx) * np.cos(yy), -2 * np.sin(yy + zz), 2 * np.cos(xx)], -1)
    field = sitk.GetImageFromArray(vectors, isVector=True)
    field.SetOrigin(image.GetOrigin())
    field.SetSpacing([2 * s for s in image.GetSpacing()])
    field.SetDirection(image.GetDirection())
    sitk.WriteImage(field, str(field_path))
    return volume, affine_path, field_path


def in_process(volume: Path, affine_path: Path, field_path: Path, runs: int, threads: int):
    import SimpleITK as sitk  # noqa: N813

    import gswarp as _gswarp_threads
    from gswarp.cli.ants import spec_text
    from gswarp.io.volumes import read_volume
    from gswarp.plan import resolve
    from gswarp.run.warp import warp_pixels
    from gswarp.spec import parse_spec

    _gswarp_threads.set_num_threads(threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    spec = parse_spec(spec_text([str(field_path), str(affine_path)], str(volume), "Linear"))
    read = read_volume(volume)
    plan = resolve(spec, read.voxels.shape[:3], read.meta.affine)
    moving = sitk.ReadImage(str(volume), sitk.sitkFloat32)
    composite = sitk.CompositeTransform(3)
    composite.AddTransform(sitk.ReadTransform(str(affine_path)))
    composite.AddTransform(
        sitk.DisplacementFieldTransform(sitk.ReadImage(str(field_path), sitk.sitkVectorFloat64))
    )

    def ours():
        return warp_pixels(read.voxels, plan)

    def theirs():
        return sitk.Resample(moving, moving, composite, sitk.sitkLinear, 0.0, sitk.sitkFloat32)

    functions = [(ours, []), (theirs, [])]
    try:  # antspyx, where it installs: ANTs' own applier, in process
        import ants

        fixed = ants.image_read(str(volume))
        transforms = [str(field_path), str(affine_path)]  # antsApplyTransforms' -t order
        functions.append((lambda: ants.apply_transforms(fixed, fixed, transforms, "linear"), []))
    except ImportError:
        pass
    ours()  # compile
    for _ in range(runs):
        for function, times in functions:
            start = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - start)
    ants_time = statistics.median(functions[2][1]) if len(functions) > 2 else None
    ours_times, theirs_times = functions[0][1], functions[1][1]
    got = ours()
    expected = sitk.GetArrayFromImage(theirs())
    margin = max(4, len(got) // 8)  # beyond the 4 degree turn's and the field's reach
    core = (slice(margin, -margin),) * 3  # inside the field of view (see tests/...transform...)
    difference = float(np.abs(got[core] - expected[core]).max() / np.ptp(read.voxels))
    del result
    if ants_time is not None:
        got_ants = functions[2][0]().numpy().transpose(2, 1, 0)
        ants_difference = float(np.abs(got[core] - got_ants[core]).max() / np.ptp(read.voxels))
        print(
            f"   antspyx apply_transforms (same files, same threads): {ants_time:.3f} s; gswarp "
            f"/ ANTs = {statistics.median(ours_times) / ants_time:.2f}x; max difference in the "
            f"core {ants_difference:.1e} of the range",
            flush=True,
        )
    return statistics.median(ours_times), statistics.median(theirs_times), difference


def fresh_processes(volume, affine_path, field_path, work: Path, runs: int, threads: int):
    env_threads = {
        "NUMBA_NUM_THREADS": str(threads),
        "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": str(threads),
    }
    import os

    env = {**os.environ, **env_threads}
    ours_cmd = [
        "gswarp",
        "apply",
        "-r",
        str(volume),
        "-t",
        str(field_path),
        "-t",
        str(affine_path),
        str(volume),
        "-o",
        str(work / "gswarp_out.nii"),
        "--overwrite",
        "-q",
    ]
    theirs_cmd = [
        sys.executable,
        "-c",
        SITK_SCRIPT,
        str(volume),
        str(field_path),
        str(affine_path),
        str(work / "sitk_out.nii"),
        str(threads),
    ]
    ours_times, theirs_times = [], []
    for _ in range(runs):
        for command, times in ((ours_cmd, ours_times), (theirs_cmd, theirs_times)):
            start = time.perf_counter()
            subprocess.run(command, check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - start)
    return statistics.median(ours_times), statistics.median(theirs_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gswarp-bench-xfm"))
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    volume, affine_path, field_path = make_inputs(work, args.size)
    ours, theirs, difference = in_process(volume, affine_path, field_path, args.runs, args.threads)
    print(
        f"1. {args.size}^3 float32, affine .mat + 1/2-resolution field, trilinear, {args.threads} "
        f"threads, in process: gswarp {ours:.3f} s, SimpleITK Resample {theirs:.3f} s: "
        f"{ours / theirs:.2f}x (target <= 0.5); max difference in the core {difference:.1e} of "
        "the range",
        flush=True,
    )
    ours, theirs = fresh_processes(
        volume, affine_path, field_path, work, max(3, args.runs // 2), args.threads
    )
    print(
        f"2. fresh processes, files to .nii: gswarp apply -r -t -t {ours:.2f} s, SimpleITK script "
        f"{theirs:.2f} s: {ours / theirs:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
