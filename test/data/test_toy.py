"""Toy 2-D chains: sampling inside the image, exact drawing, angles from joints, metrics."""
import dataclasses

import numpy as np
import pytest

from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.data.toy import (
    TOY_LEVELS,
    make_toy_samples,
    render_chains,
    sample_toy_params,
    toy_angles_from_joints,
    toy_metrics,
    toy_skeleton,
)


def brute_force_render(joints, bones, size, radius):
    """Reference drawing: distance from every pixel centre to every bone."""
    yy, xx = np.mgrid[0:size, 0:size]
    P = np.stack([xx, yy], -1).reshape(-1, 2).astype(float)
    out = np.zeros((len(joints), size * size))
    for i, j in enumerate(joints):
        for p, c in bones:
            a, d = j[p], j[c] - j[p]
            u = np.clip(((P - a) @ d) / max(d @ d, 1e-12), 0, 1)
            out[i][(((P - a - u[:, None] * d) ** 2).sum(1)) <= radius ** 2] = 1
    return out.reshape(len(joints), 1, size, size)


def test_shapes_dtypes_and_determinism():
    a = make_toy_samples(1, 20, seed=3)
    b = make_toy_samples(1, 20, seed=3)
    c = make_toy_samples(1, 20, seed=4)
    assert a.images.shape == (20, 1, 128, 128) and a.images.dtype == np.float32
    assert a.joints.shape == (20, 3, 2) and a.params.shape == (20, 4) and len(a) == 20
    assert set(np.unique(a.images)) == {0.0, 1.0}
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.allclose(a.params, c.params)
    u8 = make_toy_samples(1, 20, seed=3, dtype=np.uint8)
    np.testing.assert_array_equal(u8.images, a.images)


@pytest.mark.parametrize('level', TOY_LEVELS)
def test_joints_inside_image_on_drawn_pixels_and_match_params(level):
    s = make_toy_samples(level, 200, seed=level)
    assert s.params.shape == (200, s.skeleton.num_params)
    assert s.joints.min() >= 4.0 - 1e-9 and s.joints.max() <= 123.0 + 1e-9
    j = np.rint(s.joints).astype(int)
    assert (s.images[np.arange(200)[:, None], 0, j[..., 1], j[..., 0]] == 1).all()
    fk = forward_kinematics_np(s.skeleton, s.params)[0][:, :, :2]
    np.testing.assert_allclose(s.joints, fk, atol=1e-9)
    # the sampled angles are spread over +-90 deg (rejection keeps most poses)
    assert np.abs(s.params[:, 2:]).max() <= np.pi / 2 and np.ptp(s.params[:, 2]) > 2.8


def test_bone_lengths_per_level():
    assert np.allclose(toy_skeleton(1).rest_bone_lengths(), 45.0)
    for level in (2, 3, 4):
        lengths = toy_skeleton(level).rest_bone_lengths()
        assert len(lengths) == 2 * level + 1 and np.allclose(lengths, 18.0)
    with pytest.raises(ValueError, match='level'):
        toy_skeleton(5)


def test_render_known_segment_and_disc():
    joints = np.array([[[10.0, 20.0], [30.0, 20.0]]])
    img = render_chains(joints, [(0, 1)], size=64, thickness=3.0)
    # rows 19-21 (|dy| <= 1.5), columns 9-31 (the caps reach 1.5 px beyond the ends)
    expected = np.zeros((64, 64))
    expected[19:22, 9:32] = 1
    np.testing.assert_array_equal(img[0, 0], expected)
    disc = render_chains(joints, [(0, 1)], size=64, thickness=3.0,
                         discs=np.array([[50.0, 50.0]]), disc_radius=2.0)
    assert disc[0, 0, 48:53, 48:53].sum() == 13  # lattice points within radius 2
    np.testing.assert_array_equal(disc[0, 0, :40, :40], expected[:40, :40])


@pytest.mark.parametrize('thickness', [1.0, 3.0, 4.0])
def test_render_matches_brute_force(thickness):
    sk = toy_skeleton(4)
    p = sample_toy_params(sk, 6, np.random.default_rng(1), size=96, angle_range=np.pi)
    j = forward_kinematics_np(sk, p)[0][:, :, :2]
    j[0, 1] = j[0, 0]  # a zero-length bone
    j[1, 3] = [-3.0, 50.0]  # a bone leaving the image
    np.testing.assert_array_equal(render_chains(j, sk.bones, 96, thickness),
                                  brute_force_render(j, sk.bones, 96, thickness / 2))


def test_too_large_skeleton_is_rejected_with_a_message():
    big = dataclasses.replace(toy_skeleton(4), scale=1.0)
    with pytest.raises(ValueError, match='lower the skeleton scale'):
        sample_toy_params(big, 10, np.random.default_rng(0), size=40)


def test_angles_from_joints_known_answer_and_round_trip():
    sk = toy_skeleton(1)
    # first bone straight down (+y), second turning to +x: a -90 deg turn about z (y down)
    joints = np.array([[[0.0, 0.0], [0.0, 45.0], [45.0, 45.0]]])
    np.testing.assert_allclose(toy_angles_from_joints(sk, joints), [[0.0, -np.pi / 2]])
    for level in TOY_LEVELS:
        s = make_toy_samples(level, 50, seed=10 + level)
        wrapped = np.remainder(s.params[:, 2:] + np.pi, 2 * np.pi) - np.pi
        np.testing.assert_allclose(toy_angles_from_joints(s.skeleton, s.joints), wrapped,
                                   atol=1e-9)


def test_metrics_known_answers():
    s = make_toy_samples(2, 40, seed=5)
    exact = toy_metrics(s.skeleton, s.joints, s.joints, s.params)
    assert exact['joint_error_px'] == 0.0 and exact['angle_error_deg'] < 1e-6
    assert exact['bone_std_px'] < 1e-9 and exact['bone_length_px'] == pytest.approx(18.0)
    shifted = toy_metrics(s.skeleton, s.joints + [3.0, 4.0], s.joints, s.params)
    assert shifted['joint_error_px'] == pytest.approx(5.0)
    assert shifted['angle_error_deg'] < 1e-6 and shifted['bone_std_px'] < 1e-9
    # stretching every bone by a per-sample factor leaves the angles and spreads the lengths
    k = np.linspace(0.5, 1.5, 40)[:, None, None]
    stretched = s.joints[:, :1] + k * (s.joints - s.joints[:, :1])
    m = toy_metrics(s.skeleton, stretched, s.joints, s.params)
    assert m['angle_error_deg'] < 1e-6
    assert m['bone_std_px'] == pytest.approx(18.0 * np.std(k), rel=1e-9)
    with pytest.raises(ValueError, match='pred_joints'):
        toy_metrics(s.skeleton, s.joints[:, :3], s.joints, s.params)
