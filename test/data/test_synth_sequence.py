"""Synthetic generator, temporal mode: ``SynthGenerator.sequence`` and ``frame`` kept as before."""
import numpy as np
import pytest

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.data.synth import SynthConfig, SynthGenerator
from kinpose_ros.data.synth.body import BodyModel

FPS = 30.0
ITOP = SynthConfig(sensors=('itop',), image_size=(320, 240), people=(1, 3))

# frame() of SynthConfig(people=(2, 3)), seed 3, recorded before sequence() existed:
# (sensor, floor c, valid fraction, mean valid depth m,
#  [(template, params[:3], params.sum(), scale, mask pixels)])
PINNED = [
    ('realsense_sr305', 1.0261, 0.9495, 4.6396,
     [('reach', [-0.3448, 0.2816, 1.9017], 7.3276, 1.099, 20323),
      ('walk', [-0.5223, 1.0704, 4.0573], 7.9366, 0.9311, 2135)]),
    ('random', 1.0032, 0.9932, 3.5028,
     [('sit', [0.9528, -0.0126, 1.1975], 12.0349, 0.8963, 11745),
      ('squat', [1.0387, -0.3214, 2.3074], 16.2416, 1.068, 5630)]),
    ('realsense_sr305', 1.1364, 0.7187, 3.9226,
     [('reach', [0.6506, 0.086, 1.916], 7.6575, 0.9404, 22981),
      ('stand', [-0.6343, 0.0729, 2.094], 4.6938, 0.9548, 23073)]),
]


@pytest.fixture(scope='module')
def body():
    return BodyModel(Skeleton.load('body15'))


@pytest.fixture(scope='module')
def sequences(body):
    gen = SynthGenerator(ITOP, seed=4, body=body)
    return gen, [gen.sequence(i, 45, FPS) for i in range(6)]


def _tracks(frames) -> dict:
    """track id -> [PersonLabel per frame]."""
    out: dict = {}
    for f in frames:
        for p in f.people:
            out.setdefault(p.track_id, []).append(p)
    return out


def test_frame_unchanged_by_the_temporal_mode(body):
    """frame() draws the same scenes as before sequence() shared its code (tolerances allow for
    float rounding of other CPUs; a changed random draw changes everything)."""
    gen = SynthGenerator(SynthConfig(people=(2, 3)), seed=3, body=body)
    for i, (sensor, c, valid, mean, people) in enumerate(PINNED):
        f = gen.frame(i)
        ok = np.isfinite(f.depth_m)
        assert f.sensor == sensor
        assert f.floor_plane[3] == pytest.approx(c, abs=1e-3)
        assert ok.mean() == pytest.approx(valid, abs=2e-3)
        assert f.depth_m[ok].mean() == pytest.approx(mean, abs=2e-3)
        assert len(f.people) == len(people)
        for p, (template, root, total, scale, pixels) in zip(f.people, people):
            assert p.template == template
            np.testing.assert_allclose(p.params[:3], root, atol=1e-3)
            assert p.params.sum() == pytest.approx(total, abs=1e-2)
            assert p.scale == pytest.approx(scale, abs=1e-3)
            assert p.mask.sum() == pytest.approx(pixels, rel=0.01)
            assert p.track_id in range(len(people))


def test_first_frame_of_a_sequence_is_frame(body):
    gen = SynthGenerator(SynthConfig(people=(1, 3), rgb=True), seed=9, body=body)
    for i in range(3):
        single, first = gen.frame(i), gen.sequence(i, 2)[0]
        np.testing.assert_array_equal(single.depth_raw, first.depth_raw)
        np.testing.assert_array_equal(single.person_ids, first.person_ids)
        np.testing.assert_array_equal(single.rgb, first.rgb)
        assert [p.track_id for p in single.people] == [p.track_id for p in first.people]
        for a, b in zip(single.people, first.people):
            np.testing.assert_array_equal(a.params, b.params)
            np.testing.assert_array_equal(a.mask, b.mask)


def test_sequence_frames_share_the_scene(sequences):
    _, seqs = sequences
    for frames in seqs:
        f0 = frames[0]
        for k, f in enumerate(frames):
            assert f.time_s == pytest.approx(k / FPS)
            assert f.sensor == f0.sensor and f.intrinsics == f0.intrinsics
            np.testing.assert_array_equal(f.floor_plane, f0.floor_plane)
            assert (f.camera_height_m, f.camera_pitch_rad) == (f0.camera_height_m,
                                                               f0.camera_pitch_rad)
            assert sorted(p.track_id for p in f.people) == list(range(len(f0.people)))
            depth = [p.joints_xyz[8, 2] for p in f.people]  # torso: sorted by distance
            assert depth == sorted(depth)


