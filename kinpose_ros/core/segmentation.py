"""Person proposals from one depth frame: floor plane, background, person-sized components.

Runs on every frame in front of the pose network, so it must cost about a millisecond; there
are no ground-truth boxes at run time.

Algorithm (numba kernels in :mod:`~kinpose_ros.core.segmentation_kernels`,
:mod:`~kinpose_ros.core.plane_fit` and :mod:`~kinpose_ros.core.person_shape`)
-------------------------------------------------------------------------------------------
1. Grid: subsample the depth image to about ``grid_rows`` rows, never finer than
   ``grid_min_step`` (step 3, a 106 x 80 grid, at 320x240; 4 at 640x480) and unproject the
   cells. Thresholds grow
   with depth as ``a + b z^2`` (noise and disparity quantisation of structured light).
2. Floor: RANSAC on plausible floor cells (local normal within ``floor_max_tilt_deg`` of
   camera up), hypotheses from one cell and its normal or from three nearby cells, with the
   camera ``camera_height_range_m`` above; scored by level cells on the plane minus cells
   below it (so a table top loses to the floor under it); refined by weighted least squares.
   The previous frame's plane (:class:`SegmenterState`) competes as a hypothesis. A small
   plane close to the camera (``floor_min_extent_m``, ``floor_near_m``) is no floor (an upper
   body in front of a desk camera). Cells less than ``floor_margin`` above the floor, or beyond
   ``max_depth_m``, are dropped.
3. Table tops: level cells (flat along the image column) form patches by height; patches at
   least ``furniture_level_m`` long above the floor are dropped, so people touching a table
   do not merge with it.
4. Components: 4-connected cells whose depths differ less than a noise- and slant-aware jump
   threshold. Components larger than a person - too tall, too wide, too deep along the line
   of sight or too large in area (walls, ceiling, floor left over, or a wall or board that
   swallowed a person near it) - lose their dominant RANSAC plane and are relabelled
   (``split_rounds``).
5. Person rules: limb fragments (a hand reaching toward the camera) join the person they
   touch (diagonally too, where a thin wrist against the background fell between cells);
   parts of a person cut apart by something in front of them (a table top, another person's
   arm) or by a depth step (a seated person's lap) are joined when one lies under the other
   at nearly the same depth; a component holding people one behind the other is
   split at a gap in its depths, one holding people side by side at a valley of its
   top-height profile; below ``corridor_cut_m``, cells sticking out sideways from the upper
   body (furniture a person touches) are cut off.
6. Score in [0, 1]: metric height (from the floor for people standing on it) and width,
   head height above the floor, area, how box-like the silhouette is, a narrow head on top,
   support (standing on the floor or legs hidden behind something nearer), cuts at the
   image's sides, an outline continuing into a plane removed in step 4 at the same depth
   (what is left of a wall: a door jamb, mixed pixels at an edge; a person stands out of the
   wall behind it), a forward extent over twice the height and width (an object chained to
   the surfaces behind it). Partly visible people (image border, occluders) still qualify,
   scored lower.
7. Full resolution: masks from the pixels of each chosen component's cells and their
   neighbours (depth-checked, floor excluded), boxes from the masks grown down to the floor
   under the feet; proposals sorted by the distance of their centroid from the camera.

Learned cells (optional; ``PoseEstimator(EstimatorConfig(cell_model='default'))``)
--------------------------------------------------------------------------------
With ``cell_scorer`` (``inference.person_cells.PersonCellScorer``, the shipped
``models/person_cells``), a small network gives every grid cell a person probability after
step 3, from the planes of :data:`CELL_FEATURES`. Cells below ``cell_threshold`` are not
segmented (walls, furniture and pillars a person touches, which the rules would merge with the
person, and what is left of them after plane removal), and step 6's score is multiplied by a
ramp of the component's mean person probability (pieces of furniture and walls that look
person-sized to the rules). With ``cell_mode='union'`` steps 4-7 run a second time on every
cell (the rules alone) and the people found there that no gated proposal covers are added,
scored with the looser ramp ``cell_union_range``: the classifier and the rules miss different
people. A classifier with offsets (``--offsets``) also gives every cell the offset to the
centre of the person it shows; with ``cell_votes`` the gated components are regrouped by these
votes before step 5 (:mod:`~kinpose_ros.core.vote_kernels`): split where the votes of one
component point at two centres (people side by side at one depth, which no depth rule can
part), joined where the votes of several meet (a person cut apart by a pole or another
person's arm in front). The core stays free of ONNX Runtime: the scorer is any callable from
the features to the probabilities, or to ``(probabilities, offsets)``.

Library choice: numpy + numba (already core dependencies), not Open3D. Open3D's RANSAC plane
fit and DBSCAN clustering cost several milliseconds per frame on an unorganised cloud and
would add a 100 MB dependency; the organised depth grid gives neighbours for free, and a
compiled union-find on it is about 0.1 ms.

Conventions: depth in metres, NaN invalid; points in the camera optical frame (x right, y down,
z forward); boxes in pixel edge coordinates (:mod:`kinpose_ros.core.depth`: an integer box
selects ``depth[y0:y1, x0:x1]``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kinpose_ros.core import person_shape as R
from kinpose_ros.core import plane_fit
from kinpose_ros.core import segmentation_kernels as K
from kinpose_ros.core import vote_kernels as V
from kinpose_ros.core.camera import Intrinsics

_TAN_LEVEL = math.tan(math.radians(25.0))  # steepest slope of a "level" surface

__all__ = ['CELL_FEATURES', 'PersonProposal', 'PersonSegmenter', 'SegmenterConfig',
           'SegmenterState', 'box_iou', 'cell_features', 'segment_people']


@dataclass(frozen=True)
class SegmenterConfig:
    """Parameters of :class:`PersonSegmenter` (metres and degrees).

    Thresholds of the form ``(a, b)`` mean ``a + b * z**2`` at depth ``z`` (sensor noise and
    quantisation grow with the square of the depth).

    Attributes:
        grid_rows, grid_min_step: rows of the working grid; the subsampling step is
            ``max(grid_min_step, round(H / grid_rows))`` pixels (3 at 320x240, 4 at 640x480 by
            default). ``grid_min_step=1`` gives step 2 at 320x240 (1.7x the cost, about the
            same accuracy, docs/benchmarks.md); use it for images of fewer than ~200 rows,
            where step 3 leaves too few cells per person.
        max_depth_m: cells farther than this are background.
        floor: fit and remove a floor plane.
        floor_max_tilt_deg: largest angle between the floor normal and camera up (-y).
        camera_height_range_m: allowed camera height above the floor.
        floor_hypotheses, floor_eval_points: RANSAC hypotheses and scoring points.
        floor_min_fraction: least inlier fraction of valid cells for a floor to count.
        floor_min_extent_m, floor_near_m: a plane whose cells extend less than
            ``floor_min_extent_m`` along the horizontal forward axis (about the 5th to 95th
            percentile) at a mean depth under ``floor_near_m`` is no floor: a person's torso
            close to the camera (a desk camera seeing an upper body) can pass for a floor
            tilted toward the camera. A far floor seen as a thin band (the camera pitched up,
            people in front) stays, however short. ``floor_min_extent_m=0`` disables the check.
        floor_margin: cells closer to the floor than this are floor.
        plane_tolerance: inlier band of plane fits.
        jump: neighbour depth difference that splits components; ``jump_slope`` adds
            ``slope x cell size`` for slanted surfaces.
        height_range_m, width_range_m: metric extent of a (partly visible) person.
        max_forward_m, max_area_m2: largest extent along the line of sight (horizontal) and
            visible metric area of a person; a component beyond any of the size limits is
            larger than a person (a wall along the line of sight is narrow but deep; a person
            touching a wall or a board merges with it) and loses its dominant plane.
        typical_height_m, typical_width_m: extents scored 1.
        min_area_m2: least visible metric area of a person.
        furniture_level_m: level surfaces above the floor at least this long (and half as
            wide) are furniture (table tops) and removed; 0 disables.
        fragment_max_m: components smaller than this (height and width) are fragments, and
            join a person-sized component they touch within a depth step of ``attach_jump``
            (a hand reaching toward the camera comes off the arm otherwise).
        join_jump_m, join_gap_m, join_margin_m, join_votes: parts of one person cut apart
            by something in front (a table, another person's arm) or by a depth step (a
            seated person's lap): a part directly below another, across a gap of hiding
            cells at most ``join_gap_m`` tall (or none), within ``join_jump_m`` of its depth,
            is joined to it when at least ``join_votes`` of its columns see it so and it lies
            under the upper part (``join_margin_m[0]`` lateral margin; touching parts also
            the upper part over the lower within ``join_margin_m[1]``).
        depth_gap_m: people one behind the other (touching where one reaches out): a
            person-sized component whose depths (0.1 m bins) leave a gap at least this long
            (each bin at most 1 % of its cells), with at least 20 % of its cells on either
            side, is split there; 0 disables.
        corridor_cut_m, corridor_margin_m: below this height above the floor, a person's
            cells must lie within (lateral, forward) margins of the extent of the part above
            it: people are upright, tables and chairs they touch stick out sideways.
        split_rounds: rounds of plane removal from components larger than a person.
        split_min_fraction: least inlier fraction for such a plane to be removed.
        remnant_range: a component whose outline continues into a removed plane (see
            ``person_shape.shape_features``) for more than the first fraction of its outline
            cells is what is left of a wall (a door jamb), not a person standing in front of
            it; its score falls to 0.1 of itself at the second.
        min_score: proposals scoring less are dropped.
        seed: RANSAC seed (the segmenter is deterministic).
        cell_threshold: with a cell classifier (``PersonSegmenter(cell_scorer=...)``), cells
            whose person probability is below this are not segmented (walls, furniture).
            None: the value tuned for ``cell_mode`` - 0.15 for ``'gate'``, 0.3 for
            ``'union'`` (whose second pass finds the people the classifier is unsure of).
        cell_score_range: with a cell classifier, a proposal's score is multiplied by a ramp
            of its cells' mean person probability, 0 at the first value and 1 at the second.
            None: (0.2, 0.5) for ``'gate'``, (0.5, 0.8) for ``'union'``. Chosen on seeds
            100-104 with the shipped classifier and votes (docs/benchmarks.md, session 6).
        cell_mode: with a cell classifier: ``'gate'`` - segment only the cells it keeps;
            ``'union'`` - also segment every cell with the rules alone and add the people
            found so that no gated proposal covers (box IoU < 0.3), their scores ramped by
            ``cell_union_range``. The two miss different people: with the shipped classifier
            and its votes, union finds more (held-out seeds 30-33 at native sensor sizes:
            98.6 % against 98.1 % gated, 96.7 % rules alone; at 320x240 97.6 % against 97.0 %)
            at the cost of a second pass of steps 4-7 (about 0.6 ms per 320x240 frame on a CPU
            core).
        cell_votes: with a cell classifier that also gives each cell the offset to its
            person's centre (a model trained with ``--offsets``;
            :mod:`~kinpose_ros.core.vote_kernels`), regroup the gated components before step
            5: a component whose votes form two groups more than ``vote_split_m`` apart is
            split (people side by side at one depth), components whose mean votes lie within
            ``vote_merge_m`` at depths within ``vote_depth_m`` are joined (a person cut apart
            by something in front). Ignored for a classifier without offsets.
        vote_split_m, vote_merge_m, vote_depth_m: see ``cell_votes`` (metres).
    """

    grid_rows: int = 120
    grid_min_step: int = 3
    max_depth_m: float = 10.0
    floor: bool = True
    floor_max_tilt_deg: float = 65.0
    camera_height_range_m: tuple = (0.2, 4.0)
    floor_hypotheses: int = 64
    floor_eval_points: int = 800
    floor_min_fraction: float = 0.03
    floor_min_extent_m: float = 0.5
    floor_near_m: float = 1.5
    floor_margin: tuple = (0.05, 0.004)
    plane_tolerance: tuple = (0.03, 0.006)
    jump: tuple = (0.05, 0.012)
    jump_slope: float = 2.5
    height_range_m: tuple = (0.35, 2.4)
    width_range_m: tuple = (0.12, 2.3)
    max_forward_m: float = 2.5
    max_area_m2: float = 1.3
    typical_height_m: tuple = (0.85, 2.1)
    typical_width_m: tuple = (0.35, 1.3)
    min_area_m2: float = 0.04
    furniture_level_m: float = 0.62
    fragment_max_m: float = 0.6
    join_jump_m: float = 0.4
    join_gap_m: float = 0.8
    join_margin_m: tuple = (0.25, 0.3)
    join_votes: float = 0.2
    depth_gap_m: float = 0.3
    corridor_cut_m: float = 1.0
    corridor_margin_m: tuple = (0.25, 0.3)
    attach_jump: tuple = (0.5, 0.01)
    split_rounds: int = 3
    split_min_fraction: float = 0.2
    remnant_range: tuple = (0.35, 0.45)
    min_score: float = 0.25
    seed: int = 0
    cell_threshold: float | None = None
    cell_score_range: tuple | None = None
    cell_mode: str = 'gate'
    cell_union_range: tuple = (0.1, 0.4)
    cell_votes: bool = True
    vote_split_m: float = 0.4
    vote_merge_m: float = 0.25
    vote_depth_m: float = 0.5

    def __post_init__(self) -> None:
        if self.grid_rows < 8:
            raise ValueError(f'SegmenterConfig.grid_rows must be >= 8, got {self.grid_rows}')
        if self.grid_min_step < 1:
            raise ValueError(f'SegmenterConfig.grid_min_step must be >= 1, got '
                             f'{self.grid_min_step}')
        for name in ('camera_height_range_m', 'height_range_m', 'width_range_m',
                     'typical_height_m', 'typical_width_m'):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi:
                raise ValueError(f'SegmenterConfig.{name} must be (lo, hi) with 0 <= lo < hi, '
                                 f'got {getattr(self, name)}')
        for name in ('floor_min_extent_m', 'floor_near_m'):
            if not getattr(self, name) >= 0:
                raise ValueError(f'SegmenterConfig.{name} must be >= 0, got '
                                 f'{getattr(self, name)}')
        if not 0 <= self.min_score <= 1:
            raise ValueError(f'SegmenterConfig.min_score must be in [0, 1], got {self.min_score}')
        union = self.cell_mode == 'union'
        if self.cell_threshold is None:
            object.__setattr__(self, 'cell_threshold', 0.3 if union else 0.15)
        if self.cell_score_range is None:
            object.__setattr__(self, 'cell_score_range', (0.5, 0.8) if union else (0.2, 0.5))
        if not 0 <= self.cell_threshold <= 1:
            raise ValueError(f'SegmenterConfig.cell_threshold must be in [0, 1], got '
                             f'{self.cell_threshold}')
        for name in ('cell_score_range', 'cell_union_range'):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f'SegmenterConfig.{name} must be (lo, hi) with lo < hi, got '
                                 f'{getattr(self, name)}')
        if self.cell_mode not in ('gate', 'union'):
            raise ValueError(f"SegmenterConfig.cell_mode must be 'gate' or 'union', got "
                             f'{self.cell_mode!r}')
        for name in ('max_forward_m', 'max_area_m2', 'join_jump_m', 'join_gap_m',
                     'vote_split_m', 'vote_merge_m', 'vote_depth_m'):
            if not getattr(self, name) > 0:
                raise ValueError(f'SegmenterConfig.{name} must be > 0, got '
                                 f'{getattr(self, name)}')
        for name in ('floor_margin', 'plane_tolerance', 'jump', 'attach_jump'):
            a, b = getattr(self, name)
            if a <= 0 or b < 0:
                raise ValueError(f'SegmenterConfig.{name} must be (a > 0, b >= 0) metres, got '
                                 f'{getattr(self, name)}')


@dataclass
class SegmenterState:
    """What a segmenter carries from frame to frame: the last floor plane.

    ``floor_plane``: (4,) ``(nx, ny, nz, d)`` in the camera frame, ``n . X + d`` the height
    above the floor, or None while no floor has been seen. ``floor_score``: its RANSAC score;
    while the plane scores at least 0.8 of that, no new hypotheses are drawn.
    """

    floor_plane: np.ndarray | None = None
    floor_score: float = 0.0


@dataclass
class PersonProposal:
    """One person candidate of a depth frame.

    Attributes:
        box_xyxy: (4,) int64 ``x0, y0, x1, y1`` pixel edges: the person is ``depth[y0:y1,
            x0:x1]``.
        mask: (H, W) bool person pixels (valid depth only).
        centroid_xyz: (3,) float64 mean of the person's points (on the working grid), metres,
            camera optical frame.
        score: confidence in [0, 1] that this is a person.
        height_m: visible extent along the floor normal (camera up without a floor), metres;
            measured from the floor for a person standing on it.
        num_pixels: pixels in ``mask``.
    """

    box_xyxy: np.ndarray
    mask: np.ndarray
    centroid_xyz: np.ndarray
    score: float
    height_m: float
    num_pixels: int


@dataclass
class _Grid:
    """The working grid of one frame (buffers are reused between frames)."""

    step: int           # pixels per cell side
    z: np.ndarray       # (Hg, Wg) float32 depth, NaN invalid
    P: np.ndarray       # (Hg, Wg, 3) float32 points, optical frame
    n_valid: int
    cell_area: float    # metric area of a cell at 1 m, m^2
    slope: float        # jump threshold term per metre of depth for slanted surfaces
    keep: np.ndarray    # (Hg, Wg) bool cells to segment
    labels: np.ndarray  # (Hg, Wg) int32 component labels, 0 = none
    plane: np.ndarray = field(default_factory=lambda: np.zeros(4))  # floor, zeros if none
    has_plane: bool = False
    axes: tuple = ()    # up, lateral, forward unit vectors


@dataclass
class _Components:
    """Labels 1..n of the grid: statistics (n + 1, ST_*), size class per label, class counts
    (see ``person_shape.classify``); ``folded``: rows holding merged labels' statistics
    (sums in another order than a pass over the grid gives)."""

    n: int
    stats: np.ndarray
    kind: np.ndarray
    counts: np.ndarray
    folded: np.ndarray


class PersonSegmenter:
    """Person proposals from depth frames (see the module docstring).

    Args:
        config: parameters (default :class:`SegmenterConfig`).
        state: carried between frames (the floor plane); a fresh one by default. Call
            :meth:`reset` when the camera moves to a different scene.
    """

    def __init__(self, config: SegmenterConfig | None = None,
                 state: SegmenterState | None = None, cell_scorer=None) -> None:
        self.config = config or SegmenterConfig()
        self.state = state if state is not None else SegmenterState()
        self.cell_scorer = cell_scorer
        self._buffers: dict = {}

    def reset(self) -> None:
        """Forget the floor plane of earlier frames."""
        self.state = SegmenterState()

    # ------------------------------------------------------------------ pipeline
    def segment(self, depth_m: np.ndarray, intrinsics: Intrinsics) -> list[PersonProposal]:
        """Person proposals of one frame, nearest first.

        Args:
            depth_m: (H, W) depth in metres matching ``intrinsics``; NaN (or <= 0) invalid.
            intrinsics: the camera.

        Returns:
            0..N :class:`PersonProposal`, sorted by centroid distance from the camera.

        Raises:
            ValueError: ``depth_m`` is not 2-D or its shape does not match ``intrinsics``.
        """
        depth = self._check(depth_m, intrinsics)
        grid = self._grid(depth, intrinsics)
        if grid.n_valid < 16:
            return []
        self._floor_and_cells(grid)
        cfg = self.config
        if self.cell_scorer is None:
            return self._people(depth, intrinsics, grid, None, None)
        prob, off = self._cell_probabilities(grid, intrinsics)
        if not cfg.cell_votes:
            off = None
        union = cfg.cell_mode == 'union'
        kept = grid.keep.copy() if union else None
        taken = self._buffer('taken', grid.keep.shape, np.bool_) if union else None
        grid.keep &= prob >= cfg.cell_threshold
        people = self._people(depth, intrinsics, grid, prob, cfg.cell_score_range, off,
                              mark=taken)
        if not union:
            return people
        # union: the rules on every cell as well; their people that no classifier-gated
        # proposal covers join, scored with the looser ramp of cell_union_range (those
        # mostly on the gated people's cells are dropped before their masks are made)
        grid.keep[:] = kept
        more = self._people(depth, intrinsics, grid, prob, cfg.cell_union_range, skip=taken)
        boxes = np.array([p.box_xyxy for p in people], np.float64).reshape(-1, 4)
        people += [p for p in more if not len(boxes) or
                   box_iou(p.box_xyxy, boxes).max() < 0.3]
        people.sort(key=lambda p: float(np.linalg.norm(p.centroid_xyz)))
        return people

    __call__ = segment

    def _people(self, depth: np.ndarray, k: Intrinsics, grid: _Grid, prob: np.ndarray | None,
                ramp: tuple | None, off: np.ndarray | None = None, mark: np.ndarray | None = None,
                skip: np.ndarray | None = None) -> list[PersonProposal]:
        """Steps 4-7 on ``grid.keep``: components (regrouped by the votes of the centre
        offsets ``off`` when given), person rules, scores (times the ``ramp`` of the cells'
        mean person probability with a classifier) and proposals. ``mark`` (grid bool) gets
        the cells of the people proposed; people with half their cells or more in ``skip``
        are not proposed."""
        comps = self._components(grid)
        if off is not None:
            self._vote_groups(grid, comps, prob, off, grid.step / k.fx)
        self._person_rules(grid, comps)
        cfg = self.config
        feats = R.shape_features(grid.P, grid.z, grid.labels, comps.stats, grid.axes[0],
                                 grid.axes[1], 0.25, 0.15, cfg.jump[0], cfg.jump[1],
                                 grid.cell_area, self._buffers['segmented'], grid.keep,
                                 1.5 * cfg.plane_tolerance[0], 1.5 * cfg.plane_tolerance[1])
        scores, heights = self._score(comps.stats, feats, grid)
        if prob is not None:
            scores *= self._cell_factor(grid.labels, prob, len(scores), ramp)
        # label 0 is "no component"; a score of 0 means "not a person" even at min_score 0
        chosen = np.flatnonzero((scores >= cfg.min_score) & (scores > 0))
        chosen = chosen[(chosen > 0) & (comps.stats[chosen, K.ST_COUNT] > 0)]
        if skip is not None and len(chosen):
            inside = np.bincount(grid.labels[skip], minlength=len(scores))
            chosen = chosen[inside[chosen] < 0.5 * comps.stats[chosen, K.ST_COUNT]]
        if mark is not None:
            sel = np.zeros(len(scores), np.bool_)
            sel[chosen] = True
            mark[:] = sel[grid.labels]
        return self._proposals(depth, k, grid, comps.stats, chosen, scores[chosen],
                               heights[chosen])

    def cell_features(self, depth_m: np.ndarray, intrinsics: Intrinsics) -> tuple:
        """``(features, step)``: (5, Hg, Wg) float32 inputs of a cell classifier for one
        frame - the working grid after the floor and table tops are removed (see
        :data:`CELL_FEATURES`) - and the grid step in pixels (cell ``(gy, gx)`` samples pixel
        ``(gy step + step // 2, gx step + step // 2)``). Fits (and carries) the floor as
        :meth:`segment` does."""
        grid = self._grid(self._check(depth_m, intrinsics), intrinsics)
        self._floor_and_cells(grid)
        return self._cell_features(grid, intrinsics), grid.step

    def _cell_features(self, grid: _Grid, k: Intrinsics) -> np.ndarray:
        return cell_features(grid.z, self._buffers['height'], grid.keep, grid.step / k.fx)

    def _cell_probabilities(self, grid: _Grid, k: Intrinsics) -> tuple:
        """``(prob, offsets)``: the classifier's (Hg, Wg) person probabilities and, for a
        classifier that gives them, (2, Hg, Wg) float32 centre offsets in cells (else None)."""
        out = self.cell_scorer(self._cell_features(grid, k))
        prob, off = out if isinstance(out, tuple) else (out, None)
        prob = np.asarray(prob)
        if prob.shape != grid.keep.shape:
            raise ValueError(f'cell_scorer returned shape {prob.shape}, expected the working '
                             f'grid {grid.keep.shape}')
        if off is not None:
            off = np.ascontiguousarray(off, np.float32)
            if off.shape != (2,) + grid.keep.shape:
                raise ValueError(f'cell_scorer returned offsets of shape {off.shape}, expected '
                                 f'(2, *{grid.keep.shape})')
        return prob, off

    # ------------------------------------------------------------------ steps
    @staticmethod
    def _check(depth_m: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
        depth = np.asarray(depth_m)
        if depth.ndim != 2 or depth.shape != (intrinsics.height, intrinsics.width):
            raise ValueError(
                f'depth_m must be (H, W) = ({intrinsics.height}, {intrinsics.width}) to match '
                f'the intrinsics, got shape {depth.shape}')
        if depth.dtype != np.float32:
            depth = depth.astype(np.float32)
        return np.ascontiguousarray(depth)

    def _buffer(self, name: str, shape: tuple, dtype) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.empty(shape, dtype)
            self._buffers[name] = buf
        return buf

    def _grid(self, depth: np.ndarray, k: Intrinsics) -> _Grid:
        H, W = depth.shape
        step = max(self.config.grid_min_step, int(round(H / self.config.grid_rows)))
        shape = (H // step, W // step)
        z = self._buffer('z', shape, np.float32)
        P = self._buffer('P', shape + (3,), np.float32)
        n_valid = K.make_grid(depth, step, float(self.config.max_depth_m), k.fx, k.fy, k.cx,
                              k.cy, z, P)
        return _Grid(step, z, P, n_valid, cell_area=step * step / (k.fx * k.fy),
                     slope=self.config.jump_slope * step / k.fx,
                     keep=self._buffer('keep', shape, np.bool_),
                     labels=self._buffer('labels', shape, np.int32))

    def _floor_and_cells(self, grid: _Grid) -> None:
        """Steps 2-3: floor plane, frame axes and the cells to segment."""
        grid.plane = self._floor(grid)
        grid.has_plane = bool(grid.plane.any())
        grid.axes = _frame_axes(grid.plane)
        self._cells(grid)

    def _floor(self, grid: _Grid) -> np.ndarray:
        """(4,) float64 floor plane, zeros when none was found (or floors are disabled)."""
        cfg = self.config
        plane = np.zeros(4)
        if not cfg.floor:
            return plane
        prev = self.state.floor_plane
        prev = np.zeros(4) if prev is None else np.asarray(prev, np.float64)
        frac, score = plane_fit.fit_floor(
            grid.P, grid.n_valid, prev, self.state.floor_score, cfg.seed, cfg.floor_hypotheses,
            cfg.floor_eval_points, math.cos(math.radians(cfg.floor_max_tilt_deg)),
            cfg.camera_height_range_m[0], cfg.camera_height_range_m[1], cfg.plane_tolerance[0],
            cfg.plane_tolerance[1], plane)
        if frac < cfg.floor_min_fraction:
            plane[:] = 0.0
        elif plane.any() and cfg.floor_min_extent_m > 0:
            extent, depth = plane_fit.inlier_extent(grid.P, plane, _frame_axes(plane)[2],
                                                    cfg.plane_tolerance[0],
                                                    cfg.plane_tolerance[1], 4)
            if extent < cfg.floor_min_extent_m and depth < cfg.floor_near_m:
                plane[:] = 0.0
        found = bool(plane.any())
        self.state.floor_plane = plane.copy() if found else None
        self.state.floor_score = score if found else 0.0
        return plane

    def _cells(self, grid: _Grid) -> None:
        """``grid.keep``: cells to segment - valid, above the floor, not on a table top (a
        person touching a table would otherwise merge with it)."""
        cfg = self.config
        level = self._buffer('level', grid.z.shape, np.bool_)
        height = self._buffer('height', grid.z.shape, np.float32)
        level_idx = self._buffer('level_idx', (grid.z.size,), np.int32)
        n_level = K.keep_and_level(grid.P, grid.plane, cfg.floor_margin[0], cfg.floor_margin[1],
                                   3, _TAN_LEVEL, cfg.plane_tolerance[0],
                                   cfg.plane_tolerance[1], grid.keep, level, height, level_idx)
        if n_level >= 8 and cfg.furniture_level_m > 0:
            K.clear_table_tops(grid.P, grid.z, height, level, level_idx, n_level, grid.axes[1],
                               grid.axes[2], 0.04, 0.002, cfg.furniture_level_m, 0.2, grid.keep)

    def _label(self, grid: _Grid) -> _Components:
        """Depth-continuous components of the kept cells, their statistics and size
        classes."""
        cfg = self.config
        n, stats = K.label_grid(grid.z, grid.keep, cfg.jump[0], cfg.jump[1], grid.slope,
                                grid.labels, grid.P, *grid.axes, grid.cell_area)
        kind = np.empty(n + 1, np.int8)
        counts = self._classify(stats, kind)
        return _Components(n, stats, kind, counts, np.zeros(n + 1, np.bool_))

    @staticmethod
    def _restat(grid: _Grid, comps: _Components, redo: np.ndarray) -> None:
        """Recompute the statistics rows ``redo`` (and the folded ones) after their cells
        changed, with the values a full pass would give."""
        redo |= comps.folded
        K.update_stats(grid.P, grid.labels, comps.stats, redo, *grid.axes, grid.cell_area)
        comps.folded[:] = False

    def _split_off(self, grid: _Grid, comps: _Components, origin: np.ndarray,
                   n_split: int) -> None:
        """Statistics and classes after labels ``origin[:n_split]`` lost cells to the new
        labels ``n + 1 .. n + n_split``."""
        n = comps.n + n_split
        comps.stats = np.concatenate([comps.stats, np.zeros((n_split, K.N_STATS))])
        comps.folded = np.concatenate([comps.folded, np.zeros(n_split, np.bool_)])
        redo = np.zeros(n + 1, np.bool_)
        redo[origin[:n_split]] = True
        redo[comps.n + 1:] = True
        self._restat(grid, comps, redo)
        comps.n = n
        comps.kind = np.empty(n + 1, np.int8)
        comps.counts = self._classify(comps.stats, comps.kind)

    @staticmethod
    def _merge(grid: _Grid, comps: _Components, parent: np.ndarray) -> None:
        """Relabel merged components (``parent``: label -> root) and fold their
        statistics into the roots'."""
        R.merge_components(grid.labels, comps.stats, parent, comps.folded)

    def _classify(self, stats: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """Size classes of ``stats`` into ``kind`` (see ``person_shape.classify``)."""
        cfg = self.config
        return R.classify(stats, cfg.height_range_m[0], cfg.height_range_m[1],
                          cfg.width_range_m[0], cfg.width_range_m[1], cfg.max_forward_m,
                          cfg.max_area_m2, cfg.fragment_max_m, kind)

    def _components(self, grid: _Grid) -> _Components:
        """Depth-continuous components, split where people stand one behind the other (a gap
        in their depths); those larger than a person (walls, a ceiling, floor left over) lose
        their dominant plane, and the rest is labelled again."""
        cfg = self.config
        segmented = self._buffer('segmented', grid.keep.shape, np.bool_)
        segmented[:] = grid.keep  # before plane removal: the remnant cue of the score
        for round_ in range(cfg.split_rounds + 1):
            comps = self._label(grid)
            n = comps.n
            if cfg.depth_gap_m > 0:
                origin = np.empty(n + 1, np.int32)
                n_split = R.split_by_depth(grid.z, grid.labels, comps.stats, comps.kind,
                                           cfg.height_range_m[1], cfg.width_range_m[1], 0.1,
                                           cfg.depth_gap_m, 0.01, 0.2, n + 1, origin)
                if n_split:
                    self._split_off(grid, comps, origin, n_split)
            if round_ == cfg.split_rounds or comps.counts[3] == 0:
                break
            if not plane_fit.remove_planes(grid.P, grid.labels, comps.kind,
                                           comps.stats[:, K.ST_COUNT], cfg.seed + round_, 32,
                                           cfg.plane_tolerance[0], cfg.plane_tolerance[1],
                                           cfg.split_min_fraction, 1.5, grid.keep):
                break
        return comps

    def _person_rules(self, grid: _Grid, comps: _Components) -> None:
        """Limb fragments and parts cut apart by something in front join their person; people
        one behind the other or side by side are split; furniture sticking out below a
        person's upper body is cut off (``comps`` updated in place)."""
        cfg = self.config
        has_plane = grid.has_plane
        if comps.counts[1] and comps.counts[2]:
            parent = np.arange(comps.n + 1, dtype=np.int32)
            if R.attach_fragments(grid.z, grid.labels, comps.kind, cfg.attach_jump[0],
                                  cfg.attach_jump[1], parent):
                self._merge(grid, comps, parent)
        parent = np.arange(comps.n + 1, dtype=np.int32)
        if R.join_hidden_parts(grid.P, grid.z, grid.labels, grid.keep, self._buffers['level'],
                               self._buffers['height'], comps.kind, comps.stats, grid.axes[0],
                               cfg.jump[0], cfg.jump[1], cfg.join_jump_m, cfg.join_gap_m,
                               cfg.join_margin_m[0], cfg.join_margin_m[1], cfg.join_votes,
                               cfg.height_range_m[1], cfg.width_range_m[1], parent):
            self._merge(grid, comps, parent)
            comps.counts = self._classify(comps.stats, comps.kind)
        if comps.counts[2]:
            origin = np.empty(comps.n + 1, np.int32)
            n_split = R.split_side_by_side(
                grid.P, grid.labels, comps.stats, comps.kind, 0.7, grid.axes[0], grid.axes[1],
                grid.plane[3], 0.05, 0.35, 0.4, 1.2 if has_plane else -1e9, comps.n + 1, origin)
            if n_split:
                self._split_off(grid, comps, origin, n_split)
        if has_plane and cfg.corridor_cut_m > 0 and comps.counts[2]:
            trimmed = np.zeros(comps.n + 1, np.bool_)
            if R.trim_to_corridor(grid.P, grid.labels, comps.stats, comps.kind, grid.plane,
                                  grid.axes[1], grid.axes[2], cfg.corridor_cut_m,
                                  cfg.corridor_margin_m[0], cfg.corridor_margin_m[1], trimmed):
                self._restat(grid, comps, trimmed)

    def _vote_groups(self, grid: _Grid, comps: _Components, prob: np.ndarray, off: np.ndarray,
                     step_over_fx: float) -> None:
        """Components regrouped by the centre votes (``cell_votes``): split where the votes
        part, joined where they meet (``comps`` updated in place)."""
        cfg = self.config
        origin = np.empty(comps.n + 1, np.int32)
        n_split = V.split_by_votes(grid.labels, off, comps.stats, comps.kind, step_over_fx,
                                   cfg.vote_split_m, 0.15, 8, comps.n + 1, origin)
        if n_split:
            self._split_off(grid, comps, origin, n_split)
        parent = np.arange(comps.n + 1, dtype=np.int32)
        if V.merge_by_votes(grid.z, grid.labels, off, np.asarray(prob, np.float32),
                            comps.stats, step_over_fx, cfg.vote_merge_m, cfg.vote_depth_m, 4,
                            0.5, cfg.height_range_m[1], cfg.width_range_m[1], parent):
            self._merge(grid, comps, parent)
            comps.counts = self._classify(comps.stats, comps.kind)

    @staticmethod
    def _cell_factor(labels: np.ndarray, prob: np.ndarray, n: int, ramp: tuple) -> np.ndarray:
        """(n,) score factor per label: ``ramp`` (lo, hi) of its cells' mean person
        probability."""
        lo, hi = ramp
        mean = K.mean_per_label(labels, np.ascontiguousarray(prob), n)
        return np.clip((mean - lo) / (hi - lo), 0.0, 1.0)

    def _score(self, stats: np.ndarray, feats: np.ndarray, grid: _Grid) -> tuple:
        """(n + 1,) scores in [0, 1] (0 = not a person) and visible heights (metres)."""
        cfg = self.config
        limits = np.array([*cfg.height_range_m, *cfg.width_range_m, cfg.min_area_m2,
                           cfg.typical_height_m[0], cfg.typical_width_m[0],
                           cfg.typical_width_m[1], *cfg.remnant_range])
        scores = np.empty(len(stats))
        heights = np.empty(len(stats))
        R.score_components(stats, feats, float(grid.plane[3]), grid.has_plane, limits, scores,
                           heights)
        return scores, heights

    def _proposals(self, depth: np.ndarray, k: Intrinsics, grid: _Grid, stats: np.ndarray,
                   chosen: np.ndarray, scores: np.ndarray,
                   heights: np.ndarray) -> list[PersonProposal]:
        """Full-resolution masks and boxes of the ``chosen`` components, nearest first."""
        if len(chosen) == 0:
            return []
        cfg = self.config
        masks, boxes, count, centroids, order = K.person_masks(
            depth, grid.step, grid.z, grid.labels, stats, chosen, grid.plane,
            cfg.floor_margin[0], cfg.floor_margin[1], cfg.jump[0], cfg.jump[1],
            2.0 * cfg.jump_slope * grid.step / k.fx, k.fx, k.fy, k.cx, k.cy)
        return [PersonProposal(boxes[i], masks[i], centroids[i], float(scores[i]),
                               float(heights[i]), int(count[i]))
                for i in order if count[i] > 0]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of (N, 4) and (M, 4) boxes in pixel edge coordinates ``x0, y0, x1, y1``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _frame_axes(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit ``up`` (floor normal, else camera -y), ``lateral`` (camera x made horizontal) and
    ``forward`` (horizontal, away from the camera)."""
    nx, ny, nz, d = plane.tolist()
    ux, uy, uz = (nx, ny, nz) if nx or ny or nz or d else (0.0, -1.0, 0.0)
    lx, ly, lz = 1.0 - ux * ux, -ux * uy, -ux * uz
    norm = math.sqrt(lx * lx + ly * ly + lz * lz)
    lx, ly, lz = lx / norm, ly / norm, lz / norm
    return (np.array([ux, uy, uz]), np.array([lx, ly, lz]),
            np.array([uy * lz - uz * ly, uz * lx - ux * lz, ux * ly - uy * lx]))


CELL_FEATURES = ('depth', 'valid', 'height', 'kept', 'cell_size')
"""Input planes of a cell classifier: depth / 4 m (0 invalid); valid depth; height above the
floor / 2 m (0 without a floor); kept after floor and table-top removal; metric cell side x 30
(``z step / fx``: the scale of a cell, which differs between sensors)."""


def cell_features(z: np.ndarray, height: np.ndarray, keep: np.ndarray,
                  step_over_fx: float) -> np.ndarray:
    """(5, Hg, Wg) float32 :data:`CELL_FEATURES` of a working grid (``z`` depth NaN invalid,
    ``height`` above the floor NaN unknown, ``keep`` cells kept)."""
    out = np.empty((5,) + z.shape, np.float32)
    K.cell_planes(np.ascontiguousarray(z, np.float32), np.ascontiguousarray(height, np.float32),
                  np.ascontiguousarray(keep, np.bool_), float(step_over_fx), out)
    return out


def segment_people(depth_m: np.ndarray, intrinsics: Intrinsics,
                   config: SegmenterConfig | None = None,
                   state: SegmenterState | None = None) -> list[PersonProposal]:
    """One-call form of :meth:`PersonSegmenter.segment` (``state`` carries the floor plane
    between calls when given; it is updated in place)."""
    return PersonSegmenter(config, state).segment(depth_m, intrinsics)

