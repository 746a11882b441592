"""tf2's acceptance rules and tree composition, for tests that stand in for a tf2 listener."""
from __future__ import annotations

import numpy as np

from kinpose_ros.core.rotations import quaternion_to_matrix


def tf2_accepts(transform) -> bool:
    """tf2 silently drops transforms failing these: finite, unit quaternion (|q|^2 within
    0.01 of 1), non-empty and different frame ids."""
    t, q = transform.transform.translation, transform.transform.rotation
    values = np.array([t.x, t.y, t.z, q.x, q.y, q.z, q.w])
    parent, child = transform.header.frame_id, transform.child_frame_id
    return (bool(np.isfinite(values).all()) and abs(float(values[3:] @ values[3:]) - 1.0) < 0.01
            and parent != child and bool(parent) and bool(child))


def to_matrix(transform) -> np.ndarray:
    t, q = transform.transform.translation, transform.transform.rotation
    T = np.eye(4)
    T[:3, :3] = quaternion_to_matrix(np.array([q.x, q.y, q.z, q.w]))
    T[:3, 3] = [t.x, t.y, t.z]
    return T


def compose(transforms, root: str) -> dict[str, np.ndarray]:
    """Absolute pose in ``root`` of every frame reachable from it (as a tf2 buffer would)."""
    by_child = {t.child_frame_id: t for t in transforms}
    assert len(by_child) == len(transforms), 'a child frame appears twice'
    out: dict[str, np.ndarray] = {root: np.eye(4)}

    def pose(frame: str, depth: int = 0) -> np.ndarray:
        if frame in out:
            return out[frame]
        assert depth < 100 and frame in by_child, f'{frame} is not connected to {root}'
        t = by_child[frame]
        out[frame] = pose(t.header.frame_id, depth + 1) @ to_matrix(t)
        return out[frame]
    for child in by_child:
        pose(child)
    return out
