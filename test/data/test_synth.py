"""Synthetic generator: determinism, label geometry, sensor model, encodings, body asset."""
import numpy as np
import pytest

from kinpose_ros.core.depth import decode_depth
from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.data.synth import SynthConfig, SynthGenerator
from kinpose_ros.data.synth.body import BodyModel
from kinpose_ros.data.synth.poses import TEMPLATE_WEIGHTS, PosePrior

UPRIGHT = ('stand', 'walk', 'turn', 'point', 'wave', 't_pose', 'arms_crossed', 'reach')
ITOP = ('itop',)


@pytest.fixture(scope='module')
def body():
    return BodyModel(Skeleton.load('body15'))


@pytest.fixture(scope='module')
def frames(body):
    """Noise-free and noisy versions of the same scenes (one person, clutter)."""
    clean = SynthGenerator(SynthConfig(sensors=ITOP, noise=False), seed=11, body=body)
    noisy = SynthGenerator(SynthConfig(sensors=ITOP, noise=True), seed=11, body=body)
    return [(clean.frame(i), noisy.frame(i)) for i in range(12)]


def test_deterministic_for_seed_and_index(body):
    cfg = SynthConfig(people=(0, 3), rgb=True)
    a, b = SynthGenerator(cfg, seed=5, body=body), SynthGenerator(cfg, seed=5, body=body)
    b.frame(9)  # another frame first: frame i depends on (seed, i) only
    fa, fb = a.frame(3), b.frame(3)
    np.testing.assert_array_equal(fa.depth_raw, fb.depth_raw)
    np.testing.assert_array_equal(fa.person_ids, fb.person_ids)
    np.testing.assert_array_equal(fa.rgb, fb.rgb)
    assert len(fa.people) == len(fb.people)
    for pa, pb in zip(fa.people, fb.people):
        np.testing.assert_array_equal(pa.joints_xyz, pb.joints_xyz)
        np.testing.assert_array_equal(pa.params, pb.params)
    other = SynthGenerator(cfg, seed=6, body=body).frame(3)
    assert other.depth_raw.shape != fa.depth_raw.shape or \
        not np.array_equal(other.depth_raw, fa.depth_raw)


def test_params_reproduce_joints_in_camera_frame(frames):
    sk = Skeleton.load('body15')
    for clean, _ in frames:
        for p in clean.people:
            joints, _ = forward_kinematics_np(sk, p.params[None].astype(np.float64),
                                              scale=np.array([p.scale]))
            np.testing.assert_allclose(joints[0], p.joints_xyz, atol=2e-4)
            np.testing.assert_allclose(clean.intrinsics.project(p.joints_xyz), p.joints_uv,
                                       atol=1e-2)


def test_upright_person_in_front_of_camera(frames):
    sk = Skeleton.load('body15')
    head, feet = sk.joint_names.index('head'), [sk.joint_names.index(n) for n in
                                                ('l_foot', 'r_foot')]
    checked = 0
    for clean, _ in frames:
        for p in clean.people:
            assert np.all(p.joints_xyz[:, 2] > 0.3), 'people stand in front of the camera'
            if p.template in UPRIGHT:
                assert p.joints_uv[head, 1] < p.joints_uv[feet, 1].min() - 20
                # the ankles are a few cm above the floor plane, the head 1.3-2 m
                n, c = clean.floor_plane[:3], clean.floor_plane[3]
                height = p.joints_xyz @ n + c
                assert 0.0 < height[feet].min() < 0.2 and 1.1 < height[head] < 2.1
                checked += 1
    assert checked >= 3


def test_visible_joints_lie_on_the_person(frames):
    counted = 0
    for clean, _ in frames:
        H, W = clean.depth_m.shape
        for i, p in enumerate(clean.people):
            np.testing.assert_array_equal(p.mask, clean.person_ids == i)
            for j in np.flatnonzero(p.visible):
                c, r = (int(np.floor(x + 0.5)) for x in p.joints_uv[j])
                x0, y0, x1, y1 = p.box_xyxy
                assert x0 - 1 <= c < x1 + 1 and y0 - 1 <= r < y1 + 1
                win = (slice(max(r - 1, 0), r + 2), slice(max(c - 1, 0), c + 2))
                on = p.mask[win]
                assert on.any()
                z = clean.depth_m[win][on]
                # the surface is in front of the joint by at most the body's thickness
                assert np.nanmin(np.abs(z - p.joints_xyz[j, 2])) < 0.25
                counted += 1
    assert counted > 60


