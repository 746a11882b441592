"""Compiled estimator kernels against their definitions."""
import numpy as np
import pytest

from kinpose_ros.inference.post_kernels import surface_factor


def test_surface_factor_cases():
    depth = np.full((4, 5), 2.0, np.float32)
    depth[1, 3] = np.nan  # no depth at pixel (u=3, v=1)
    uv = np.array([[[1.0, 1.0], [1.4, 2.49], [2.0, 2.0], [2.0, 2.0], [2.0, 2.0],
                    [3.0, 1.0], [-0.6, 1.0], [4.6, 1.0], [np.nan, 1.0], [1.0, 1.0]]])
    z = np.array([[2.0, 1.9, 1.7, 2.3, 2.5, 2.0, 2.0, 2.0, 2.0, np.nan]])
    f = surface_factor(uv, z, depth, 0.12, 0.4, 0.5, 0.25)
    expected = [1.0,                          # on the surface
                np.exp(-(0.1 / 0.12) ** 2),   # 0.1 m in front (pixel rounds to (1, 2))
                np.exp(-(0.3 / 0.12) ** 2),   # 0.3 m in front
                1.0,                          # 0.3 m behind: the body's own depth
                0.5,                          # 0.5 m behind: occluded
                0.25, 0.25, 0.25, 0.25,       # no depth there, left / right of the image, NaN
                0.0]                          # NaN joint
    np.testing.assert_allclose(f[0], expected, rtol=1e-6)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_surface_factor_matches_the_numpy_definition(dtype):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 4.0, (48, 64)).astype(dtype)
    depth[rng.random(depth.shape) < 0.2] = np.nan
    uv = rng.uniform(-5, 70, (3, 15, 2))
    z = rng.uniform(0.3, 4.5, (3, 15))
    z[0, :3] = np.nan
    tol, behind, occ, unv = 0.12, 0.4, 0.5, 0.3
    H, W = depth.shape
    u, v = np.floor(uv[..., 0] + 0.5), np.floor(uv[..., 1] + 0.5)
    inside = (u >= 0) & (u < W) & (v >= 0) & (v < H)
    surf = np.where(inside, depth.reshape(-1)[np.where(inside, v * W + u, 0).astype(int)], np.nan)
    ahead = surf - z
    with np.errstate(invalid='ignore'):
        ref = np.exp(-np.square(np.maximum(ahead, 0.0) / tol))
        ref = np.where(ahead < -behind, occ, ref)
        ref = np.where(surf > 0, ref, unv)
    ref = np.where(np.isnan(z), 0.0, ref)
    np.testing.assert_allclose(surface_factor(uv, z, depth, tol, behind, occ, unv), ref,
                               rtol=1e-12)
