"""pose_node with the real PoseEstimator (tiny random-weight A2J, ONNX Runtime) in process.

People are proposed by a test segmenter (the bounding box of the valid depth) so this runs
whether or not core.segmentation exists; the rest is the production path: decode, crop, network,
decode, IK, filter, TF/JointState/markers. Random weights make the pose meaningless, so the
checks are structural: tf2 accepts every frame, the tree composes to the estimator's joints,
names, stamps and frames are right, and the node keeps up.
"""
import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from rig import Rig, stamp_time
from tf_rules import compose, tf2_accepts

from kinpose_ros.core.camera import SENSOR_PRESETS, depth_to_points
from kinpose_ros.inference.sample_frames import SampleProposal
from kinpose_ros.ros.pose_node import PoseNode

pytestmark = pytest.mark.ros
K = SENSOR_PRESETS['itop']


class BoxSegmenter:
    """One proposal: the bounding box of the valid depth and its 3-D centroid."""

    def segment(self, depth_m, intrinsics):
        valid = np.isfinite(depth_m)
        if not valid.any():
            return []
        rows, cols = np.nonzero(valid)
        pts = depth_to_points(depth_m, intrinsics)[valid]
        return [SampleProposal(np.array([cols.min(), rows.min(), cols.max() + 1,
                                         rows.max() + 1], float), valid, pts.mean(axis=0))]


@pytest.fixture(scope='module')
def estimator(tmp_path_factory):
    torch = pytest.importorskip('torch')
    from kinpose_ros.inference.estimator import EstimatorConfig, PoseEstimator
    from kinpose_ros.inference.model_export import export_model, random_model

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp('model') / 'tiny_a2j.onnx'
    model, config, sk = random_model('a2j', seed=3, input_size=(64, 64), width=0.25,
                                     head_width=16, head_depth=1)
    export_model(model, 'a2j', config, sk, out, dynamic_batch_max=4, check=False)
    return PoseEstimator(out, EstimatorConfig(backend='onnxruntime-cpu', threads=1),
                         segmenter=BoxSegmenter())


def person_depth(x0=130, z=3.0):
    depth = np.full((K.height, K.width), np.nan, np.float32)
    depth[40:220, x0:x0 + 60] = z
    return depth


def test_real_estimator_outputs_are_valid_ros(estimator):
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    rig = Rig(ctx)
    try:
        node = PoseNode(estimator, context=ctx,
                        parameter_overrides=[Parameter('publish.overlay', value=True)])
        rig.add(node)
        assert rig.connected()
        sk = estimator.skeleton
        stamps = [stamp_time(300, k * 33_000_000) for k in range(6)]
        for k, s in enumerate(stamps):
            rig.publish(person_depth(120 + 3 * k), stamp=s, intrinsics=K)
            assert rig.spin_until(lambda k=k: len(rig.received['tf']) > k, 20), \
                node.problems.counts
        assert rig.spin_until(lambda: len(rig.received['joint_states']) >= 6
                              and rig.received['overlay'], 10)
        assert node.problems.counts == {}
        tf = rig.received['tf'][-1]
        assert all(tf2_accepts(t) for m in rig.received['tf'] for t in m.transforms)
        assert {t.header.stamp.nanosec for t in tf.transforms} == {stamps[-1].nanosec}
        poses = compose(tf.transforms, 'test_camera_depth_optical_frame')
        ids = {name.split('/')[0] for name in poses if name.startswith('person_')}
        assert len(ids) == 1  # one track through the six frames
        pid = ids.pop()
        root = poses[f'{pid}/torso'][:3, 3]
        assert 1.5 < root[2] < 5.0 and np.isfinite(root).all()
        for name in sk.frame_names:
            assert f'{pid}/{name}' in poses
        js = rig.received['joint_states'][-1]
        assert list(js.name) == sk.joint_state_names and len(js.velocity) == sk.num_dofs
        assert np.isfinite(js.position).all() and np.isfinite(js.velocity).all()
        assert node.wait_idle(5)
        figures = node.figures()
        assert figures['processed'] == 6 and figures['estimator_ms_p50'] > 0
        assert 'estimator.infer_ms_p50' in figures
    finally:
        rig.destroy()
        rclpy.shutdown(context=ctx)
