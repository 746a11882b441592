"""Person segmentation from depth: analytic scenes with known answers, and a real ITOP frame."""
import numpy as np
import pytest

from kinpose_ros.core.camera import SENSOR_PRESETS, Intrinsics
from kinpose_ros.core.depth import decode_depth
from kinpose_ros.core.segmentation import (
    PersonProposal,
    PersonSegmenter,
    SegmenterConfig,
    SegmenterState,
    segment_people,
)

K = SENSOR_PRESETS['itop']  # 320x240, f = 285.714
CAM_HEIGHT = 1.3  # metres above the floor; level camera: the floor is y = CAM_HEIGHT


def _person_boxes(x: float, height: float = 1.75) -> list:
    """A flat cut-out person standing at lateral position x: (x0, x1, top, bottom) boxes in
    metres (y down, the floor at CAM_HEIGHT); head, torso, arms, legs."""
    floor = CAM_HEIGHT
    s = height / 1.75
    leg, torso_top = floor - 0.85 * s, floor - 1.45 * s
    return [
        (x - 0.10 * s, x + 0.10 * s, floor - 1.75 * s, torso_top),  # head and neck
        (x - 0.20 * s, x + 0.20 * s, torso_top, leg),               # torso
        (x - 0.28 * s, x - 0.20 * s, torso_top, leg + 0.15 * s),    # arms
        (x + 0.20 * s, x + 0.28 * s, torso_top, leg + 0.15 * s),
        (x - 0.18 * s, x - 0.03 * s, leg, floor),                   # legs
        (x + 0.03 * s, x + 0.18 * s, leg, floor),
    ]


def render(people: list, k: Intrinsics = K, floor: bool = True,
           wall_z: float | None = None) -> np.ndarray:
    """Depth (H, W) float32 of a level camera: a floor, optional back wall at ``wall_z``, and
    people given as ``(x, z)`` or ``(x, z, height)`` (flat fronts at depth z). NaN = nothing."""
    u = (np.arange(k.width) - k.cx) / k.fx
    v = (np.arange(k.height) - k.cy) / k.fy
    xn, yn = np.meshgrid(u, v)
    depth = np.full((k.height, k.width), np.inf)
    if floor:
        with np.errstate(divide='ignore'):
            depth = np.where(yn > 1e-6, CAM_HEIGHT / np.where(yn > 1e-6, yn, 1.0), np.inf)
    if wall_z is not None:
        depth = np.minimum(depth, wall_z)
    for person in people:
        x, z = person[:2]
        for x0, x1, y0, y1 in _person_boxes(x, *person[2:]):
            hit = (xn * z >= x0) & (xn * z <= x1) & (yn * z >= y0) & (yn * z <= y1)
            depth = np.where(hit & (z < depth), z, depth)
    depth[depth > 8.0] = np.inf
    return np.where(np.isfinite(depth), depth, np.nan).astype(np.float32)


def _true_box(x: float, z: float, height: float = 1.75, k: Intrinsics = K) -> np.ndarray:
    """Edge box of the rendered person's pixels (alone in the image)."""
    mask = np.isfinite(render([(x, z, height)], k, floor=False))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])


