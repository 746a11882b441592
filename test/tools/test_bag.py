"""kinpose bag: a tiny bag recorded here with rosbags (depth + CameraInfo) is replayed through
a simple real estimator; the output bag holds TF, JointState, markers, the URDF and the inputs."""
import numpy as np
import pytest

pytest.importorskip('rosbags')
from pathlib import Path  # noqa: E402

from rosbags.highlevel import AnyReader  # noqa: E402
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from kinpose_ros.core.camera import Intrinsics, depth_to_points  # noqa: E402
from kinpose_ros.core.depth import encode_depth  # noqa: E402
from kinpose_ros.core.kinematics import forward_kinematics_np  # noqa: E402
from kinpose_ros.core.skeleton import Skeleton  # noqa: E402
from kinpose_ros.inference.types import FrameResult, PoseResult  # noqa: E402

pytestmark = pytest.mark.ros
TS = get_typestore(Stores.ROS2_KILTED)
K = Intrinsics(64, 48, 60.0, 60.0, 31.5, 23.5)
FRAME = 'bag_camera_optical_frame'


class CentroidEstimator:
    """One upright person at the centroid of the valid depth (a real, if simple, estimator)."""

    def __init__(self):
        self.skeleton = Skeleton.load('body15')

    def __call__(self, depth_m, intrinsics, rgb=None, stamp=None):
        pts = depth_to_points(depth_m, intrinsics).reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(axis=1)]
        sk = self.skeleton
        p = np.zeros(sk.num_params)
        p[:3] = pts.mean(axis=0)
        p[3:6] = [-1.2092, 1.2092, -1.2092]  # body upright, facing the camera
        joints, T = forward_kinematics_np(sk, p[None])
        _, allT = forward_kinematics_np(sk, p[None], all_frames=True)
        person = PoseResult(0, joints[0], np.ones(sk.num_joints), np.zeros((sk.num_joints, 2)),
                            T[0], np.zeros(sk.num_dofs), np.zeros(sk.num_dofs), allT[0, 0])
        return FrameResult([person], {}, stamp or 0.0)


def record(path: Path, depths: list, storage=StoragePlugin.MCAP) -> None:
    Image, Info = TS.types['sensor_msgs/msg/Image'], TS.types['sensor_msgs/msg/CameraInfo']
    Header, Time = TS.types['std_msgs/msg/Header'], TS.types['builtin_interfaces/msg/Time']
    Roi = TS.types['sensor_msgs/msg/RegionOfInterest']
    with Writer(path, version=9, storage_plugin=storage) as w:
        cd = w.add_connection('/cam/depth/image_raw', 'sensor_msgs/msg/Image', typestore=TS)
        ci = w.add_connection('/cam/depth/camera_info', 'sensor_msgs/msg/CameraInfo',
                              typestore=TS)
        for i, depth in enumerate(depths):
            header = Header(stamp=Time(sec=100 + i, nanosec=5), frame_id=FRAME)
            raw = encode_depth(depth, '16UC1')
            img = Image(header=header, height=K.height, width=K.width, encoding='16UC1',
                        is_bigendian=0, step=K.width * 2, data=raw.view(np.uint8).ravel())
            info = Info(header=header, height=K.height, width=K.width,
                        distortion_model='plumb_bob', d=np.zeros(5),
                        k=np.array([K.fx, 0, K.cx, 0, K.fy, K.cy, 0, 0, 1.0]),
                        r=np.eye(3).ravel(), p=np.zeros(12), binning_x=0, binning_y=0,
                        roi=Roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            t_ns = (200 + i) * 1_000_000_000
            w.write(ci, t_ns, TS.serialize_cdr(info, info.__msgtype__))
            w.write(cd, t_ns + 1000, TS.serialize_cdr(img, img.__msgtype__))


def scene(z):
    d = np.full((K.height, K.width), np.nan, np.float32)
    d[10:40, 20:44] = z
    return d


def read_all(path: Path) -> dict:
    out: dict = {}
    with AnyReader([path], default_typestore=TS) as r:
        for c, t, raw in r.messages():
            out.setdefault(c.topic, []).append((t, r.deserialize(raw, c.msgtype)))
    return out


@pytest.mark.parametrize('storage', [StoragePlugin.MCAP, StoragePlugin.SQLITE3],
                         ids=['mcap', 'db3'])
def test_replay_writes_tf_joint_states_markers(tmp_path, storage):
    from kinpose_ros.ros.bag_replay import replay_bag
    depths = [scene(2.0), scene(2.5), np.full((K.height, K.width), np.nan, np.float32),
              scene(3.0)]
    record(tmp_path / 'in', depths, storage)
    seen = []
    s = replay_bag(tmp_path / 'in', tmp_path / 'out.mcap', CentroidEstimator(),
                   progress=lambda done, total: seen.append((done, total)))
    assert s.output == tmp_path / 'out' and (tmp_path / 'out' / 'out.mcap').is_file()
    assert (s.depth_topic, s.camera_info_topic) == ('/cam/depth/image_raw',
                                                    '/cam/depth/camera_info')
    assert (s.frames_in, s.frames_out, s.people) == (4, 3, 3)
    assert s.problems == {'no_valid_depth': 1}
    assert seen[-1] == (4, 4)
    got = read_all(tmp_path / 'out' / 'out.mcap')
    assert len(got['/cam/depth/image_raw']) == 4 and len(got['/cam/depth/camera_info']) == 4
    assert len(got['/robot_description']) == 1
    assert '<robot name="body15"' in got['/robot_description'][0][1].data
    tf = got['/tf']
    assert len(tf) == 3
    for (t_ns, msg), i in zip(tf, (0, 1, 3)):
        assert t_ns == (200 + i) * 1_000_000_000 + 1000  # the depth image's bag time
        root = [x for x in msg.transforms if x.child_frame_id == 'person_0/torso'][0]
        assert root.header.frame_id == FRAME and root.header.stamp.sec == 100 + i
        z = [2.0, 2.5, None, 3.0][i]
        assert root.transform.translation.z == pytest.approx(z, abs=1e-3)
        assert len(msg.transforms) == 17
    js = got['/joint_states']
    assert len(js) == 3 and list(js[0][1].name) == CentroidEstimator().skeleton.joint_state_names
    markers = got['/markers']
    assert len(markers) == 4  # the empty frame deletes the person's markers
    assert all(m.action == 2 for m in markers[2][1].markers)  # DELETE


def test_topic_errors_and_existing_output(tmp_path):
    from kinpose_ros.ros.bag_replay import replay_bag
    record(tmp_path / 'in', [scene(2.0)])
    with pytest.raises(ValueError, match="depth topic '/nope' is not in the bag"):
        replay_bag(tmp_path / 'in', tmp_path / 'o1', CentroidEstimator(), depth_topic='/nope')
    (tmp_path / 'o2').mkdir()
    with pytest.raises(FileExistsError, match='exists'):
        replay_bag(tmp_path / 'in', tmp_path / 'o2.mcap', CentroidEstimator())
