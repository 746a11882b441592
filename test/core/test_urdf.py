import xml.etree.ElementTree as ET

import numpy as np

from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.rotations import axis_angle_to_matrix
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.core.urdf import skeleton_to_urdf


def urdf_fk(root: ET.Element, angles: dict, prefix: str) -> dict:
    """Minimal URDF forward kinematics (what robot_state_publisher does)."""
    joints = {j.find('child').get('link'): j for j in root.findall('joint')}
    cache = {}

    def pose(link):
        if link in cache:
            return cache[link]
        if link not in joints:
            cache[link] = np.eye(4)
            return cache[link]
        j = joints[link]
        T = pose(j.find('parent').get('link')).copy()
        local = np.eye(4)
        local[:3, 3] = [float(v) for v in j.find('origin').get('xyz').split()]
        if j.get('type') == 'revolute':
            axis = np.array([float(v) for v in j.find('axis').get('xyz').split()])
            R = np.eye(4)
            R[:3, :3] = axis_angle_to_matrix(axis * angles[j.get('name')])
            local = local @ R
        cache[link] = T @ local
        return cache[link]

    return {link.get('name')[len(prefix):]: pose(link.get('name'))
            for link in root.findall('link')}


def test_urdf_reproduces_fk_from_joint_states():
    sk = Skeleton.load('body15')
    root = ET.fromstring(skeleton_to_urdf(sk, prefix='person_0/'))
    revolute = [j for j in root.findall('joint') if j.get('type') == 'revolute']
    assert [j.get('name') for j in revolute] == sk.joint_state_names
    for j in revolute:
        lim = j.find('limit')
        k = sk.dof_names.index(j.get('name'))
        assert float(lim.get('lower')) == sk.dof_lower[k]
    rng = np.random.default_rng(0)
    p = np.zeros((1, sk.num_params))
    p[0, 6:] = rng.uniform(sk.dof_lower, sk.dof_upper)
    joints, _ = forward_kinematics_np(sk, p)
    poses = urdf_fk(root, dict(zip(sk.dof_names, p[0, 6:])), 'person_0/')
    for name, xyz in zip(sk.joint_names, joints[0]):
        np.testing.assert_allclose(poses[name][:3, 3], xyz, atol=1e-5)