def _iou(a, b) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(hi - lo, 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def test_no_valid_depth_gives_nothing():
    seg = PersonSegmenter()
    assert seg.segment(np.zeros((240, 320), np.float32), K) == []
    assert seg.segment(np.full((240, 320), np.nan, np.float32), K) == []
    assert seg.state.floor_plane is None


def test_floor_only_gives_nothing_and_finds_the_floor():
    seg = PersonSegmenter()
    assert seg.segment(render([]), K) == []
    plane = seg.state.floor_plane
    np.testing.assert_allclose(plane[:3], [0.0, -1.0, 0.0], atol=0.01)
    assert plane[3] == pytest.approx(CAM_HEIGHT, abs=0.02)


def test_two_people_sorted_by_distance():
    depth = render([(0.9, 5.0), (-0.6, 3.5)], wall_z=6.5)  # feet in view beyond 3.1 m
    proposals = PersonSegmenter().segment(depth, K)
    assert len(proposals) == 2
    near, far = proposals
    assert isinstance(near, PersonProposal)
    np.testing.assert_allclose(near.centroid_xyz[[0, 2]], [-0.6, 3.5], atol=0.1)
    np.testing.assert_allclose(far.centroid_xyz[[0, 2]], [0.9, 5.0], atol=0.1)
    assert _iou(near.box_xyxy, _true_box(-0.6, 3.5)) > 0.9
    assert _iou(far.box_xyxy, _true_box(0.9, 5.0)) > 0.9
    for p in proposals:
        assert p.score > 0.5
        assert p.height_m == pytest.approx(1.75, abs=0.2)  # less the soles (floor margin)
        assert p.mask.shape == (240, 320) and p.mask.sum() == p.num_pixels
        x0, y0, x1, y1 = p.box_xyxy
        assert p.mask[y0:y1, x0:x1].sum() == p.num_pixels  # the box holds the whole mask


def test_person_touching_the_floor_is_not_merged_with_it():
    depth = render([(0.0, 3.5)])
    (p,) = PersonSegmenter().segment(depth, K)
    alone = np.isfinite(render([(0.0, 3.5)], floor=False))
    np.testing.assert_allclose(p.box_xyxy, _true_box(0.0, 3.5), atol=2)  # feet: down to the floor
    assert not (p.mask & ~alone).any()
    assert p.mask.sum() > 0.9 * alone.sum()


def test_person_in_front_of_a_close_wall():
    (p,) = PersonSegmenter().segment(render([(0.3, 3.5)], wall_z=4.0), K)
    assert _iou(p.box_xyxy, _true_box(0.3, 3.5)) > 0.9


def _with_board(depth: np.ndarray, z: float, heights: tuple, half_width: float = 1.0,
                k: Intrinsics = K) -> np.ndarray:
    """``depth`` with a flat board facing the camera at depth ``z``: ``heights`` (lo, hi)
    above the floor, ``half_width`` to either side of the optical axis (metres)."""
    u = (np.arange(k.width) - k.cx) / k.fx
    v = (np.arange(k.height) - k.cy) / k.fy
    xn, yn = np.meshgrid(u, v)
    hit = (np.abs(xn * z) <= half_width) & (yn * z >= CAM_HEIGHT - heights[1]) & \
        (yn * z <= CAM_HEIGHT - heights[0])
    return np.where(hit & ~(depth < z), np.float32(z), depth)


def test_person_cut_in_two_by_a_board_in_front_is_one_proposal():
    """A board across the hips (a table edge, another person's arm) splits the person's
    depth component in two: the legs below it are joined to the upper body behind it."""
    depth = _with_board(render([(0.0, 3.5)]), 2.6, (0.75, 0.95))
    true_box = _true_box(0.0, 3.5)
    proposals = PersonSegmenter().segment(depth, K)
    assert max(_iou(p.box_xyxy, true_box) for p in proposals) > 0.9
    apart = PersonSegmenter(SegmenterConfig(join_votes=1e9)).segment(depth, K)  # no joining
    assert max(_iou(p.box_xyxy, true_box) for p in apart) < 0.7


def test_people_one_behind_the_other_touching_are_split():
    """A near person's arm reaching back to a farther one joins their depth components: the
    gap in the depths between the bodies splits them again."""
    (xa, za), (xb, zb) = (-0.3, 3.0), (0.45, 4.2)
    depth = render([(xa, za), (xb, zb)])
    u = (np.arange(K.width) - K.cx) / K.fx
    v = (np.arange(K.height) - K.cy) / K.fy
    x0, x1 = xa + 0.28, xb - 0.1  # the arm: from the near shoulder to the far one
    t = np.clip((u * za - x0) / ((x1 - x0) - u * (zb - za)), -1.0, 2.0)
    z_arm = za + t * (zb - za)
    on_arm = (t >= 0) & (t <= 1)
    rows = (v[:, None] * z_arm[None] >= CAM_HEIGHT - 1.45) & \
        (v[:, None] * z_arm[None] <= CAM_HEIGHT - 1.33)
    hit = rows & on_arm[None] & ~(depth <= z_arm[None])  # in front, or nothing behind
    depth = np.where(hit, z_arm[None], depth).astype(np.float32)
    near_box, far_box = _true_box(xa, za), _true_box(xb, zb)
    proposals = PersonSegmenter().segment(depth, K)
    assert len(proposals) == 2
    near, far = proposals
    assert near.centroid_xyz[2] == pytest.approx(za, abs=0.1)
    assert _iou(near.box_xyxy, near_box) > 0.7  # with the front half of the arm
    assert _iou(far.box_xyxy, far_box) > 0.9
    merged = PersonSegmenter(SegmenterConfig(depth_gap_m=0.0)).segment(depth, K)
    found = [any(_iou(p.box_xyxy, b) > t for p in merged)
             for b, t in ((near_box, 0.7), (far_box, 0.9))]
    assert not all(found)  # without the split, one of them is lost


def test_floor_plane_is_carried_between_frames():
    state = SegmenterState()
    segment_people(render([(0.0, 3.5)]), K, state=state)
    first = state.floor_plane.copy()
    assert state.floor_score > 0
    proposals = segment_people(render([(0.5, 4.0)]), K, state=state)
    assert len(proposals) == 1
    np.testing.assert_allclose(state.floor_plane, first, atol=0.02)
    segment_people(np.full((240, 320), np.nan, np.float32), K, state=state)
    assert state.floor_plane is not None  # a frame without depth (a glitch) keeps the floor
    segment_people(render([(0.0, 3.5)], floor=False), K, state=state)
    assert state.floor_plane is None and state.floor_score == 0.0  # no floor seen: forgotten


def test_larger_images_use_a_coarser_grid():
    k = SENSOR_PRESETS['realsense_d435_640x480']
    (p,) = PersonSegmenter().segment(render([(0.0, 3.5)], k), k)
    assert _iou(p.box_xyxy, _true_box(0.0, 3.5, k=k)) > 0.9


def test_grid_steps_at_320x240():
    people = [(-0.8, 3.0), (0.9, 4.5)]
    for min_step, shape in ((3, (80, 106)), (1, (120, 160))):  # the default, then step 2
        seg = PersonSegmenter(SegmenterConfig(grid_min_step=min_step))
        proposals = seg.segment(render(people), K)
        assert seg._buffers['z'].shape == shape
        assert len(proposals) == 2
        for p, (x, z) in zip(proposals, people):
            assert _iou(p.box_xyxy, _true_box(x, z)) > 0.9


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match='match the intrinsics'):
        PersonSegmenter().segment(np.zeros((100, 100), np.float32), K)
    with pytest.raises(ValueError, match='grid_rows'):
        SegmenterConfig(grid_rows=2)
    with pytest.raises(ValueError, match='grid_min_step'):
        SegmenterConfig(grid_min_step=0)
    with pytest.raises(ValueError, match='min_score'):
        SegmenterConfig(min_score=1.5)
    with pytest.raises(ValueError, match='floor_min_extent_m'):
        SegmenterConfig(floor_min_extent_m=-1.0)


