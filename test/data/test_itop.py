"""Tests for kinpose_ros.data.itop: the published HDF5 layout, frames and the y-flip."""
import pickle

import numpy as np
import pytest

h5py = pytest.importorskip('h5py', reason='h5py (the [torch] extra) is needed to read ITOP')

from kinpose_ros.data.itop import ITOP_INTRINSICS, ItopDataset, itop_paths  # noqa: E402

F = 285.714


def _write_itop(root, n=3, view='side', split='test', seed=0):
    """A tiny ITOP-layout pair of files; returns the optical-frame joints written (y down)."""
    rng = np.random.default_rng(seed)
    xyz = np.stack([rng.uniform(-0.8, 0.8, (n, 15)), rng.uniform(-0.9, 0.9, (n, 15)),
                    rng.uniform(2.0, 4.0, (n, 15))], axis=-1)
    uv = np.stack([xyz[..., 0] / xyz[..., 2] * F + 160, xyz[..., 1] / xyz[..., 2] * F + 120], -1)
    world = xyz * [1, -1, 1]  # ITOP files are y up
    depth = rng.uniform(1.0, 5.0, (n, 240, 320)).astype(np.float16)
    depth[:, :10, :] = 0.0
    seg = np.full((n, 240, 320), -1, np.int8)
    seg[:, 100:150, 140:180] = 8
    ids = np.array([f'{i:02d}_{i * 7:05d}'.encode() for i in range(n)])
    depth_path, labels_path = itop_paths(root, view, split)
    with h5py.File(depth_path, 'w') as f:
        f['data'] = depth
        f['id'] = ids
    with h5py.File(labels_path, 'w') as f:
        f['id'] = ids
        f['is_valid'] = (np.arange(n) % 2 == 0).astype(np.uint8)
        f['real_world_coordinates'] = world.astype(np.float32)
        f['image_coordinates'] = uv.astype(np.float32)
        f['visible_joints'] = (rng.uniform(size=(n, 15)) > 0.3).astype(np.uint8)
        f['segmentation'] = seg
    return xyz, uv, depth


def test_reads_valid_frames_in_the_optical_frame(tmp_path):
    xyz, uv, depth = _write_itop(tmp_path, n=3)
    ds = ItopDataset(tmp_path, view='side', split='test')
    assert len(ds) == 2  # rows 0 and 2 are valid
    item = ds[1]
    assert item['id'] == '02_00014' and item['index'] == 2
    assert item['depth_m'].shape == (240, 320) and item['depth_m'].dtype == np.float32
    assert np.isnan(item['depth_m'][:10]).all()
    np.testing.assert_allclose(item['depth_m'][10:], depth[2, 10:].astype(np.float32))
    # y flipped from the file's y-up world to y-down optical
    np.testing.assert_allclose(item['joints_xyz_camera'], xyz[2], atol=1e-6)
    assert item['joints_xyz_camera'].shape == (15, 3)
    # the ITOP intrinsics project the joints onto the labelled pixels
    np.testing.assert_allclose(ITOP_INTRINSICS.project(item['joints_xyz_camera']), uv[2],
                               atol=1e-3)
    np.testing.assert_allclose(item['joints_uv'], uv[2], atol=1e-4)
    assert item['visible'].dtype == bool and item['visible'].shape == (15,)
    assert item['mask'].sum() == 50 * 40 and item['mask'][120, 160]
    assert (item['segmentation'][item['mask']] == 8).all()
    assert len(ItopDataset(tmp_path, only_valid=False)) == 3
    with pytest.raises(IndexError):
        ds[2]


def test_dataset_pickles_for_workers(tmp_path):
    xyz, _, _ = _write_itop(tmp_path, n=2, view='top', split='train')
    ds = ItopDataset(tmp_path, view='top', split='train')
    ds[0]  # opens handles, which must not travel
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_allclose(clone[0]['joints_xyz_camera'], xyz[0], atol=1e-6)
    ds.close()
    clone.close()


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match='ITOP_side_test_depth_map.h5'):
        ItopDataset(tmp_path)
    with pytest.raises(ValueError, match='view'):
        itop_paths(tmp_path, 'front', 'test')
    with pytest.raises(ValueError, match='split'):
        itop_paths(tmp_path, 'side', 'val')


def test_length_mismatch_is_reported(tmp_path):
    _write_itop(tmp_path, n=3)
    depth_path, _ = itop_paths(tmp_path, 'side', 'test')
    with h5py.File(depth_path, 'w') as f:
        f['data'] = np.zeros((2, 240, 320), np.float16)
    with pytest.raises(ValueError, match='2 depth maps, 3 label ids'):
        ItopDataset(tmp_path)


def test_published_labels_follow_the_y_up_convention(shared_data):
    """A2J's (u, v) predictions sit next to the ground truth once y is flipped to optical."""
    from scipy.io import loadmat

    world = loadmat(shared_data / 'a2j' / 'itop_side_keypoints3D_test.mat')['keypoints3D']
    pred = loadmat(shared_data / 'a2j' / 'itop_side_88.mat')['resultUVD']
    uv = ITOP_INTRINSICS.project(world[:500] * np.array([1.0, -1.0, 1.0]))
    err = np.linalg.norm(uv - pred[:500, :, :2], axis=-1)
    # A2J's 3-D error (~6 cm at ~3 m) is ~5 px; without the flip the median is ~49 px
    assert np.median(err) < 6.0 and np.mean(err < 10.0) > 0.85
