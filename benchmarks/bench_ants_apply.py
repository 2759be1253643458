"""Issue 30's speed target: a fresh ``gswarp apply -r REF -t warp.nii.gz -t affine.tfm`` on a
256^3 ``.nii.gz`` (a float32 ITK displacement field, as ANTs writes it, and an Euler ``.tfm``)
against a SimpleITK script doing the same (read, composite transform,
``sitk.Resample`` linear, write ``.nii.gz``), each in its own process, interleaved.

    python benchmarks/bench_ants_apply.py [--size 256] [--rounds 3]

Prints each round's times, the medians and the ratio gswarp / SimpleITK (target <= 0.5), the
two output files' sizes (gswarp's ``.nii.gz`` deflate level is its default: ISA-L's level 2
where ``isal`` is installed; ``--compress-level N`` passes zlib's level N), and the largest
difference of the two outputs inside the field of view (as a fraction of the range).
SimpleITK is a benchmark peer, not a gswarp dependency.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SITK_SCRIPT = """
import sys, SimpleITK as sitk
image = sitk.ReadImage(sys.argv[1], sitk.sitkFloat32)
field = sitk.DisplacementFieldTransform(sitk.ReadImage(sys.argv[2], sitk.sitkVectorFloat64))
affine = sitk.ReadTransform(sys.argv[3])
# -t warp -t affine: the warp acts first on a point, then the affine (ITK: A(B(p)) for [A, B])
composite = sitk.CompositeTransform([affine, field])
out = sitk.Resample(image, image, composite, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
sitk.WriteImage(out, sys.argv[4])
"""


def make_inputs(folder: Path, size: int) -> None:
    import nibabel
    import SimpleITK as sitk  # noqa: N813 -- SimpleITK's own name for it

    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(*(np.linspace(0, 6, size),) * 3, indexing="ij")
    voxels = (np.sin(x) * np.cos(y) + np.sin(z) + 0.1 * rng.random((size,) * 3)).astype(np.float32)
    affine = np.diag([1.0, 1.0, 1.2, 1.0])
    affine[:3, 3] = -0.5 * size
    nibabel.save(nibabel.Nifti1Image(voxels.transpose(2, 1, 0), affine), folder / "in.nii.gz")
    rotation = sitk.Euler3DTransform((0.0, 0.0, 0.0), 0.04, -0.03, 0.06, (2.0, -1.0, 1.5))
    sitk.WriteTransform(rotation, str(folder / "affine.tfm"))
    coarse = rng.normal(0, 1.5, (size // 16,) * 3 + (3,))
    field = np.repeat(np.repeat(np.repeat(coarse, 16, 0), 16, 1), 16, 2)  # (X, Y, Z, 3) LPS mm
    # float32, as antsRegistration writes its warps
    image = nibabel.Nifti1Image(field[:, :, :, None, :].astype(np.float32), affine)
    image.header.set_intent("vector")
    nibabel.save(image, folder / "warp.nii.gz")


def run(command: list[str], cwd: Path) -> float:
    """One fresh process's wall time; the files the previous run wrote are flushed to disk
    first (os.sync), so that neither tool's time holds the other's write-back."""
    os.sync()
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--compress-level", type=int, help="gswarp's --compress-level (default: its default)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        make_inputs(folder, options.size)
        (folder / "sitk_apply.py").write_text(SITK_SCRIPT)
        gswarp = [sys.executable, "-m", "gswarp", "apply", "-r", "in.nii.gz"]
        gswarp += ["-t", "warp.nii.gz", "-t", "affine.tfm", "in.nii.gz", "-o", "g.nii.gz"]
        gswarp += ["--overwrite", "--float"]
        if options.compress_level is not None:
            gswarp += ["--compress-level", str(options.compress_level)]
        peer = [sys.executable, "sitk_apply.py", "in.nii.gz", "warp.nii.gz", "affine.tfm"]
        peer += ["s.nii.gz"]
        times: dict[str, list[float]] = {"gswarp": [], "SimpleITK": []}
        for round_ in range(options.rounds):
            times["gswarp"].append(run(gswarp, folder))
            times["SimpleITK"].append(run(peer, folder))
            print(
                f"round {round_ + 1}: gswarp {times['gswarp'][-1]:.2f} s, "
                f"SimpleITK {times['SimpleITK'][-1]:.2f} s"
            )
        medians = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"medians: gswarp {medians['gswarp']:.2f} s, SimpleITK {medians['SimpleITK']:.2f} s, "
            f"ratio {medians['gswarp'] / medians['SimpleITK']:.3f} (target <= 0.5)"
        )
        sizes = {name: (folder / name).stat().st_size / 2**20 for name in ("g.nii.gz", "s.nii.gz")}
        print(
            f"output files: gswarp {sizes['g.nii.gz']:.1f} MiB, "
            f"SimpleITK {sizes['s.nii.gz']:.1f} MiB"
        )
        import nibabel

        g = np.asanyarray(nibabel.load(folder / "g.nii.gz").dataobj)
        s = np.asanyarray(nibabel.load(folder / "s.nii.gz").dataobj)
        margin = options.size // 8  # away from the border, where ITK reads nothing past centres
        core = (slice(margin, -margin),) * 3
        value_range = float(np.ptp(s[core]))
        print(f"largest difference in the core: {np.abs(g - s)[core].max() / value_range:.2e}")


if __name__ == "__main__":
    main()
