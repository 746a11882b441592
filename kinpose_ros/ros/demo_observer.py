"""A listener node that scores the pose node against the synthetic camera's ground truth.

Used by ``kinpose demo`` and ``kinpose bench node``. It records, per image stamp, the TF the
pose node published (and when it arrived), the ground-truth joints
(``ground_truth/joints``, see :mod:`~kinpose_ros.ros.synthetic_camera_node`), the pose node's
diagnostics, and a few depth images for drawing. Scoring composes each person's keypoint frames
from TF (as a tf2 buffer would) and matches people to the truth greedily by mean joint distance.
"""
from __future__ import annotations

import re
import time
from collections import OrderedDict

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from kinpose_ros.core.rotations import quaternion_to_matrix
from kinpose_ros.ros.conversions import tf_qos

_PERSON = re.compile(r'^(?P<prefix>.*)person_(?P<id>\d+)/(?P<joint>[^/]+)$')


def stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _matrix(t) -> np.ndarray:
    tr, q = t.transform.translation, t.transform.rotation
    T = np.eye(4)
    T[:3, :3] = quaternion_to_matrix(np.array([q.x, q.y, q.z, q.w]))
    T[:3, 3] = [tr.x, tr.y, tr.z]
    return T


def compose_transforms(transforms, root: str) -> dict[str, np.ndarray]:
    """Pose in ``root`` of every frame connected to it: {frame: (4, 4)} (cycles and unknown
    parents are left out)."""
    by_child = {t.child_frame_id: t for t in transforms}
    out: dict[str, np.ndarray] = {root: np.eye(4)}

    def pose(frame: str, depth: int) -> np.ndarray | None:
        if frame in out:
            return out[frame]
        t = by_child.get(frame)
        if t is None or depth > 64:
            return None
        parent = pose(t.header.frame_id, depth + 1)
        if parent is None:
            return None
        out[frame] = parent @ _matrix(t)
        return out[frame]
    for child in by_child:
        pose(child, 0)
    return out


def people_from_tf(transforms, root: str, joint_names: list) -> dict[int, np.ndarray]:
    """{person id: (J, 3) keypoints in ``root``} from default-named frames (NaN if missing)."""
    poses = compose_transforms(transforms, root)
    people: dict[int, np.ndarray] = {}
    index = {n: j for j, n in enumerate(joint_names)}
    for frame, T in poses.items():
        m = _PERSON.match(frame)
        if m is None or m['joint'] not in index:
            continue
        joints = people.setdefault(int(m['id']), np.full((len(joint_names), 3), np.nan))
        joints[index[m['joint']]] = T[:3, 3]
    return people


def match_people(truth: list, predicted: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """Greedy pairs (predicted (J, 3) or all-NaN, true (J, 3)), nearest mean distance first;
    a true person without a prediction gets NaN (counts as wrong)."""
    pairs, free = [], dict(predicted)
    costs = []
    for t, gt in enumerate(truth):
        for pid, pred in free.items():
            costs.append((float(np.nanmean(np.linalg.norm(pred - gt, axis=1))), t, pid))
    used_t, used_p = set(), set()
    for cost, t, pid in sorted(costs, key=lambda c: (np.isnan(c[0]), c[0])):
        if t in used_t or pid in used_p or not np.isfinite(cost):
            continue
        used_t.add(t)
        used_p.add(pid)
        pairs.append((predicted[pid], truth[t]))
    for t, gt in enumerate(truth):
        if t not in used_t:
            pairs.append((np.full_like(gt, np.nan), gt))
    return pairs


class DemoObserver(Node):
    """Records TF, ground truth, diagnostics and (a few) depth images, keyed by image stamp."""

    def __init__(self, camera_frame: str, keep_images: int = 4, **kwargs) -> None:
        super().__init__('kinpose_demo_observer', **kwargs)
        self.camera_frame = camera_frame
        self.tf: dict[int, tuple[float, list]] = {}        # stamp -> (arrival, transforms)
        self.truth: dict[int, tuple[list, list]] = {}      # stamp -> (joint names, [J x 3])
        self.images: OrderedDict = OrderedDict()           # stamp -> Image (last few)
        self.camera_info: CameraInfo | None = None
        self.diagnostics: dict = {}
        self._keep = keep_images
        self.create_subscription(TFMessage, '/tf', self._on_tf, tf_qos())
        self.create_subscription(MarkerArray, 'ground_truth/joints', self._on_truth, 10)
        self.create_subscription(Image, 'depth/image_raw', self._on_image,
                                 qos_profile_sensor_data)
        self.create_subscription(CameraInfo, 'depth/camera_info', self._on_info,
                                 qos_profile_sensor_data)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)

    def _on_tf(self, msg: TFMessage) -> None:
        if msg.transforms:
            self.tf[stamp_ns(msg.transforms[0].header.stamp)] = (time.time(),
                                                                 list(msg.transforms))

    def _on_truth(self, msg: MarkerArray) -> None:
        spheres = [m for m in msg.markers if m.type == Marker.SPHERE_LIST]
        if not msg.markers:
            return
        names = spheres[0].text.split(',') if spheres else []
        people = [np.array([[p.x, p.y, p.z] for p in m.points]) for m in spheres]
        self.truth[stamp_ns(msg.markers[0].header.stamp)] = (names, people)

    def _on_image(self, msg: Image) -> None:
        self.images[stamp_ns(msg.header.stamp)] = msg
        while len(self.images) > self._keep:
            self.images.popitem(last=False)

    def _on_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if 'pose estimation' in status.name:
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    # ------------------------------------------------------------------ figures
    def latencies_ms(self, since_ns: int = 0) -> np.ndarray:
        """Arrival of each TF message minus its image stamp (same-machine clocks), ms."""
        return np.array([(arrival - s * 1e-9) * 1e3 for s, (arrival, _) in self.tf.items()
                         if s >= since_ns])

    def scored_pairs(self, since_ns: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
        """(pred (N, J, 3), true (N, J, 3), frames) over stamps with both TF and ground truth."""
        preds, gts, frames = [], [], 0
        for s, (_, transforms) in sorted(self.tf.items()):
            if s < since_ns or s not in self.truth:
                continue
            names, truth = self.truth[s]
            if not truth:
                continue
            frames += 1
            predicted = people_from_tf(transforms, self.camera_frame, names)
            for pred, gt in match_people(truth, predicted):
                preds.append(pred)
                gts.append(gt)
        if not preds:
            return np.zeros((0, 0, 3)), np.zeros((0, 0, 3)), 0
        return np.array(preds), np.array(gts), frames