def test_a_torso_close_to_the_camera_is_not_taken_for_a_floor():
    # a 0.5 x 0.5 m surface leaning back at 0.8 m (a desk camera's view of a chest): its
    # normal is 50 degrees from camera up and the camera 0.74 m above its plane, inside the
    # floor cone, but it spans half a metre, a floor metres
    k = SENSOR_PRESETS['realsense_sr305']
    n = np.array([0.0, -np.cos(np.radians(50)), -np.sin(np.radians(50))])
    p0 = np.array([0.0, 0.2, 0.8])
    d = -n @ p0
    u, v = np.meshgrid((np.arange(k.width) - k.cx) / k.fx, (np.arange(k.height) - k.cy) / k.fy)
    rays = np.stack([u, v, np.ones_like(u)], -1)
    t = -d / (rays @ n)
    pts = rays * t[..., None]
    on = (np.abs(pts[..., 0]) < 0.25) & (np.abs(pts[..., 1] - 0.2) < 0.25) & (t > 0)
    depth = np.where(on, pts[..., 2], np.nan).astype(np.float32)
    seg = PersonSegmenter()
    seg.segment(depth, k)
    assert seg.state.floor_plane is None
    without_check = PersonSegmenter(SegmenterConfig(floor_min_extent_m=0.0))
    without_check.segment(depth, k)
    assert without_check.state.floor_plane is not None  # what the check prevents


