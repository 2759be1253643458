"""Transform models of ``gswarp register``: parameters -> a physical (k+1)x(k+1) matrix.

Every model maps a *fixed* point ``x`` (physical units: pixels for images, millimetres for NIfTI
volumes) to the *moving* point it samples, about a centre ``c`` (the fixed image's centre):

    T(x) = L (x - c) + c + t

with ``t`` the last k parameters and ``L`` the model's linear part:

===============  =============================  ====================================
model            linear parameters              L
===============  =============================  ====================================
``translation``  none                           identity
``rigid``        1 angle (2-D), 3 (3-D)         R (3-D: Rz Ry Rx, radians)
``similarity``   the angles, then log(scale)    exp(s) R
``affine``       k*k entries                    I + A (A row by row)
===============  =============================  ====================================

(A centred parameterization decouples rotation from translation, which keeps the optimizer's
steps well scaled -- ITK's centered transforms do the same.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gswarp.errors import SpecError

MODELS = ("translation", "rigid", "similarity", "affine")


def rotation(angles: np.ndarray) -> np.ndarray:
    """(k, k) rotation of 1 angle (2-D, counter-clockwise from x towards y) or 3 Euler angles
    (3-D: about x, then y, then z; ``Rz @ Ry @ Rx``), in radians."""
    if len(angles) == 1:
        c, s = np.cos(angles[0]), np.sin(angles[0])
        return np.array([[c, -s], [s, c]])
    (cx, cy, cz), (sx, sy, sz) = np.cos(angles), np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class Model:
    """One of :data:`MODELS` in k = 2 or 3 dimensions."""

    name: str
    spatial: int

    def __post_init__(self) -> None:
        if self.name not in MODELS:
            raise SpecError(f"model: expected one of {', '.join(MODELS)}, got {self.name!r}")

    @property
    def angles(self) -> int:
        return 1 if self.spatial == 2 else 3

    @property
    def linear_count(self) -> int:
        """How many parameters the linear part has."""
        return {
            "translation": 0,
            "rigid": self.angles,
            "similarity": self.angles + 1,
            "affine": self.spatial**2,
        }[self.name]

    @property
    def count(self) -> int:
        return self.linear_count + self.spatial

    def identity(self) -> np.ndarray:
        return np.zeros(self.count)

    def linear(self, p: np.ndarray) -> np.ndarray:
        k = self.spatial
        if self.name == "translation":
            return np.eye(k)
        if self.name == "affine":
            return np.eye(k) + p[: k * k].reshape(k, k)
        part = rotation(p[: self.angles])
        if self.name == "similarity":
            part = np.exp(p[self.angles]) * part
        return part

    def matrix(self, p: np.ndarray, center: np.ndarray) -> np.ndarray:
        """(k+1, k+1): fixed physical point -> moving physical point."""
        k = self.spatial
        linear = self.linear(p)
        out = np.eye(k + 1)
        out[:k, :k] = linear
        out[:k, k] = center - linear @ center + p[self.linear_count :]
        return out

    def jacobian(self, p: np.ndarray, center: np.ndarray) -> np.ndarray:
        """(count, k+1, k+1): d matrix / d p_i, by central differences of step 1e-6 (exact up to
        rounding for the models linear in p; 1e-12 relative for the angles and the scale)."""
        step = 1e-6
        out = np.empty((self.count, self.spatial + 1, self.spatial + 1))
        for i in range(self.count):
            plus, minus = p.copy(), p.copy()
            plus[i] += step
            minus[i] -= step
            out[i] = (self.matrix(plus, center) - self.matrix(minus, center)) / (2 * step)
        return out

    def scales(self, radius: float, spacing: float) -> np.ndarray:
        """Per parameter: how far (in voxels of ``spacing``) a unit change moves a point at
        ``radius`` from the centre -- the optimizer works in these units."""
        linear = np.full(self.linear_count, radius / spacing)
        return np.concatenate([linear, np.full(self.spatial, 1.0 / spacing)])

    def fit_parameters(self, matrix: np.ndarray, center: np.ndarray) -> np.ndarray:
        """The parameters of the nearest matrix this model can express to a (k+1, k+1)
        ``matrix`` (used to start one model from another's result)."""
        k = self.spatial
        linear = matrix[:k, :k]
        p = self.identity()
        if self.name == "affine":
            p[: k * k] = (linear - np.eye(k)).ravel()
        elif self.name in ("rigid", "similarity"):
            u, sigma, vt = np.linalg.svd(linear)
            nearest = u @ vt
            if np.linalg.det(nearest) < 0:
                u[:, -1] *= -1
                nearest = u @ vt
            p[: self.angles] = _angles_of(nearest)
            if self.name == "similarity":
                p[self.angles] = np.log(np.mean(sigma))
        # the translation keeps where the centre goes: T(c) = c + t
        p[self.linear_count :] = matrix[:k, :k] @ center + matrix[:k, k] - center
        return p


def _angles_of(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rotation`."""
    if r.shape == (2, 2):
        return np.array([np.arctan2(r[1, 0], r[0, 0])])
    ry = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    rx = np.arctan2(r[2, 1], r[2, 2])
    rz = np.arctan2(r[1, 0], r[0, 0])
    return np.array([rx, ry, rz])
