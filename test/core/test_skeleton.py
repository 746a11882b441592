import numpy as np
import pytest

from kinpose_ros.core.skeleton import Skeleton, SkeletonError

SHIPPED = ['body15', 'body17_h36m', 'hand21', 'toy_level1', 'toy_level2', 'toy_level3',
           'toy_level4']


def minimal(**over):
    data = {'name': 't', 'root': {'joint': 'a'},
            'joints': [{'name': 'a', 'parent': None, 'offset': [0, 0, 0]},
                       {'name': 'b', 'parent': 'a', 'offset': [0, 0, 1],
                        'dofs': [{'name': 'b_x', 'axis': 'x', 'limits': [-1, 1]}]},
                       {'name': 'c', 'parent': 'b', 'offset': [0, 0, 1]}]}
    data.update(over)
    return data


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_skeletons_load_and_round_trip(name):
    sk = Skeleton.load(name)
    again = Skeleton.from_dict(sk.to_dict())
    assert again.joint_names == sk.joint_names
    assert again.param_names == sk.param_names
    np.testing.assert_allclose(again.frame_offsets, sk.frame_offsets)
    assert len(sk.param_names) == sk.num_params
    assert np.all(sk.dof_lower <= sk.dof_upper)


def test_body15_is_the_itop_joint_set():
    sk = Skeleton.load('body15')
    assert sk.joint_names == ['head', 'neck', 'r_shoulder', 'l_shoulder', 'r_elbow', 'l_elbow',
                              'r_hand', 'l_hand', 'torso', 'r_hip', 'l_hip', 'r_knee',
                              'l_knee', 'r_foot', 'l_foot']
    dofs = {n: sum(d.startswith(n) for d in sk.dof_names) for n in
            ('l_shoulder', 'r_shoulder', 'l_hip', 'r_hip', 'l_elbow', 'r_knee', 'spine', 'neck')}
    assert dofs == {'l_shoulder': 3, 'r_shoulder': 3, 'l_hip': 3, 'r_hip': 3, 'l_elbow': 1,
                    'r_knee': 1, 'spine': 3, 'neck': 3}
    flip = sk.flip_permutation
    assert sk.joint_names[flip[sk.joint_names.index('l_hand')]] == 'r_hand'


def test_body17_h36m_matches_the_paper_model():
    sk = Skeleton.load('body17_h36m')
    assert sk.num_joints == 17 and sk.num_params == 27  # Zhou et al. 2016, sec. 4.2
    assert sk.parents.tolist() == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
    from kinpose_ros.core.kinematics import forward_kinematics_np

    rng = np.random.default_rng(0)
    p = np.zeros((20, 27))
    p[:, 6:] = rng.uniform(sk.dof_lower, sk.dof_upper, size=(20, sk.num_dofs))
    j, _ = forward_kinematics_np(sk, p)
    names = sk.joint_names
    mid = (j[:, names.index('hip')] + j[:, names.index('thorax')]) / 2
    np.testing.assert_allclose(j[:, names.index('spine')], mid, atol=1e-12)  # torso midpoint


def test_hand_and_toys_sizes():
    assert Skeleton.load('hand21').num_joints == 21
    assert [Skeleton.load(f'toy_level{i}').num_params for i in (1, 2, 3, 4)] == [4, 6, 8, 10]


@pytest.mark.parametrize('change, message', [
    ({'joints': minimal()['joints'] + [{'name': 'c', 'parent': 'a'}]}, 'duplicate joint'),
    ({'joints': minimal()['joints'] + [{'name': 'd', 'parent': 'zz'}]}, 'unknown parent'),
    ({'joints': minimal()['joints'] + [{'name': 'd', 'parent': 'e'},
                                       {'name': 'e', 'parent': 'd'}]}, 'cycle'),
    ({'joints': [{'name': 'a', 'parent': None},
                 {'name': 'b', 'parent': 'a',
                  'dofs': [{'name': 'q', 'axis': 'x', 'limits': [1, -1]}]}]}, 'out of order'),
    ({'joints': [{'name': 'a', 'parent': None},
                 {'name': 'b', 'parent': 'a', 'dofs': [{'name': 'q', 'axis': 'w'}]}]}, 'axis'),
    ({'root': {'joint': 'nope'}}, 'root joint'),
    ({'scale': -1}, 'scale'),
])
def test_invalid_definitions_name_the_problem(change, message):
    with pytest.raises(SkeletonError, match=message):
        Skeleton.from_dict(minimal(**change))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        Skeleton.load(tmp_path / 'nope.yaml')
