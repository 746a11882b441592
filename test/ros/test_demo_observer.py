"""Scoring helpers of the demo observer: TF composition, people from frame names, matching."""
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from people import body_params, pose_result
from std_msgs.msg import Header

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.evaluation import map_at
from kinpose_ros.ros.demo_observer import compose_transforms, match_people, people_from_tf
from kinpose_ros.ros.messages import PoseMessages

pytestmark = pytest.mark.ros
CAM = 'cam'


def test_people_from_tf_recovers_the_keypoints():
    sk = Skeleton.load('body15')
    results = [pose_result(sk, 2, body_params(sk, [0.4, 0.1, 3.0])),
               pose_result(sk, 5, body_params(sk, [-0.6, 0.2, 2.2], yaw=1.0))]
    tf, _ = PoseMessages(sk).tf_message(results, Header(stamp=Time(sec=1), frame_id=CAM))
    people = people_from_tf(tf.transforms, CAM, sk.joint_names)
    assert sorted(people) == [2, 5]
    for r in results:
        np.testing.assert_allclose(people[r.person_id], r.joints_xyz, atol=1e-9)
    assert compose_transforms(tf.transforms, 'elsewhere') == {'elsewhere': pytest.approx(
        np.eye(4))}


def test_match_people_pairs_nearest_and_counts_misses():
    a, b = np.zeros((15, 3)), np.full((15, 3), 5.0)
    truth = [a, b, a + 10]
    predicted = {7: b + 0.01, 3: a - 0.02}
    pairs = match_people(truth, predicted)
    assert len(pairs) == 3
    pred, gt = np.array([p for p, _ in pairs]), np.array([g for _, g in pairs])
    score, _ = map_at(pred, gt, 0.10)
    assert score == pytest.approx(2 / 3)  # the third person was not found
