"""What every training / evaluation data source yields: frames of depth with labelled people.

Frames: depth in metres (H, W) float32 with NaN = invalid, the camera's ``Intrinsics``, and one
``PersonRecord`` per labelled person with joints in the camera optical frame (REP-103: x right,
y down, z forward, metres). Boxes are pixel edge coordinates ``[x0, y0, x1, y1]`` (see
``core.depth``).

``person_proposal`` turns a labelled person into what the runtime's segmentation would give: a
box and a 3-D centroid, so that training and evaluation crop people exactly as the estimator does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinpose_ros.core.camera import Intrinsics

__all__ = ['FrameRecord', 'PersonRecord', 'Proposal', 'person_proposal']


@dataclass
class PersonRecord:
    """One labelled person.

    Attributes:
        joints_xyz: (J, 3) metres, optical frame.
        visible: (J,) bool, joints that count in the metrics (labelled / inside the image).
        box_xyxy: (4,) person box, pixel edge coordinates, or None (derived from the mask or
            the projected joints).
        mask: (H, W) bool person pixels, or None.
        params: (P,) motion parameters of the skeleton (``Skeleton.param_names``) in the camera
            frame, or None (then no angle error is reported).
    """

    joints_xyz: np.ndarray
    visible: np.ndarray | None = None
    box_xyxy: np.ndarray | None = None
    mask: np.ndarray | None = None
    params: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.joints_xyz = np.asarray(self.joints_xyz, dtype=np.float64)
        if self.joints_xyz.ndim != 2 or self.joints_xyz.shape[1] != 3:
            raise ValueError(f'PersonRecord.joints_xyz: expected (J, 3), got '
                             f'{self.joints_xyz.shape}')
        if self.visible is None:
            self.visible = np.isfinite(self.joints_xyz).all(axis=1)
        self.visible = np.asarray(self.visible, dtype=bool)


@dataclass
class FrameRecord:
    """One depth frame: ``depth_m`` (H, W) float32 metres (NaN invalid), intrinsics, people."""

    depth_m: np.ndarray
    intrinsics: Intrinsics
    people: list = field(default_factory=list)
    frame_id: str = ''


@dataclass(frozen=True)
class Proposal:
    """What person segmentation hands to the crop step: a box and a 3-D centroid.

    box_xyxy: (4,) pixel edge coordinates. centroid_xyz: (3,) metres, optical frame (mean of the
    person's valid 3-D points; the mean of the joints when there is no mask).
    """

    box_xyxy: np.ndarray
    centroid_xyz: np.ndarray


def _mask_box(mask: np.ndarray) -> np.ndarray | None:
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    r0, r1 = np.flatnonzero(rows)[[0, -1]]
    c0, c1 = np.flatnonzero(cols)[[0, -1]]
    return np.array([c0, r0, c1 + 1, r1 + 1], dtype=np.float64)


def person_proposal(frame: FrameRecord, person: PersonRecord) -> Proposal:
    """The proposal the runtime would make for ``person`` (ground-truth segmentation).

    Box: the label's box, else the bounding box of the mask's valid pixels, else that of the
    projected visible joints grown by 10 %. Centroid: mean 3-D point of the mask's valid pixels,
    else the mean of the visible joints.

    Raises:
        ValueError: the person has neither a mask with valid pixels nor a finite visible joint.
    """
    k = frame.intrinsics
    valid_mask = None
    if person.mask is not None:
        valid_mask = person.mask & np.isfinite(frame.depth_m) & (np.nan_to_num(frame.depth_m) > 0)
        if not valid_mask.any():
            valid_mask = None
    joints = person.joints_xyz[person.visible & np.isfinite(person.joints_xyz).all(axis=1)]
    if valid_mask is None and len(joints) == 0:
        raise ValueError(f'frame {frame.frame_id!r}: a person has neither mask pixels with depth '
                         'nor a finite visible joint; cannot make a proposal')
    box = None if person.box_xyxy is None else np.asarray(person.box_xyxy, dtype=np.float64)
    if box is None and valid_mask is not None:
        box = _mask_box(valid_mask)
    if box is None:
        uv = k.project(joints)
        lo, hi = uv.min(axis=0), uv.max(axis=0) + 1.0
        pad = 0.1 * (hi - lo)
        box = np.concatenate([lo - pad, hi + pad])
    if valid_mask is not None:
        rows, cols = np.nonzero(valid_mask)
        z = frame.depth_m[rows, cols].astype(np.float64)
        pts = k.unproject(np.stack([cols, rows], axis=-1), z)
        centroid = pts.mean(axis=0)
    else:
        centroid = joints.mean(axis=0)
    return Proposal(box, centroid)
