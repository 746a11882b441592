"""Reader for the ITOP dataset (Haque et al. 2016) in its published HDF5 layout.

Files, for ``view`` in {side, top} and ``split`` in {train, test}::

    ITOP_<view>_<split>_depth_map.h5   data (N, 240, 320) float16/float32 metres, 0 = invalid
                                       [id (N,) bytes]
    ITOP_<view>_<split>_labels.h5      id (N,) bytes, e.g. b'00_00000' (person_frame)
                                       is_valid (N,) 0/1
                                       real_world_coordinates (N, 15, 3) metres, x right, y UP,
                                           z forward
                                       image_coordinates (N, 15, 2) pixels (u, v)
                                       visible_joints (N, 15) 0/1
                                       segmentation (N, 240, 320) int8, -1 = not the person,
                                           0..14 = body part

Frames: ITOP's world coordinates are the camera frame with y pointing **up**:
``X = (u - 160) z / f``, ``Y = (120 - v) z / f`` with ``f = 285.714``. This reader returns joints
in the optical frame (REP-103: x right, **y down**, z forward), i.e. ``(X, -Y, Z)``, so that
``SENSOR_PRESETS['itop'].project(joints_xyz_camera)`` gives ``image_coordinates``.

Joint order (0-14): :data:`ITOP_JOINT_NAMES`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS, Intrinsics
from kinpose_ros.core.depth import decode_depth

__all__ = ['ITOP_INTRINSICS', 'ITOP_JOINT_NAMES', 'ItopDataset', 'itop_paths']

ITOP_JOINT_NAMES = (
    'head', 'neck', 'r_shoulder', 'l_shoulder', 'r_elbow', 'l_elbow', 'r_hand', 'l_hand',
    'torso', 'r_hip', 'l_hip', 'r_knee', 'l_knee', 'r_foot', 'l_foot',
)
ITOP_INTRINSICS: Intrinsics = SENSOR_PRESETS['itop']
_VIEWS = ('side', 'top')
_SPLITS = ('train', 'test')
_LABEL_KEYS = ('id', 'is_valid', 'real_world_coordinates', 'image_coordinates', 'visible_joints')


def _import_h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'reading ITOP needs h5py: pip install "h5py>=3.8" (or the [torch] extra)') from exc
    return h5py


def itop_paths(root: str | os.PathLike, view: str, split: str) -> tuple[Path, Path]:
    """``(depth_map_path, labels_path)`` of one ITOP view and split under ``root``."""
    if view not in _VIEWS:
        raise ValueError(f'ITOP view must be one of {_VIEWS}, got {view!r}')
    if split not in _SPLITS:
        raise ValueError(f'ITOP split must be one of {_SPLITS}, got {split!r}')
    root = Path(root)
    return (root / f'ITOP_{view}_{split}_depth_map.h5', root / f'ITOP_{view}_{split}_labels.h5')


class ItopDataset:
    """Indexable ITOP frames: depth in metres plus joints in the optical frame.

    Labels (small) are read once; depth maps and segmentations are read per item from files
    opened lazily in the calling process, so the object can be handed to DataLoader workers.

    Args:
        root: folder holding the ``ITOP_<view>_<split>_*.h5`` files.
        view: ``'side'`` or ``'top'``.
        split: ``'train'`` or ``'test'``.
        only_valid: keep only frames with ``is_valid == 1`` (the 4863 side/test frames of the
            published evaluations).

    Raises:
        FileNotFoundError: a file is missing. ValueError: the two files disagree in length or
        a label dataset is missing.
    """

    def __init__(self, root: str | os.PathLike, view: str = 'side', split: str = 'test',
                 only_valid: bool = True) -> None:
        h5py = _import_h5py()
        self.depth_path, self.labels_path = itop_paths(root, view, split)
        for path in (self.depth_path, self.labels_path):
            if not path.is_file():
                raise FileNotFoundError(f'ITOP file not found: {path}')
        self.view, self.split = view, split
        self.intrinsics = ITOP_INTRINSICS
        with h5py.File(self.labels_path, 'r') as f:
            missing = [k for k in _LABEL_KEYS if k not in f]
            if missing:
                raise ValueError(f'{self.labels_path} lacks datasets {missing}; has {list(f)}')
            self.ids = np.array([_as_str(i) for i in f['id'][()]])
            is_valid = np.asarray(f['is_valid'][()]).astype(bool).reshape(-1)
            world = np.asarray(f['real_world_coordinates'][()], dtype=np.float32)
            self._uv = np.asarray(f['image_coordinates'][()], dtype=np.float32)
            self._visible = np.asarray(f['visible_joints'][()]).astype(bool)
            self._has_segmentation = 'segmentation' in f
        with h5py.File(self.depth_path, 'r') as f:
            n_depth = f['data'].shape[0]
        if n_depth != len(self.ids) or world.shape != (len(self.ids), 15, 3):
            raise ValueError(
                f'ITOP {view}/{split}: {n_depth} depth maps, {len(self.ids)} label ids and '
                f'real_world_coordinates of shape {world.shape}; expected N, N and (N, 15, 3)')
        # ITOP world is y-up; the optical frame is y-down.
        self._xyz = world * np.array([1.0, -1.0, 1.0], dtype=np.float32)
        self.indices = np.flatnonzero(is_valid) if only_valid else np.arange(len(self.ids))
        self._files: tuple[int, object, object] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def _handles(self):
        pid = os.getpid()
        if self._files is None or self._files[0] != pid:
            h5py = _import_h5py()
            self._files = (pid, h5py.File(self.depth_path, 'r'), h5py.File(self.labels_path, 'r'))
        return self._files[1], self._files[2]

    def __getitem__(self, item: int) -> dict:
        """One frame.

        Returns:
            dict with ``depth_m`` (240, 320) float32 metres, NaN = invalid;
            ``joints_xyz_camera`` (15, 3) float32 metres, optical frame;
            ``joints_uv`` (15, 2) float32 pixels; ``visible`` (15,) bool;
            ``mask`` (240, 320) bool person pixels (all False when the file has no segmentation);
            ``segmentation`` (240, 320) int8 body-part labels, -1 elsewhere; ``id`` str;
            ``index`` int, the row in the files.
        """
        if not -len(self) <= item < len(self):
            raise IndexError(f'ItopDataset index {item} out of range for {len(self)} frames')
        row = int(self.indices[item])
        depth_file, labels_file = self._handles()
        depth_m = decode_depth(np.asarray(depth_file['data'][row]), '32FC1')
        if self._has_segmentation:
            segmentation = np.asarray(labels_file['segmentation'][row], dtype=np.int8)
        else:
            segmentation = np.full(depth_m.shape, -1, dtype=np.int8)
        return {
            'depth_m': depth_m,
            'joints_xyz_camera': self._xyz[row].copy(),
            'joints_uv': self._uv[row].copy(),
            'visible': self._visible[row].copy(),
            'mask': segmentation >= 0,
            'segmentation': segmentation,
            'id': str(self.ids[row]),
            'index': row,
        }

    def close(self) -> None:
        """Close the HDF5 files opened by this process (reopened on the next access)."""
        if self._files is not None and self._files[0] == os.getpid():
            self._files[1].close()
            self._files[2].close()
        self._files = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_files'] = None  # h5py handles do not pickle; each worker opens its own
        return state


def _as_str(value) -> str:
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)