def test_noise_on_adds_noise_and_dropouts_off_does_not(frames):
    holes_clean, holes_noisy, diffs = 0, 0, []
    for clean, noisy in frames:
        np.testing.assert_array_equal(clean.person_ids, noisy.person_ids)  # same scene
        for p in clean.people:
            holes_clean += int(np.isnan(clean.depth_m[p.mask]).sum())
            holes_noisy += int(np.isnan(noisy.depth_m[p.mask]).sum())
        both = np.isfinite(clean.depth_m) & np.isfinite(noisy.depth_m)
        diffs.append(np.abs(clean.depth_m[both] - noisy.depth_m[both]))
    assert holes_clean == 0
    assert holes_noisy > 0
    d = np.concatenate(diffs)
    assert np.median(d) > 0.0009  # >= 1 mm typical noise at 1-6 m
    assert np.median(d) < 0.05


@pytest.mark.parametrize('encoding, dtype', [('16UC1', np.uint16), ('32FC1', np.float32)])
def test_encodings_decode_to_metres(body, encoding, dtype):
    gen = SynthGenerator(SynthConfig(sensors=ITOP, encoding=encoding), seed=2, body=body)
    f = gen.frame(0)
    assert f.depth_raw.dtype == dtype and f.encoding == encoding
    np.testing.assert_array_equal(decode_depth(f.depth_raw, encoding), f.depth_m)
    valid = np.isfinite(f.depth_m)
    assert 0.2 < valid.mean() <= 1.0
    assert np.nanmin(f.depth_m) > 0.2 and np.nanmax(f.depth_m) < 9.0


def test_several_people_sorted_by_distance_with_ids(body):
    gen = SynthGenerator(SynthConfig(people=(2, 4), image_size=(320, 240)), seed=4, body=body)
    seen = 0
    for i in range(4):
        f = gen.frame(i)
        assert f.depth_m.shape == (240, 320) and f.intrinsics.width == 320
        assert 2 <= len(f.people) <= 4
        depth = [p.params[2] for p in f.people]
        assert depth == sorted(depth)
        assert set(np.unique(f.person_ids)) <= set(range(-1, len(f.people)))
        for p in f.people:
            assert 0.0 <= p.visible_fraction <= 1.0
            seen += p.mask.any()
    assert seen >= 6


def test_unoccluded_person_is_mostly_visible(body):
    cfg = SynthConfig(sensors=ITOP, clutter=False, noise=False, distance_m=(2.5, 4.0),
                      out_of_frame_prob=0.0)
    gen = SynthGenerator(cfg, seed=8, body=body)
    fractions = [gen.frame(i).people[0].visible_fraction for i in range(6)]
    assert np.median(fractions) > 0.85


def test_rgb_and_config_errors(body):
    f = SynthGenerator(SynthConfig(sensors=ITOP, rgb=True), seed=1, body=body).frame(0)
    assert f.rgb.shape == (240, 320, 3) and f.rgb.dtype == np.uint8 and f.rgb.std() > 5
    assert SynthGenerator(SynthConfig(sensors=ITOP), seed=1, body=body).frame(0).rgb is None
    with pytest.raises(ValueError, match='sensors'):
        SynthConfig(sensors=('kinect_v9',))
    with pytest.raises(ValueError, match='people'):
        SynthConfig(people=(3, 1))
    with pytest.raises(ValueError, match='encoding'):
        SynthConfig(encoding='8UC1')
    with pytest.raises(ValueError, match='distance_m'):
        SynthConfig(distance_m=(2.0, 1.0))