def test_people_move_smoothly_with_rigid_bones(sequences):
    gen, seqs = sequences
    bones = np.array(gen.skeleton.bones)
    travelled, steps = [], []
    for frames in seqs:
        for track in _tracks(frames).values():
            assert len(track) == len(frames)
            joints = np.array([p.joints_xyz for p in track], np.float64)  # (T, J, 3)
            step = np.linalg.norm(np.diff(joints, axis=0), axis=-1)
            steps.append(step.max())
            # < 6 cm per frame at 30 fps (walk <= 1.2 m/s plus limbs and turning), limbs
            # relative to the pelvis < 2 cm (pose changes at about 0.4 m/s)
            assert step.max() < 0.06
            limbs = joints - joints[:, 8:9]
            assert np.linalg.norm(np.diff(limbs, axis=0), axis=-1).max() < 0.02
            length = np.linalg.norm(joints[:, bones[:, 0]] - joints[:, bones[:, 1]], axis=-1)
            np.testing.assert_allclose(length, np.broadcast_to(length[0], length.shape),
                                       atol=2e-4)
            assert len({p.scale for p in track}) == 1
            # on the floor in every frame: the lowest joint (ankle, or knee when kneeling) is
            # above the floor plane and within 25 cm of it
            lowest = (joints @ frames[0].floor_plane[:3] + frames[0].floor_plane[3]).min(1)
            assert np.all(lowest > 0.0) and np.all(lowest < 0.25)
            travelled.append(np.linalg.norm(joints[-1, 8, [0, 2]] - joints[0, 8, [0, 2]]))
    # the people do move: some walk tens of cm in 1.5 s, poses change
    assert max(travelled) > 0.5 and max(steps) > 0.01


def test_sequence_is_deterministic_and_noise_is_per_frame(sequences, body):
    gen, seqs = sequences
    again = SynthGenerator(ITOP, seed=4, body=body).sequence(2, 30, FPS)
    for a, b in zip(seqs[2], again):  # also: a shorter sequence is a prefix of a longer one
        np.testing.assert_array_equal(a.depth_raw, b.depth_raw)
        for pa, pb in zip(a.people, b.people):
            np.testing.assert_array_equal(pa.joints_xyz, pb.joints_xyz)
    other = SynthGenerator(ITOP, seed=5, body=body).sequence(2, 2, FPS)
    assert other[1].depth_raw.shape != again[1].depth_raw.shape or \
        not np.array_equal(other[1].depth_raw, again[1].depth_raw)
    # background pixels (no person in either frame) get new noise in every frame ...
    f0, f1 = seqs[0][0], seqs[0][1]
    background = (f0.person_ids < 0) & (f1.person_ids < 0) & (f0.depth_raw > 0) & \
        (f1.depth_raw > 0)
    assert np.mean(f0.depth_raw[background] != f1.depth_raw[background]) > 0.05
    # ... and none without the sensor model
    clean = SynthGenerator(SynthConfig(sensors=('itop',), image_size=(320, 240), noise=False),
                           seed=4, body=body).sequence(0, 2, FPS)
    background = (clean[0].person_ids < 0) & (clean[1].person_ids < 0)
    np.testing.assert_array_equal(clean[0].depth_raw[background],
                                  clean[1].depth_raw[background])


def test_rgb_keeps_colours_when_the_depth_order_changes(body):
    gen = SynthGenerator(SynthConfig(sensors=('itop',), image_size=(320, 240), people=(2, 3),
                                     rgb=True), seed=2, body=body)
    frames = gen.sequence(4, 45, FPS)
    orders = {tuple(p.track_id for p in f.people) for f in frames}
    assert len(orders) > 1, 'this scene is chosen for people passing each other in depth'
    for a, b in zip(frames, frames[1:]):
        background = (a.person_ids < 0) & (b.person_ids < 0)
        diff = np.abs(a.rgb[background].astype(float) - b.rgb[background].astype(float))
        assert diff.mean() < 8.0  # same texture, new pixel noise (sigma 3)
        for pa in a.people:
            pb = next(p for p in b.people if p.track_id == pa.track_id)
            if pa.mask.sum() > 400 and pb.mask.sum() > 400:
                ca, cb = a.rgb[pa.mask].mean(0), b.rgb[pb.mask].mean(0)
                assert np.abs(ca - cb).max() < 25.0


def test_sequence_arguments(body):
    gen = SynthGenerator(ITOP, seed=0, body=body)
    with pytest.raises(ValueError, match='length'):
        gen.sequence(0, 0)
    with pytest.raises(ValueError, match='fps'):
        gen.sequence(0, 5, fps=0.0)
