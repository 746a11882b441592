"""PoseEstimator on stand-in frames: 0/1/3 people, stable ids, bad input, native angles, and
exact recovery of known poses through an oracle backend (the network replaced by the truth)."""
import numpy as np
import pytest
import torch

from kinpose_ros.core.camera import SENSOR_PRESETS
from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.crop_geometry import make_crops
from kinpose_ros.inference.estimator import STAGES, EstimatorConfig, PoseEstimator
from kinpose_ros.inference.model_card import ModelCard
from kinpose_ros.inference.sample_frames import person_params, sample_frame

torch.set_num_threads(1)
K = SENSOR_PRESETS['itop']
SK = Skeleton.load('body15')
PLACES = [(-1.1, 3.0, 0.3), (0.1, 2.4, 0.0), (1.2, 4.0, -0.4)]


def people(places, seed=0, spread=0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([person_params(SK, x, z, yaw, 1.0, rng, spread) for x, z, yaw in places])


def by_distance(props):
    """Proposals in the estimator's order (nearest centroid first)."""
    return sorted(props, key=lambda p: float(np.linalg.norm(p.centroid_xyz)))


class OracleBackend:
    """Returns what a perfect network would: the true joints of the frame's people, encoded in
    the card's output units for the crops the estimator makes (same proposals, same order)."""

    name, max_batch = 'oracle', 8

    def __init__(self, card: ModelCard) -> None:
        self.card, self.frame, self.props, self.shift_m = card, None, [], 0.0

    def __call__(self, crops):
        n = len(crops)
        J, D = SK.num_joints, SK.num_dofs
        if self.frame is None:  # warm-up call
            return {o.name: np.zeros((n, *o.shape[1:]), np.float32) for o in self.card.outputs}
        _, infos = make_crops(self.frame.depth_m, K, self.props, self.card)
        truth = self.frame.joints_xyz[self.frame.visible]
        order = [[q is p for q in self.frame.proposals].index(True) for p in self.props]
        truth, params = truth[order], self.frame.params[self.frame.visible][order]
        truth = truth + np.array([0.0, 0.0, -self.shift_m])  # shift towards the camera
        if self.card.decode == 'uvz_crop':
            uv = np.array([ci.image_to_crop(K.project(j)) for ci, j in zip(infos, truth)])
            z = np.array([ci.normalise_depth(j[:, 2]) for ci, j in zip(infos, truth)])
            return {'uv': uv.astype(np.float32), 'z': z.astype(np.float32),
                    'confidence': np.ones((n, J), np.float32)}
        centre = []
        for ci in infos:
            x0, y0, x1, y1 = ci.box_xyxy
            centre.append(K.unproject(np.array([(x0 + x1) / 2 - 0.5, (y0 + y1) / 2 - 0.5]),
                                      ci.center_depth_m))
        centre = np.array(centre)
        from kinpose_ros.core.rotations import axis_angle_to_matrix

        return {'joints': (truth - centre[:, None]).astype(np.float32),
                'root_translation': (params[:, :3] - centre).astype(np.float32),
                'root_rotation': axis_angle_to_matrix(params[:, 3:6]).astype(np.float32),
                'joint_angles': params[:, 6:6 + D].astype(np.float32)}


@pytest.fixture(scope='module')
def three_frames():
    """Three people stepping a few centimetres per frame, five frames at 30 Hz."""
    frames = []
    for k in range(5):
        places = [(x + 0.03 * k, z - 0.02 * k, yaw) for x, z, yaw in PLACES]
        frames.append(sample_frame(K, people(places), SK, seed=k))
    return frames


@pytest.fixture(scope='module')
def a2j_estimator(small_models):
    return PoseEstimator(small_models['a2j']['card'], EstimatorConfig(backend='onnxruntime-cpu',
                                                                      threads=1))


def test_zero_one_three_people(a2j_estimator, three_frames):
    est = a2j_estimator
    est.reset()
    empty = sample_frame(K, np.zeros((0, SK.num_params)), SK)
    result = est(empty.depth_m, K, stamp=0.0, proposals=empty.proposals)
    assert result.people == [] and result.dropped_reason == ''
    one = sample_frame(K, people(PLACES[1:2]), SK)
    result = est(one.depth_m, K, stamp=0.1, proposals=one.proposals)
    assert len(result.people) == 1
    p = result.people[0]
    assert p.joints_xyz.shape == (15, 3) and p.joints_uv.shape == (15, 2)
    assert p.joint_transforms.shape == (15, 4, 4) and p.root_transform.shape == (4, 4)
    assert p.joint_angles.shape == p.joint_velocities.shape == (22,)
    assert np.all((p.confidence >= 0) & (p.confidence <= 1))
    assert np.all(p.joint_angles >= SK.dof_lower - 1e-9)
    assert np.all(p.joint_angles <= SK.dof_upper + 1e-9)
    assert set(result.timings_ms) == {*STAGES, 'total'}
    assert result.timings_ms['total'] >= result.timings_ms['infer'] > 0
    est.reset()
    frame = three_frames[0]
    result = est(frame.depth_m, K, stamp=0.0, proposals=frame.proposals)
    assert len(result.people) == 3
    assert sorted(p.person_id for p in result.people) == [0, 1, 2]
    z = [p.root_transform[2, 3] for p in result.people]
    assert z == sorted(z)  # nearest first


def test_ids_stable_while_people_move(a2j_estimator, three_frames):
    est = a2j_estimator
    est.reset()
    ids_by_person = {}
    for k, frame in enumerate(three_frames):
        result = est(frame.depth_m, K, stamp=k / 30, proposals=frame.proposals)
        for p in result.people:
            # which true person: the proposal box the result came from
            truth = next(i for prop, i in zip(frame.proposals, frame.visible)
                         if np.allclose(prop.box_xyxy, p.box_xyxy))
            ids_by_person.setdefault(truth, set()).add(p.person_id)
    assert len(ids_by_person) == 3
    assert all(len(ids) == 1 for ids in ids_by_person.values()), ids_by_person
    assert sorted(next(iter(v)) for v in ids_by_person.values()) == [0, 1, 2]


def test_max_people_and_invalid_frames(small_models, three_frames):
    est = PoseEstimator(small_models['lite']['card'], EstimatorConfig(
        max_people=2, backend='onnxruntime-cpu', threads=1))
    frame = three_frames[0]
    result = est(frame.depth_m, K, stamp=0.0, proposals=frame.proposals)
    assert len(result.people) == 2
    nan = np.full((K.height, K.width), np.nan, np.float32)
    result = est(nan, K, stamp=0.1, proposals=frame.proposals)
    assert result.people == [] and 'no valid depth' in result.dropped_reason
    with pytest.raises(ValueError, match=r'expected shape \(H, W\) = \(240, 320\)'):
        est(np.zeros((240, 321), np.float32), K)
    with pytest.raises(ValueError, match=r'got \(1, 240, 320\)'):
        est(np.zeros((1, 240, 320), np.float32), K)
    with pytest.raises(ValueError, match='expected float metres.*decode_depth'):
        est(np.zeros((240, 320), np.uint16), K)
    with pytest.raises(ValueError, match='rgb: expected'):
        est(frame.depth_m, K, rgb=np.zeros((10, 10, 3), np.uint8), proposals=[])


def test_oracle_joint_model_recovers_pose_with_high_confidence(small_models):
    card = ModelCard.load(small_models['a2j']['card'])
    oracle = OracleBackend(card)
    est = PoseEstimator(card, backend=oracle)
    frame = sample_frame(K, people(PLACES), SK, seed=3)
    oracle.frame, oracle.props = frame, by_distance(frame.proposals)
    result = est(frame.depth_m, K, stamp=0.0, proposals=oracle.props)
    assert len(result.people) == 3
    for p in result.people:
        i = frame.visible[[np.allclose(q.box_xyxy, p.box_xyxy) for q in
                           frame.proposals].index(True)]
        np.testing.assert_allclose(p.joints_xyz, frame.joints_xyz[i], atol=1e-4)
        assert p.ik_residual_m < 2e-3 and abs(p.scale - 1.0) < 0.01
        # the fitted skeleton's transforms put every joint where the truth is
        np.testing.assert_allclose(p.joint_transforms[:, :3, 3], frame.joints_xyz[i], atol=5e-3)
        assert p.confidence.mean() > 0.7
    # the same people predicted 0.6 m in front of the surface the camera sees: low confidence
    est.reset()
    oracle.shift_m = 0.6
    shifted = est(frame.depth_m, K, stamp=1.0, proposals=oracle.props)
    assert len(shifted.people) == 3
    assert all(p.confidence.mean() < 0.2 for p in shifted.people)
    # ... which a person score threshold drops before tracking; the true poses stay
    strict = PoseEstimator(card, EstimatorConfig(min_person_score=0.2), backend=oracle)
    assert strict(frame.depth_m, K, stamp=1.0, proposals=oracle.props).people == []
    oracle.shift_m = 0.0
    assert len(strict(frame.depth_m, K, stamp=2.0, proposals=oracle.props).people) == 3
    # by default the threshold is the card's (the shipped A2J's card sets one)
    import dataclasses

    strict_card = dataclasses.replace(card, person_score_threshold=0.2)
    by_card = PoseEstimator(strict_card, backend=oracle)
    assert by_card.min_person_score == 0.2 and est.min_person_score == 0.0
    assert ModelCard.load('models/a2j_body15.json').person_score_threshold == 0.02
    oracle.shift_m = 0.6
    assert by_card(frame.depth_m, K, stamp=3.0, proposals=oracle.props).people == []


def test_kinematic_model_gives_native_angles_without_ik(small_models):
    card = ModelCard.load(small_models['kinematic']['card'])
    oracle = OracleBackend(card)
    est = PoseEstimator(card, backend=oracle)
    assert est._ik is None  # no IK solver for kinematic models
    params = people(PLACES[1:2], seed=4, spread=0.5)
    frame = sample_frame(K, params, SK)
    oracle.frame, oracle.props = frame, frame.proposals
    first = est(frame.depth_m, K, stamp=0.0, proposals=frame.proposals).people[0]
    np.testing.assert_allclose(first.joint_angles, params[0, 6:], atol=1e-5)
    assert np.isnan(first.ik_residual_m)
    truth_joints, truth_tf = forward_kinematics_np(SK, params)
    np.testing.assert_allclose(first.joint_transforms, truth_tf[0], atol=1e-4)
    np.testing.assert_allclose(first.joints_xyz, truth_joints[0], atol=1e-4)
    assert np.all(first.joint_velocities == 0)  # a new track
    # next frame: the elbows bend a little more; velocity = filtered change / dt, same sign
    moved = params.copy()
    elbow = SK.dof_names.index('l_elbow_flexion')
    moved[0, 6 + elbow] += 0.1
    frame2 = sample_frame(K, moved, SK)
    oracle.frame, oracle.props = frame2, frame2.proposals
    second = est(frame2.depth_m, K, stamp=0.1, proposals=frame2.proposals).people[0]
    assert second.person_id == first.person_id
    change = second.joint_angles[elbow] - first.joint_angles[elbow]
    assert 0 < change < 0.1  # smoothed: part of the step
    assert second.joint_velocities[elbow] == pytest.approx(change / 0.1, rel=1e-6)


def test_segmenter_path(small_models):
    try:
        from kinpose_ros.core.segmentation import PersonSegmenter  # noqa: F401
    except ImportError:
        pytest.skip('core.segmentation is not available yet')
    est = PoseEstimator(small_models['a2j']['card'], EstimatorConfig(backend='onnxruntime-cpu',
                                                                      threads=1))
    frame = sample_frame(K, people(PLACES[1:2]), SK)
    result = est(frame.depth_m, K, stamp=0.0)
    assert len(result.people) == 1
    assert result.timings_ms['segment'] > 0


def test_cell_model_is_resolved_at_start_up(small_models, tmp_path):
    pytest.importorskip('onnxruntime')
    card = small_models['a2j']['card']
    with pytest.raises(FileNotFoundError, match='person-cell model card'):
        PoseEstimator(card, EstimatorConfig(backend='onnxruntime-cpu',
                                            cell_model=str(tmp_path / 'missing.json')))
    est = PoseEstimator(card, EstimatorConfig(backend='onnxruntime-cpu', threads=1,
                                              cell_model='default'))
    frame = sample_frame(K, people(PLACES[1:2]), SK)
    result = est(frame.depth_m, K, stamp=0.0)
    assert est.segmenter.cell_scorer is not None
    assert len(result.people) == 1
    rules = PoseEstimator(card, EstimatorConfig(backend='onnxruntime-cpu', threads=1))
    rules(frame.depth_m, K, stamp=0.0)
    assert rules.segmenter.cell_scorer is None  # 'none' is the default
    assert est.segmenter.config.cell_mode == 'gate'
    union = PoseEstimator(card, EstimatorConfig(backend='onnxruntime-cpu', threads=1,
                                                cell_model='default', cell_mode='union'))
    assert len(union(frame.depth_m, K, stamp=0.0).people) == 1  # not proposed twice
    assert union.segmenter.config.cell_mode == 'union'
    with pytest.raises(ValueError, match='cell_mode'):
        EstimatorConfig(cell_mode='all')
    # the classifier follows the pose network: on the CPU here
    assert est.segmenter.cell_scorer.device == 'cpu'
    assert est._cell_device('default') == 'cpu'


def test_cell_classifier_runs_on_the_gpu_with_a_gpu_pose_network(small_models):
    """A pose network on CUDA takes the classifier along where ONNX Runtime has its CUDA
    provider (the segmenter's largest cost on a CPU core)."""
    ort = pytest.importorskip('onnxruntime')
    if 'CUDAExecutionProvider' not in ort.get_available_providers():
        pytest.skip('ONNX Runtime has no CUDAExecutionProvider (no onnxruntime-gpu or no GPU)')
    est = PoseEstimator(small_models['a2j']['card'],
                        EstimatorConfig(backend='onnxruntime-cuda', cell_model='default'))
    frame = sample_frame(K, people(PLACES[1:2]), SK)
    assert len(est(frame.depth_m, K, stamp=0.0).people) == 1
    assert est.segmenter.cell_scorer.device == 'cuda'


def test_partial_person_at_the_image_border(small_models):
    """Half a person in view: all joints are estimated, those outside the image are flagged as
    unverified (confidence <= 0.5) while those on visible depth keep a high confidence."""
    card = ModelCard.load(small_models['a2j']['card'])
    oracle = OracleBackend(card)
    est = PoseEstimator(card, backend=oracle)
    frame = sample_frame(K, people([(-1.75, 2.6, 0.0)]), SK, seed=5)
    assert len(frame.proposals) == 1
    oracle.frame, oracle.props = frame, frame.proposals
    p = est(frame.depth_m, K, stamp=0.0, proposals=frame.proposals).people[0]
    outside = p.joints_uv[:, 0] < 0
    assert 0 < outside.sum() < 15
    np.testing.assert_allclose(p.joints_xyz, frame.joints_xyz[0], atol=1e-4)
    assert np.all(p.confidence[outside] <= 0.5)
    assert p.confidence[~outside].mean() > 0.7


def test_threshold_table_counts_true_people_and_phantoms():
    from kinpose_ros.tools.person_score import threshold_table

    rows = np.array([[1, 0.9, 0.5], [1, 0.5, 0.01], [0, 0.0, 0.015], [0, 0.0, 0.3],
                     [1, 0.8, np.nan]])
    t0, t1 = threshold_table(rows, frames=2, thresholds=[0.0, 0.02])
    assert t0['true_kept'] == 1.0 and t0['phantoms_per_frame'] == 1.0
    assert t1['true_kept'] == pytest.approx(1 / 3) and t1['visible_true_kept'] == 0.5
    assert t1['phantoms_per_frame'] == 0.5
