"""The synthetic camera node: files and generated scenes, in process and as a console script;
and the whole pipeline across three processes (camera | pose node | recorder)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from people import all_frame_poses
from rclpy.parameter import Parameter
from rig import Rig
from scene import INTRINSICS, CentroidEstimator, box_depth_m, centroid
from tf_rules import compose, tf2_accepts
from visualization_msgs.msg import Marker, MarkerArray

from kinpose_ros.core.depth import encode_depth
from kinpose_ros.ros.camera_sources import FileSource, read_depth_file
from kinpose_ros.ros.conversions import camera_info_to_intrinsics, depth_image_to_metres
from kinpose_ros.ros.pose_node import PoseNode
from kinpose_ros.ros.synthetic_camera_node import SyntheticCameraNode

pytestmark = pytest.mark.ros
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def params(**kw):
    return [Parameter(k, value=v) for k, v in kw.items()]


def write_png(path, raw_uint16):
    from PIL import Image
    Image.fromarray(raw_uint16.astype(np.uint16)).save(path)


def test_file_source_reads_png_and_npy(tmp_path):
    depth = box_depth_m(z_m=2.345)
    raw = encode_depth(depth, '16UC1')
    write_png(tmp_path / 'a.png', raw)
    np.save(tmp_path / 'b.npy', raw)
    np.save(tmp_path / 'c.npy', depth)
    (tmp_path / 'notes.txt').write_text('ignored')
    src = FileSource(tmp_path, fx=70.0, cx=39.5, cy=29.5)
    assert [f.name for f in src.frames] == ['a.png', 'b.npy', 'c.npy']
    for f in src.frames:
        np.testing.assert_allclose(f.depth_m, depth, atol=6e-4)
        assert f.intrinsics == INTRINSICS
    assert src[4].name == 'b.npy'  # loops
    sr305 = read_depth_file(tmp_path / 'b.npy', depth_unit_m=0.000125)
    np.testing.assert_allclose(np.nanmax(sr305), 2.345 / 8, atol=1e-4)
    with pytest.raises(ValueError, match='unknown sensor preset'):
        FileSource(tmp_path, preset='nope')
    with pytest.raises(FileNotFoundError):
        FileSource(tmp_path / 'missing')


def test_real_itop_frame_loops(shared_data):
    src = FileSource(shared_data / 'real_depth' / 'itop_side_train_000053.npy', preset='itop')
    f = src[0]
    assert f.depth_m.shape == (240, 320) and f.intrinsics.fx == pytest.approx(285.714)
    assert 1.0 < np.nanmedian(f.depth_m) < 6.0


def test_camera_node_publishes_files_with_truthful_camera_info(context, tmp_path):
    depth = box_depth_m(z_m=3.2)
    np.save(tmp_path / 'frame.npy', encode_depth(depth, '16UC1'))
    cam = SyntheticCameraNode(context=context, parameter_overrides=params(
        source='files', path=str(tmp_path), fx=70.0, cx=39.5, cy=29.5, rate_hz=50.0,
        frame_id='cam_optical'))
    rig = Rig(context)
    got = {'depth': [], 'info': [], 'truth': []}
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image
    rig.listener.create_subscription(Image, 'depth/image_raw', got['depth'].append,
                                     qos_profile_sensor_data)
    rig.listener.create_subscription(CameraInfo, 'depth/camera_info', got['info'].append,
                                     qos_profile_sensor_data)
    rig.listener.create_subscription(MarkerArray, 'ground_truth/joints', got['truth'].append, 10)
    rig.add(cam)
    try:
        assert rig.spin_until(lambda: len(got['depth']) >= 3 and got['info'] and got['truth'])
        msg = got['depth'][-1]
        assert msg.header.frame_id == 'cam_optical' and msg.encoding == '16UC1'
        np.testing.assert_allclose(depth_image_to_metres(msg), depth, atol=6e-4, equal_nan=True)
        assert camera_info_to_intrinsics(got['info'][-1]) == INTRINSICS
        stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in got['depth']]
        assert len(set(stamps)) == len(stamps)  # a new stamp per publication
        truth = got['truth'][-1].markers
        assert [m.action for m in truth] == [Marker.DELETEALL]  # files: no known people
    finally:
        rig.destroy()


def test_camera_node_synth_ground_truth(context):
    pytest.importorskip('kinpose_ros.data.synth.generator')
    from kinpose_ros.ros.camera_sources import SynthSource
    src = SynthSource(count=2, seed=5, noise=False, clutter=False)
    cam = SyntheticCameraNode(src, context=context, parameter_overrides=params(
        rate_hz=40.0, hold_frames=2, max_frames=6))
    rig = Rig(context)
    truth = []
    rig.listener.create_subscription(MarkerArray, 'ground_truth/joints', truth.append, 10)
    rig.add(cam)
    try:
        assert rig.spin_until(lambda: cam.done and len(truth) == 6, 15)
        rig.spin_for(0.3)
        assert cam.published == 6 and len(truth) == 6
        for k, arr in enumerate(truth):
            frame = src[k // 2]
            spheres = [m for m in arr.markers if m.type == Marker.SPHERE_LIST]
            assert len(spheres) == len(frame.joints_xyz) >= 1
            pts = np.array([[p.x, p.y, p.z] for p in spheres[0].points])
            np.testing.assert_allclose(pts, frame.joints_xyz[0], atol=1e-6)
            assert spheres[0].text.split(',') == src.joint_names
    finally:
        rig.destroy()


def run_node(module, *ros_args, env):
    return subprocess.Popen([sys.executable, '-m', module, '--ros-args', *ros_args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_three_processes_camera_node_recorder(context, tmp_path, ros_env):
    """Camera console script | pose node (here) | recorder process: TF, JointState and markers
    arrive in another process and match the ground truth."""
    depth = box_depth_m(z_m=2.8, tilt=0.005)
    np.save(tmp_path / 'scene.npy', encode_depth(depth, '16UC1'))
    truth_root = centroid(read_depth_file(tmp_path / 'scene.npy'))
    env = dict(os.environ, **ros_env, PYTHONPATH=f'{REPO}{os.pathsep}{HERE}')
    out = tmp_path / 'recorded.json'
    recorder = subprocess.Popen([sys.executable, str(HERE / 'topic_recorder.py'), str(out),
                                 '--frames', '5', '--timeout', '40'], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    camera = run_node('kinpose_ros.ros.synthetic_camera_node', '-p', 'source:=files',
                      '-p', f'path:={tmp_path / "scene.npy"}', '-p', 'fx:=70.0',
                      '-p', 'cx:=39.5', '-p', 'cy:=29.5', '-p', 'rate_hz:=20.0', env=env)
    est = CentroidEstimator()
    node = PoseNode(est, context=context)
    from rclpy.executors import SingleThreadedExecutor
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 45
        while recorder.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert recorder.wait(5) == 0, recorder.stdout.read()
        got = json.loads(out.read_text())
        assert len(got['tf']) >= 5, f'recorder got {len(got["tf"])} TF messages'
    finally:
        camera.send_signal(signal.SIGINT)
        cam_rc = camera.wait(15)
        executor.shutdown()
        node.destroy_node()
        if recorder.poll() is None:
            recorder.kill()
    assert cam_rc == 0, camera.stdout.read()
    from builtin_interfaces.msg import Time

    from kinpose_ros.ros.conversions import make_transform_stamped
    last = [make_transform_stamped(Time(sec=t['stamp'][0], nanosec=t['stamp'][1]), t['parent'],
                                   t['child'], t['translation'], t['rotation'])
            for t in got['tf'][-1]]
    assert all(tf2_accepts(t) for t in last)
    poses = compose(last, 'camera_depth_optical_frame')
    truth = all_frame_poses(est.skeleton, est.params_at(truth_root))
    for f, name in enumerate(est.skeleton.frame_names):
        np.testing.assert_allclose(poses[f'person_0/{name}'], truth[f], atol=3e-3)
    js = got['joint_states'][-1]
    assert js['name'] == est.skeleton.joint_state_names and js['frame_id'] == 'person_0/torso'
    assert any(m['type'] == Marker.SPHERE and m['frame_id'] == 'camera_depth_optical_frame'
               for arr in got['markers'] for m in arr)
