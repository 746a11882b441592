"""The compiled crop path of core.depth.crop_depth_batch equals its numpy path exactly."""
import numpy as np

from kinpose_ros.core.depth import crop_depth_batch


def test_compiled_crops_equal_numpy_path():
    rng = np.random.default_rng(3)
    depth = rng.uniform(0.5, 6.0, (48, 64)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.1] = np.nan
    depth[rng.random(depth.shape) < 0.05] = 0.0
    # inside, crossing the left / top edges, crossing the right / bottom edges, far outside
    boxes = np.array([[10.3, 5.2, 30.7, 40.1], [-8.0, -5.5, 20.0, 25.0],
                      [40.0, 30.0, 75.0, 60.0], [100.0, 100.0, 120.0, 110.0]])
    centres = [2.0, 3.1, 5.5, 1.0]
    fast, infos = crop_depth_batch(depth, boxes, (16, 12), centres, 2.4, 1.0)
    # a NaN centre sends the whole batch through the numpy path
    slow, _ = crop_depth_batch(depth, np.vstack([boxes, boxes[:1]]), (16, 12),
                               centres + [np.nan], 2.4, 1.0)
    assert fast.shape == (4, 1, 12, 16) and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, slow[:4])
    assert [i.center_depth_m for i in infos] == centres
    assert np.all(fast[3] == 1.0)  # outside the image: all fill
    assert np.all(fast <= 1.0) and np.all(fast >= -1.0)
    assert np.any((fast > -1.0) & (fast < 1.0))  # normalised values, not only fill / clip
