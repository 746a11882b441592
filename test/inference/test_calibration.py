"""INT8 calibration crops (no TensorRT needed): synthetic and folder sources."""
import numpy as np
import pytest

from kinpose_ros.core.camera import SENSOR_PRESETS
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.calibration import calibration_batches, load_depth_frame
from kinpose_ros.inference.model_card import ModelCard
from kinpose_ros.inference.sample_frames import person_params, sample_frame

K = SENSOR_PRESETS['itop']


class FixedProposals:
    """A segmenter returning the stand-in frame's true proposals (the frame is known here)."""

    def __init__(self, proposals):
        self.proposals = proposals

    def segment(self, depth_m, intrinsics):
        return self.proposals


def test_synthetic_batches(small_models):
    card = ModelCard.load(small_models['a2j']['card'])
    batches = list(calibration_batches(card, 'synthetic', batch_size=3, num_batches=2))
    assert len(batches) == 2
    for b in batches:
        assert b.shape == (3, 1, 64, 64) and b.dtype == np.float32
        assert b.min() >= -1.0 and b.max() <= 1.0
        assert (b < 0.9).mean() > 0.05  # people in the crops, not only background fill
    again = list(calibration_batches(card, 'synthetic', batch_size=3, num_batches=2))
    np.testing.assert_array_equal(batches[0], again[0])  # deterministic for a seed


def test_folder_batches_and_frame_formats(small_models, tmp_path):
    card = ModelCard.load(small_models['a2j']['card'])
    sk = Skeleton.load('body15')
    frame = sample_frame(K, np.array([person_params(sk, 0.0, 2.5, 0.0, 1.0)]), sk)
    np.save(tmp_path / 'a.npy', frame.depth_m)  # metres
    mm = np.nan_to_num(frame.depth_m * 1000).astype(np.uint16)
    np.save(tmp_path / 'b.npy', mm)  # millimetres
    np.testing.assert_allclose(load_depth_frame(tmp_path / 'b.npy'), frame.depth_m, atol=1e-3)
    batches = list(calibration_batches(card, tmp_path, batch_size=2, num_batches=5,
                                       intrinsics=K, segmenter=FixedProposals(frame.proposals)))
    assert len(batches) == 1  # two frames, one person each: one full batch
    np.testing.assert_allclose(batches[0][0], batches[0][1], atol=2e-3)
    with pytest.raises(ValueError, match='intrinsics of its frames are needed'):
        next(calibration_batches(card, tmp_path))
    with pytest.raises(ValueError, match="expected 'synthetic' or a folder"):
        next(calibration_batches(card, tmp_path / 'missing'))
