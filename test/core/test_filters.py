"""One-Euro filter (known answers, smoothing, lag, missing values) and the id tracker."""
import math

import numpy as np
import pytest

from kinpose_ros.core.filters import OneEuroFilter, Tracker, orthonormalise_rotation


def test_one_euro_known_answer():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert f(np.zeros(2), 0.0).tolist() == [0.0, 0.0]
    dt = 1 / 30
    alpha = 1 / (1 + 1 / (2 * math.pi * 1.0 * dt))
    np.testing.assert_allclose(f(np.ones(2), dt), [alpha, alpha], rtol=1e-12)


def test_one_euro_smooths_noise_and_beta_reduces_lag():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30
    noisy = rng.normal(scale=0.01, size=t.size)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    out = np.array([f(np.array([x]), s)[0] for x, s in zip(noisy, t)])
    assert out[30:].std() < 0.4 * noisy[30:].std()
    ramp = 1.0 * t  # 1 unit/s
    lags = []
    for beta in (0.0, 5.0):
        f = OneEuroFilter(min_cutoff=1.0, beta=beta)
        out = np.array([f(np.array([x]), s)[0] for x, s in zip(ramp, t)])
        lags.append(ramp[-1] - out[-1])
    assert lags[0] == pytest.approx(1 / (2 * math.pi), rel=0.1)  # steady lag = v / (2 pi fc)
    assert lags[1] < 0.3 * lags[0]


def test_one_euro_missing_values_and_errors():
    f = OneEuroFilter(1.0, 0.0)
    f(np.array([1.0, np.nan]), 0.0)
    out = f(np.array([np.nan, 2.0]), 0.1)
    assert out[0] == 1.0  # held
    assert out[1] == 2.0  # first finite value is taken as is
    out = f(np.array([1.0, 2.0]), 0.1)  # time did not advance: nominal step, still finite
    assert np.all(np.isfinite(out))
    with pytest.raises(ValueError, match=r'expected shape \(2,\)'):
        f(np.zeros(3), 0.2)
    with pytest.raises(ValueError, match='must be > 0'):
        OneEuroFilter(min_cutoff=0.0)


def test_orthonormalise_rotation():
    from kinpose_ros.core.rotations import axis_angle_to_matrix

    R = axis_angle_to_matrix(np.array([[0.3, -1.0, 0.5], [2.0, 0.1, 0.0]]))
    np.testing.assert_allclose(orthonormalise_rotation(R), R, atol=1e-12)
    noisy = R + np.random.default_rng(1).normal(scale=0.01, size=R.shape)
    Q = orthonormalise_rotation(noisy)
    np.testing.assert_allclose(Q @ np.swapaxes(Q, 1, 2), np.broadcast_to(np.eye(3), Q.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(Q), 1.0)
    assert np.abs(Q - R).max() < 0.05


def test_tracker_keeps_ids_of_people_moving_slightly():
    tracker = Tracker(gate_m=0.5, max_age_s=0.3)
    a, b = np.array([-1.0, 0.0, 3.0]), np.array([1.0, 0.0, 3.5])
    first = tracker.update(np.array([a, b]), 0.0)
    assert [t.track_id for t in first] == [0, 1]
    for k in range(1, 10):
        step = np.array([0.05, 0.0, -0.03]) * k
        # the detection order changes from frame to frame; ids follow the people
        got = tracker.update(np.array([b + step, a - step]), k / 30)
        assert [t.track_id for t in got] == [1, 0]
    assert tracker.tracks[0].hits == 10


def test_tracker_gate_birth_and_death():
    tracker = Tracker(gate_m=0.5, max_age_s=0.3)
    tracker.update(np.array([[0.0, 0.0, 3.0]]), 0.0)
    jump = tracker.update(np.array([[1.0, 0.0, 3.0]]), 0.1)  # 1 m in 0.1 s: beyond the gate
    assert jump[0].track_id == 1 and len(tracker.tracks) == 2
    tracker.update(np.zeros((0, 3)), 0.35)  # track 0 last seen at 0.0: expired
    assert [t.track_id for t in tracker.tracks] == [1]
    back = tracker.update(np.array([[1.1, 0.0, 3.0], [np.nan, 0.0, 3.0]]), 0.39)
    assert back[0].track_id == 1 and back[1] is None
    tracker.reset()
    assert tracker.update(np.array([[0.0, 0.0, 2.0]]), 1.0)[0].track_id == 0
    with pytest.raises(ValueError, match='gate_m must be > 0'):
        Tracker(gate_m=0.0)