def test_min_score_zero_keeps_every_scored_component_without_crashing():
    depth = render([(0.9, 5.0), (-0.6, 3.5)], wall_z=6.5)
    everything = PersonSegmenter(SegmenterConfig(min_score=0.0)).segment(depth, K)
    default = PersonSegmenter().segment(depth, K)
    assert len(everything) >= len(default) == 2
    assert all(p.score > 0 and p.num_pixels > 0 for p in everything)


def test_real_itop_frame_has_exactly_one_person(shared_data):
    raw = np.load(shared_data / 'real_depth' / 'itop_side_train_000053.npy')
    depth = decode_depth(raw, '16UC1')
    for min_step in (3, 1):  # grid step 3 (the default) and 2
        good = []
        for seed in range(12):  # RANSAC seeds: wall-plane removal differs, remnants must not pass
            cfg = SegmenterConfig(grid_min_step=min_step, seed=seed)
            proposals = PersonSegmenter(cfg).segment(depth, K)
            if len(proposals) != 1:
                continue
            x0, y0, x1, y1 = proposals[0].box_xyxy
            # hand-checked on the image: head top at row ~59, hand tips at columns ~101 and
            # ~212, feet at the bottom edge; a door frame ends at column ~92 (pillar at < 62)
            # and furniture stands at columns >= 225 (and a chair from 210 below row 155)
            good.append(x0 <= 104 and y0 <= 62 and x1 >= 210 and y1 >= 235
                        and x0 >= 96 and y0 >= 50 and x1 <= 222
                        and abs(proposals[0].centroid_xyz[2] - 3.0) < 0.2)
        assert sum(good) >= 11, f'step {min_step}: one person for {sum(good)} of 12 seeds'


@pytest.mark.parametrize('name, head_top, left, right', [('a', 62, 150, 440),
                                                          ('b', 165, 225, 570)])
def test_real_sr305_upper_body_close_to_the_camera_is_one_person(shared_data, name, head_top,
                                                                  left, right):
    # a desk camera's view: an upper body at ~0.75 m cut at the image bottom, a hand toward
    # the camera, 18-21 % valid pixels and no floor (frame b's torso fits a floor plane)
    from PIL import Image

    with Image.open(shared_data / 'real_depth' / f'sr305_upperbody_hand_{name}.png') as im:
        raw = np.asarray(im)
    depth = decode_depth(raw, '16UC1', depth_unit_m=0.000125)
    k = SENSOR_PRESETS['realsense_sr305']
    for seed in range(4):
        seg = PersonSegmenter(SegmenterConfig(seed=seed))
        proposals = seg.segment(depth, k)
        assert len(proposals) == 1, f'seed {seed}: {len(proposals)} proposals'
        x0, y0, x1, y1 = proposals[0].box_xyxy
        # hand-checked on the image: head top at row ~60 (a) / ~163 (b), the open hand's
        # left edge at column ~141 (a) / ~217 (b), the far shoulder or arm at ~460 / ~589
        assert head_top - 15 <= y0 <= head_top and y1 == 480
        assert left - 30 <= x0 <= left and right <= x1 <= right + 40
        assert seg.state.floor_plane is None


