"""A2J's released predictions must reproduce the published figures (needs ../shared/data)."""
import numpy as np
import pytest

from kinpose_ros.data.golden import (
    ITOP_JOINT_NAMES,
    golden_itop,
    golden_nyu,
    itop_uvd_to_world,
    nyu_uvd_to_world_mm,
)

# A2J paper Table 3 per-joint mAP@10cm (%), as listed in shared/data/README.md
ITOP_PER_JOINT = [98.5, 99.2, 96.5, 96.0, 79.4, 78.5, 69.6, 67.1, 98.5, 91.9, 89.8, 91.3, 90.2,
                  87.4, 86.4]


def test_itop_golden_map(shared_data):
    result = golden_itop(shared_data)
    assert result.n_frames == 4863 and result.joint_names == ITOP_JOINT_NAMES
    assert result.map_percent == pytest.approx(88.02, abs=0.01)
    np.testing.assert_allclose(result.per_joint_map_percent, ITOP_PER_JOINT, atol=0.1)
    assert result.mean_error_mm == pytest.approx(58.5, abs=0.1)  # README: 5.85 cm
    assert result.n_nonfinite == 0


def test_nyu_golden_error(shared_data):
    result = golden_nyu(shared_data / 'a2j')  # the a2j folder itself is accepted too
    assert result.n_frames == 8252 and len(result.joint_names) == 14
    assert result.mean_error_mm == pytest.approx(8.61, abs=0.01)
    assert result.map_percent is None


def test_missing_folder_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match='A2J golden files not found'):
        golden_itop(tmp_path)


def test_conversions_known_points():
    # ITOP: 10 px right of centre at 2 m -> 10 * 2 * 0.0035 = 0.07 m; 20 px above -> +0.14 m
    np.testing.assert_allclose(itop_uvd_to_world([170.0, 100.0, 2.0]), [0.07, 0.14, 2.0])
    # NYU: y is up (fy < 0): a pixel below the centre has negative Y
    np.testing.assert_allclose(nyu_uvd_to_world_mm([320.0 + 58.803, 240.0 + 58.707, 1000.0]),
                               [100.0, -100.0, 1000.0])
