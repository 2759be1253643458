"""Regenerate the data files of the flow and volume examples: small, procedural, ours.

    python tools/make_sample_data.py

configs/data/swirl.npy: a coarse (32, 32, 2) float32 displacement field in pixels of a 256² image
(a swirl about the centre, up to 12 px); gswarp interpolates it onto each image's grid.
sample_volumes/phantom.nii.gz: a 48³ int16 volume (nested ellipsoids and a gradient), voxels
1 x 1 x 1.5 mm; sample_volumes/labels.nii.gz: its 4 labels (int16: 0 background, 1..3).
sample_volumes/phantom.ome.zarr: the same phantom as an OME-Zarr image (NGFF 0.5, Zarr format 3,
16^3 chunks, zstd), its world geometry in the scale and translation metadata, with a second level
made by gswarp's own 2x block mean (the zarr extra: pip install '.[zarr]').
configs/data/phantom_rigid.tfm: an ITK text transform file, as a registration tool writes one
(a 10 degree turn about the LPS z axis through the phantom's centre and a 2 mm shift; it maps
fixed LPS points to moving ones), for the README's "Transforms from registration tools".
"""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def swirl() -> np.ndarray:
    y, x = (np.mgrid[0:32, 0:32] + 0.5) / 32 - 0.5  # field cell centres, -0.5 .. 0.5
    radius = np.hypot(x, y)
    strength = 12 * np.exp(-((radius / 0.3) ** 2))  # pixels, strongest in the middle
    return (
        np.stack([-y, x], axis=-1).astype(np.float32)
        / np.maximum(radius, 1e-6)[..., None]
        * strength[..., None]
        * np.minimum(radius / 0.05, 1)[..., None]
    )


def phantom() -> tuple[np.ndarray, np.ndarray]:
    z, y, x = (np.mgrid[0:48, 0:48, 0:48] - 23.5) / 24
    outer = (x / 0.9) ** 2 + (y / 0.75) ** 2 + (z / 0.8) ** 2 < 1
    inner = ((x - 0.2) / 0.35) ** 2 + (y / 0.3) ** 2 + ((z + 0.1) / 0.4) ** 2 < 1
    spot = (x + 0.4) ** 2 + (y - 0.3) ** 2 + z**2 < 0.15**2
    labels = np.where(spot, 3, np.where(inner, 2, np.where(outer, 1, 0))).astype(np.int16)
    intensity = (labels * 300 + 200 * (x + 1)) * outer
    return intensity.astype(np.int16), labels


def save_nifti(path: Path, zyx: np.ndarray) -> None:
    affine = np.diag([1.0, 1.0, 1.5, 1.0])
    affine[:3, 3] = [-23.5, -23.5, -35.25]  # centred on the world origin (mm)
    image = nibabel.Nifti1Image(np.swapaxes(zyx, 0, 2).copy(), affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nibabel.save(image, str(path))


def save_ome_zarr(path: Path, zyx: np.ndarray) -> None:
    """The phantom as an OME-Zarr image, its metadata written by ome-zarr-py."""
    import shutil

    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_multiscales_metadata
    from zarr.codecs import ZstdCodec

    from gswarp.io.zarrs import block_reduce

    shutil.rmtree(path, ignore_errors=True)
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    scale, translation = [1.5, 1.0, 1.0], [-35.25, -23.5, -23.5]  # z, y, x: the NIfTI's
    levels = [zyx, block_reduce(zyx, (2, 2, 2), "mean")]
    datasets = []
    for index, level in enumerate(levels):
        array = group.create_array(
            str(index),
            shape=level.shape,
            chunks=(16, 16, 16),
            dtype=level.dtype,
            compressors=ZstdCodec(level=3),
        )
        array[...] = level
        factor = 2.0**index
        datasets.append(
            {
                "path": str(index),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [v * factor for v in scale]},
                    {
                        "type": "translation",
                        "translation": [
                            t + (factor - 1) / 2 * v
                            for t, v in zip(translation, scale, strict=True)
                        ],
                    },
                ],
            }
        )
    axes = [{"name": a, "type": "space", "unit": "millimeter"} for a in "zyx"]
    write_multiscales_metadata(group, datasets, fmt=FormatV05(), axes=axes, name="phantom")


def save_itk_transform(path: Path, centre_ras: np.ndarray) -> None:
    """An ITK ``AffineTransform_double_3_3`` text file (LPS millimetres, as ITK writes it)."""
    angle = np.deg2rad(10.0)
    c, s = np.cos(angle), np.sin(angle)
    matrix = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    centre_lps = centre_ras * np.array([-1.0, -1.0, 1.0])
    parameters = [*matrix.ravel(), 2.0, -1.0, 0.5]
    path.write_text(
        "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n"
        f"Parameters: {' '.join(repr(float(v)) for v in parameters)}\n"
        f"FixedParameters: {' '.join(repr(float(v)) for v in centre_lps)}\n"
    )


def main() -> None:
    np.save(ROOT / "configs" / "data" / "swirl.npy", swirl())
    intensity, labels = phantom()
    save_nifti(ROOT / "sample_volumes" / "phantom.nii.gz", intensity)
    save_nifti(ROOT / "sample_volumes" / "labels.nii.gz", labels)
    save_ome_zarr(ROOT / "sample_volumes" / "phantom.ome.zarr", intensity)
    image = nibabel.load(ROOT / "sample_volumes" / "phantom.nii.gz")
    middle = (np.array(image.shape, dtype=np.float64) - 1) / 2
    centre = image.affine[:3, :3] @ middle + image.affine[:3, 3]
    save_itk_transform(ROOT / "configs" / "data" / "phantom_rigid.tfm", centre)
    for path in (
        "configs/data/swirl.npy",
        "sample_volumes/phantom.nii.gz",
        "sample_volumes/labels.nii.gz",
    ):
        print(path, (ROOT / path).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