def _prob_of(people: list, step: int = 3):
    """A cell classifier with known answers: probability 1 on the cells of ``people`` rendered
    alone, 0 elsewhere (walls)."""
    def prob(features: np.ndarray) -> np.ndarray:
        Hg, Wg = features.shape[1:]
        m = np.isfinite(render(people, floor=False))[step // 2::step, step // 2::step]
        return m[:Hg, :Wg].astype(np.float32)
    return prob


def test_cell_classifier_cuts_a_person_off_the_wall_they_stand_against():
    people = [(0.3, 3.5)]
    depth = render(people, wall_z=3.6)  # flush against a wall: one component for the rules
    assert PersonSegmenter().segment(depth, K) == []
    (p,) = PersonSegmenter(cell_scorer=_prob_of(people)).segment(depth, K)
    assert _iou(p.box_xyxy, _true_box(0.3, 3.5)) > 0.8  # masks grow a cell into the wall


def test_cell_classifier_score_factor_drops_what_it_does_not_call_a_person():
    depth = render([(0.3, 3.5)], wall_z=6.0)
    assert len(PersonSegmenter().segment(depth, K)) == 1

    def half(features):  # mean probability 0.45 < the ramp's start (0.5)
        return np.full(features.shape[1:], 0.45, np.float32)

    strict = SegmenterConfig(cell_score_range=(0.5, 0.8))
    assert PersonSegmenter(strict, cell_scorer=half).segment(depth, K) == []
    factor = PersonSegmenter(SegmenterConfig(cell_score_range=(0.3, 0.6)), cell_scorer=half)
    (p,) = factor.segment(depth, K)
    (ref,) = PersonSegmenter().segment(depth, K)
    assert p.score == pytest.approx(ref.score * 0.5)


def test_cell_classifier_defaults_depend_on_the_mode():
    gate, union = SegmenterConfig(), SegmenterConfig(cell_mode='union')
    assert (gate.cell_threshold, gate.cell_score_range) == (0.15, (0.2, 0.5))
    assert (union.cell_threshold, union.cell_score_range) == (0.3, (0.5, 0.8))
    own = SegmenterConfig(cell_mode='union', cell_threshold=0.2, cell_score_range=(0.1, 0.2))
    assert (own.cell_threshold, own.cell_score_range) == (0.2, (0.1, 0.2))


def test_cell_classifier_config_and_output_are_checked():
    with pytest.raises(ValueError, match='cell_threshold'):
        SegmenterConfig(cell_threshold=1.5)
    with pytest.raises(ValueError, match='cell_score_range'):
        SegmenterConfig(cell_score_range=(0.8, 0.5))
    with pytest.raises(ValueError, match='cell_union_range'):
        SegmenterConfig(cell_union_range=(0.4, 0.4))
    with pytest.raises(ValueError, match='cell_mode'):
        SegmenterConfig(cell_mode='both')
    depth = render([(0.3, 3.5)])
    bad = PersonSegmenter(cell_scorer=lambda f: np.ones((10, 10), np.float32))
    with pytest.raises(ValueError, match='working grid'):
        bad.segment(depth, K)


def test_cell_union_adds_the_people_the_gate_lost_once():
    people = [(-0.8, 3.5), (0.9, 4.5)]
    depth = render(people, wall_z=6.0)
    assert len(PersonSegmenter().segment(depth, K)) == 2
    sure, unsure = _prob_of(people[:1]), _prob_of(people[1:])

    def prob(features):  # the first person certain, the second at 0.25: below the gate (0.3)
        return sure(features) + 0.25 * unsure(features)

    gated = PersonSegmenter(cell_scorer=prob).segment(depth, K)
    assert len(gated) == 1 and _iou(gated[0].box_xyxy, _true_box(-0.8, 3.5)) > 0.8
    union = PersonSegmenter(SegmenterConfig(cell_mode='union'), cell_scorer=prob)
    both = union.segment(depth, K)  # the first is not proposed twice
    assert len(both) == 2
    near, far = both  # nearest first
    assert _iou(near.box_xyxy, _true_box(-0.8, 3.5)) > 0.8
    assert _iou(far.box_xyxy, _true_box(0.9, 4.5)) > 0.8
    (ref_far,) = [p for p in PersonSegmenter().segment(depth, K) if p.centroid_xyz[0] > 0]
    # the rules' score times the union ramp (0.1, 0.4) at mean probability 0.25
    assert far.score == pytest.approx(ref_far.score * 0.5, rel=0.05)


def _votes_of(people: list, step: int = 3):
    """A cell classifier with offsets and known answers: probability 1 on the cells of
    ``people`` (the nearest where they overlap), each pointing at its person's centre (the
    middle of the body's height above the floor, at the person's lateral position)."""
    def scorer(features: np.ndarray) -> tuple:
        Hg, Wg = features.shape[1:]
        prob = np.zeros((Hg, Wg), np.float32)
        off = np.zeros((2, Hg, Wg), np.float32)
        rows, cols = np.mgrid[0:Hg, 0:Wg]
        nearest = np.full((Hg, Wg), np.inf)
        for x, z, *height in people:
            d = render([(x, z, *height)], floor=False)[step // 2::step, step // 2::step]
            on = np.isfinite(d[:Hg, :Wg]) & (d[:Hg, :Wg] < nearest)
            nearest[on] = z
            u = x / z * K.fx + K.cx
            v = (CAM_HEIGHT - 0.5 * (height[0] if height else 1.75)) / z * K.fy + K.cy
            prob[on] = 1.0
            off[0][on] = ((v - step // 2) / step - rows)[on]
            off[1][on] = ((u - step // 2) / step - cols)[on]
        return prob, off
    return scorer


def test_cell_votes_split_people_side_by_side_at_the_same_depth():
    """Two people 0.45 m apart at the same depth touch (arms): one component for the depth
    rules and the gated cells; their cells vote for two centres."""
    people = [(-0.225, 3.5), (0.225, 3.5)]
    depth = render(people, wall_z=6.0)
    scorer = _votes_of(people)
    no_votes = SegmenterConfig(cell_votes=False)
    assert len(PersonSegmenter(no_votes, cell_scorer=scorer).segment(depth, K)) == 1
    found = PersonSegmenter(cell_scorer=scorer)
    left, right = sorted(found.segment(depth, K), key=lambda p: p.centroid_xyz[0])
    assert _iou(left.box_xyxy, _true_box(-0.225, 3.5)) > 0.8
    assert _iou(right.box_xyxy, _true_box(0.225, 3.5)) > 0.8
    apart = SegmenterConfig(vote_split_m=0.6)  # centres 0.45 m apart
    assert len(PersonSegmenter(apart, cell_scorer=scorer).segment(depth, K)) == 1


def test_cell_votes_join_a_person_cut_in_two_by_a_pole_in_front():
    """A pole in front cuts a person into a left and a right half, neither a person to the
    rules; both halves vote for one centre."""
    people = [(0.0, 3.5)]
    depth = render(people)
    u = (np.arange(K.width) - K.cx) / K.fx
    depth[:, np.abs(u * 2.5) < 0.06] = 2.5
    scorer = _votes_of(people)
    no_votes = SegmenterConfig(cell_votes=False)
    assert PersonSegmenter(no_votes, cell_scorer=scorer).segment(depth, K) == []
    assert PersonSegmenter(cell_scorer=_prob_of(people)).segment(depth, K) == []
    (p,) = PersonSegmenter(cell_scorer=scorer).segment(depth, K)
    assert _iou(p.box_xyxy, _true_box(0.0, 3.5)) > 0.8


def test_cell_votes_offsets_are_checked():
    depth = render([(0.3, 3.5)])

    def short(features):
        return _votes_of([(0.3, 3.5)])(features)[0], np.zeros((1, 80, 106), np.float32)

    with pytest.raises(ValueError, match='offsets of shape'):
        PersonSegmenter(cell_scorer=short).segment(depth, K)
    with pytest.raises(ValueError, match='vote_merge_m'):
        SegmenterConfig(vote_merge_m=0.0)
