"""PoseResult -> TF / JointState / markers / URDF / diagnostics, against FK ground truth."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from people import all_frame_poses, body_params, pose_result
from std_msgs.msg import Header
from tf_rules import compose, tf2_accepts
from visualization_msgs.msg import Marker

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.ros.messages import (
    MarkerStyle,
    PoseMessages,
    diagnostics_message,
    person_colour,
    rename_urdf_links,
)
from kinpose_ros.ros.person_frames import FrameNaming

pytestmark = pytest.mark.ros

CAMERA = 'cam_depth_optical_frame'
HEADER = Header(stamp=Time(sec=100, nanosec=250), frame_id=CAMERA)


@pytest.fixture(scope='module')
def sk():
    return Skeleton.load('body15')


@pytest.fixture(scope='module')
def people(sk):
    p1 = body_params(sk, [0.3, 0.1, 2.5], yaw=0.4)
    p2 = body_params(sk, [-0.8, 0.2, 3.5], yaw=-1.0)
    return [(pose_result(sk, 1, p1), p1, 1.0), (pose_result(sk, 7, p2, scale=1.1), p2, 1.1)]


def test_tf_tree_reproduces_every_frame(sk, people):
    msgs = PoseMessages(sk, FrameNaming(prefix='kp/'))
    tf, skipped = msgs.tf_message([r for r, _, _ in people], HEADER)
    assert skipped == []
    assert len(tf.transforms) == 2 * sk.num_frames
    for t in tf.transforms:
        assert tf2_accepts(t), t
        assert t.header.stamp == HEADER.stamp
    poses = compose(tf.transforms, CAMERA)
    for r, params, scale in people:
        truth = all_frame_poses(sk, params, scale)
        for f, name in enumerate(sk.frame_names):
            got = poses[f'kp/person_{r.person_id}/{name}']
            np.testing.assert_allclose(got, truth[f], atol=1e-9, err_msg=name)
    roots = [t for t in tf.transforms if t.header.frame_id == CAMERA]
    assert [t.child_frame_id for t in roots] == ['kp/person_1/torso', 'kp/person_7/torso']
    parents = {t.child_frame_id: t.header.frame_id for t in tf.transforms}
    assert parents['kp/person_1/l_elbow'] == 'kp/person_1/l_shoulder'
    assert parents['kp/person_1/neck'] == 'kp/person_1/spine'


def test_rep155_naming(sk, people):
    r, params, scale = people[0]
    msgs = PoseMessages(sk, FrameNaming(rep155=True))
    transforms = msgs.transforms(r, HEADER)
    assert transforms[0].header.frame_id == CAMERA and transforms[0].child_frame_id == 'body_b1'
    assert transforms[1].header.frame_id == 'body_b1'
    assert transforms[1].child_frame_id == 'torso_b1'
    t = transforms[1].transform
    assert (t.translation.x, t.translation.y, t.translation.z) == pytest.approx((0, 0, 0),
                                                                               abs=1e-12)
    assert abs(t.rotation.w) == pytest.approx(1.0)
    poses = compose(transforms, CAMERA)
    np.testing.assert_allclose(poses['l_hand_b1'],
                               all_frame_poses(sk, params)[sk.frame_names.index('l_hand')],
                               atol=1e-9)
    assert msgs.joint_state(r, HEADER).header.frame_id == 'torso_b1'


def test_keypoints_only_when_angles_unusable(sk, people):
    r, params, _ = people[0]
    broken = pose_result(sk, 2, params)
    broken.joint_angles = np.full(sk.num_dofs, np.nan)
    transforms = PoseMessages(sk).transforms(broken, HEADER)
    assert len(transforms) == sk.num_joints
    poses = compose(transforms, CAMERA)
    for j, name in enumerate(sk.joint_names):
        np.testing.assert_allclose(poses[f'person_2/{name}'], broken.joint_transforms[j],
                                   atol=1e-9)
    parents = {t.child_frame_id: t.header.frame_id for t in transforms}
    assert parents['person_2/neck'] == 'person_2/torso'  # nearest keypoint ancestor


def test_non_finite_person_is_skipped_not_published(sk, people):
    bad = pose_result(sk, 3, people[0][1])
    bad.joint_transforms = bad.joint_transforms.copy()
    bad.joint_transforms[4, 0, 3] = np.nan
    tf, skipped = PoseMessages(sk).tf_message([people[0][0], bad], HEADER)
    assert [pid for pid, _ in skipped] == [3] and 'not finite' in skipped[0][1]
    assert len(tf.transforms) == sk.num_frames
    assert all(tf2_accepts(t) for t in tf.transforms)


def test_joint_state(sk, people):
    r, params, _ = people[1]
    js = PoseMessages(sk).joint_state(r, HEADER)
    assert js.header.stamp == HEADER.stamp and js.header.frame_id == 'person_7/torso'
    assert list(js.name) == sk.joint_state_names
    np.testing.assert_allclose(js.position, params[-sk.num_dofs:])
    np.testing.assert_allclose(js.velocity, 0.1)
    r2 = pose_result(sk, 8, params)
    r2.joint_angles = r2.joint_angles[:-1]
    assert PoseMessages(sk).joint_state(r2, HEADER) is None


def test_markers(sk, people):
    style = MarkerStyle(joint_diameter_m=0.1, lifetime_s=0.5)
    r = pose_result(sk, 4, people[0][1], confidence=1.0)
    r.confidence = np.linspace(0.0, 1.0, sk.num_joints)
    r.joints_xyz = r.joints_xyz.copy()
    r.joints_xyz[3] = np.nan
    arr = PoseMessages(sk, style=style).markers([r], HEADER, removed_ids=[9], delete_all=True)
    J = sk.num_joints
    assert arr.markers[0].action == Marker.DELETEALL
    deletes = arr.markers[1:1 + J + 2]
    assert all(m.action == Marker.DELETE and m.ns == 'person_9' for m in deletes)
    assert [m.id for m in deletes] == list(range(J + 2))
    mine = arr.markers[1 + J + 2:]
    assert len(mine) == J + 2
    for m in mine:
        assert m.header.frame_id == CAMERA and m.header.stamp == HEADER.stamp
        assert m.ns == 'person_4'
    spheres = mine[:J]
    assert spheres[3].action == Marker.DELETE  # the NaN joint
    ok = [j for j in range(J) if j != 3]
    for j in ok:
        assert spheres[j].type == Marker.SPHERE
        np.testing.assert_allclose([spheres[j].pose.position.x, spheres[j].pose.position.y,
                                    spheres[j].pose.position.z], r.joints_xyz[j])
        assert spheres[j].lifetime.nanosec == 500_000_000
    alphas = [spheres[j].color.a for j in ok]
    sizes = [spheres[j].scale.x for j in ok]
    assert alphas == sorted(alphas) and alphas[0] == pytest.approx(0.25)
    assert sizes[-1] == pytest.approx(0.1) and sizes[0] == pytest.approx(0.04)
    bones = mine[J]
    assert bones.type == Marker.LINE_LIST
    n_ok_bones = sum(1 for a, b in sk.bones if 3 not in (a, b))
    assert len(bones.points) == 2 * n_ok_bones == len(bones.colors)
    assert mine[J + 1].type == Marker.TEXT_VIEW_FACING and mine[J + 1].text.startswith('4 (')
    c4, c5 = person_colour(4), person_colour(5)
    assert (c4.r, c4.g, c4.b) != (c5.r, c5.g, c5.b)
    assert (spheres[0].color.r, spheres[0].color.g) == (c4.r, c4.g)


def test_urdf_default_and_rep155(sk):
    text = PoseMessages(sk).urdf().data
    links = {e.get('name') for e in ET.fromstring(text).iter('link')}
    assert set(sk.frame_names) <= links
    text155 = PoseMessages(sk, FrameNaming(rep155=True)).urdf(person_id=5).data
    robot = ET.fromstring(text155)
    links155 = {e.get('name') for e in robot.iter('link')}
    assert {f'{n}_b5' for n in sk.frame_names} <= links155
    refs = {el.get('link') for j in robot.iter('joint') for el in j if el.tag in ('parent',
                                                                               'child')}
    assert refs <= links155
    assert rename_urdf_links(text, str).count('<link') == text.count('<link')


def test_diagnostics():
    arr = diagnostics_message(HEADER, 'kinpose_ros: pose_node', 1, 'dropping frames',
                              {'rate_hz': 29.51234, 'dropped': 3})
    s = arr.status[0]
    assert s.level == DiagnosticStatus.WARN and s.name == 'kinpose_ros: pose_node'
    assert [(k.key, k.value) for k in s.values] == [('rate_hz', '29.51'), ('dropped', '3')]
    assert arr.header.stamp == HEADER.stamp