def test_close_range_distances_outside_the_usual_band(body):
    # a desk camera's range lies wholly below the 1.5-4.5 m band most people are drawn from
    cfg = SynthConfig(sensors=('realsense_sr305',), distance_m=(0.6, 1.2), clutter=False,
                      noise=False, out_of_frame_prob=0.0)
    gen = SynthGenerator(cfg, seed=3, body=body)
    for i in range(4):
        person = gen.frame(i).people[0]
        root_z = float(np.nanmedian(person.joints_xyz[:, 2]))
        assert 0.45 < root_z < 1.45  # ground distance 0.6-1.2 m from a pitched camera


def test_body_asset_matches_skeleton(body):
    sk = body.skeleton
    for k in (0, body.num_shapes - 1):
        rest, _ = forward_kinematics_np(sk, np.zeros((1, sk.num_params)),
                                        scale=np.array([body.scales[k]]))
        verts = body.vertices[k]
        height = np.ptp(verts[:, 2])
        assert 1.2 < height < 2.1
        # every joint lies inside the body: the nearest surface point is a few cm away
        dist = np.linalg.norm(verts[None] - rest[0][:, None], axis=2).min(1)
        assert dist.max() < 0.16 and dist.min() > 0.005
        # zero pose = standing, arms down: hands beside the hips, below the elbows
        names = sk.joint_names
        assert rest[0, names.index('l_hand'), 2] < rest[0, names.index('l_elbow'), 2]
    # posing at the rest transforms gives the rest mesh back
    shape = body.sample_shape(np.random.default_rng(0), clothing=False)
    R, t = body.frame_transforms(np.eye(3), np.zeros(3), np.zeros(sk.num_dofs), shape.scale)
    np.testing.assert_allclose(body.pose(shape, R, t), shape.vertices, atol=1e-9)


def test_pose_prior_within_limits():
    sk = Skeleton.load('body15')
    prior = PosePrior(sk)
    rng = np.random.default_rng(0)
    for name in TEMPLATE_WEIGHTS:
        s = prior.sample(rng, name)
        assert s.template == name
        assert np.all(s.angles >= sk.dof_lower - 1e-12) and np.all(s.angles <= sk.dof_upper
                                                                      + 1e-12)
        np.testing.assert_allclose(s.tilt @ s.tilt.T, np.eye(3), atol=1e-12)


def test_axis_angle_matches_core_rotations():
    from kinpose_ros.core.rotations import axis_angle_to_matrix
    from kinpose_ros.data.synth.scene import axis_angle

    rng = np.random.default_rng(1)
    for angle in (0.0, 1e-9, 0.3, 2.0, np.pi - 1e-6, np.pi):
        axis = rng.normal(size=3)
        v = axis / np.linalg.norm(axis) * angle
        R = axis_angle_to_matrix(v)
        np.testing.assert_allclose(axis_angle_to_matrix(axis_angle(R)), R, atol=1e-9)
    np.testing.assert_allclose(axis_angle(axis_angle_to_matrix(np.array([0.1, -0.2, 0.3]))),
                               [0.1, -0.2, 0.3], atol=1e-12)


def test_sensor_shadow_band_and_disparity_quantisation():
    from kinpose_ros.data.synth.sensor import SensorParams, apply_sensor

    H, W, fx = 40, 120, 300.0
    depth = np.full((H, W), 3.0, np.float32)
    depth[:, :50] = 1.5  # a near surface on the left, the projector on the right
    params = SensorParams('sl', 1.0, 1.0, baseline_m=0.075, subpixel=8.0, projector_left=False,
                          min_range_m=0.4, max_range_m=8.0, edge_drop=0.0, flying=0.0,
                          grazing_cos=0.0, speckle=0.0, holes=0)
    out = apply_sensor(depth, np.ones_like(depth), params, fx, 1, np.random.default_rng(0))
    band = fx * 0.075 * (1 / 1.5 - 1 / 3.0)  # 7.5 px hidden from the projector
    hidden = np.isnan(out[20, 50:]).sum()
    assert abs(hidden - band) <= 1.5
    assert not np.isnan(out[:, :50]).any()
    fbs = fx * 0.075 * 8.0
    steps = fbs / out[np.isfinite(out)]
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)  # whole 1/8 px steps
    assert abs(np.nanmean(out[:, 70:]) - 3.0) < 0.02
