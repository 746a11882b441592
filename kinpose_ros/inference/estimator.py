"""PoseEstimator: a depth frame in, the tracked people's 3-D poses out (what the node runs).

Stages (``FrameResult.timings_ms`` keys, plus 'total'):
  * segment: person proposals from the depth frame (``core.segmentation.PersonSegmenter``, or
    proposals passed in), at most ``max_people``, nearest first;
  * crop: one ``core.depth.crop_depth_batch`` call under the card's crop rule and normalisation;
  * infer: one backend call for all people;
  * decode: network outputs -> camera optical frame (metres), and a per-joint confidence;
  * angles: native root pose and joint angles (kinematic models), or an IK fit
    (``core.ik``, per-person scale, weights = confidence, warm start from the track's last fit);
  * filter: id tracking on proposal centroids and One-Euro smoothing of joints, root pose, angles
    and scale; velocities are finite differences of the smoothed angles over the frame stamps.
Joint transforms (camera <- joint frame) come from forward kinematics of the smoothed parameters,
so they always form a valid skeleton; ``joints_xyz`` are the network's (smoothed) joints, which
for joint models differ from the transforms' origins by the IK residual.

Confidence (0..1 per joint) = network confidence x agreement with the depth surface x (joint
models) IK agreement. The surface term compares the joint's depth with the measured depth at its
pixel: a joint in front of the visible surface is impossible (factor falls to 0 over
``surface_tolerance_m``), one far behind it is occluded (``occluded_factor``), one outside the
image or on an invalid pixel is unverified (``unverified_factor``). Frames unlike the training
data thus give low confidences instead of confident garbage.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.filters import OneEuroFilter, Tracker
from kinpose_ros.core.ik import pack_tables
from kinpose_ros.core.kinematics import KinematicTables, forward_kinematics_np
from kinpose_ros.inference import post_kernels
from kinpose_ros.inference.crop_geometry import Decoded, decode_outputs, make_crops
from kinpose_ros.inference.model_card import ModelCard
from kinpose_ros.inference.types import FrameResult, PoseResult

__all__ = ['STAGES', 'EstimatorConfig', 'PoseEstimator']

log = logging.getLogger('kinpose_ros.inference')
STAGES = ('segment', 'crop', 'infer', 'decode', 'angles', 'filter')


@dataclass
class EstimatorConfig:
    """Tunable behaviour of ``PoseEstimator`` (units in the names; defaults for bodies)."""

    max_people: int = 4
    min_proposal_score: float = 0.0
    # drop a person when mean(network confidence x surface agreement) x proposal score is below
    # this, before tracking: furniture and wall pieces the segmenter proposes get a network
    # that votes all over the crop. Confidence scales differ between models, so None takes the
    # model card's ``person_score_threshold`` (0.02 for the shipped a2j_body15, 0 = keep all for
    # cards without one; docs/benchmarks.md, "Person score filter").
    min_person_score: float | None = None
    # the default segmenter's cell classifier (walls and furniture a person touches are cut
    # off before components form, people side by side split and people cut apart joined by
    # its centre votes: 98.1 % of people found on held-out scenes against 96.7 % for the
    # rules, 4x fewer phantom proposals, for 0.7 ms more per frame; docs/benchmarks.md
    # "Instance votes"): 'none' = depth rules only (the default: keeps the pipeline near
    # 200 FPS on 2 cores), 'default' = the shipped models/person_cells.json (depth rules
    # alone, with a warning, where it or ONNX Runtime is missing), else a card path
    cell_model: str = 'none'
    # with a cell classifier: 'gate' (segment only the cells it keeps) or 'union' (also the
    # rules on every cell: 98.6 % on held-out native-size scenes, 97.6 % against 97.0 % at
    # 320x240, for one more segmentation pass: ~2.0 ms per 320x240 frame in all
    # here; core.segmentation.SegmenterConfig.cell_mode)
    cell_mode: str = 'gate'
    backend: str = 'auto'                 # see backends.BACKEND_KINDS
    threads: int | None = None            # CPU threads of the backend
    engine_precision: str = 'fp16'        # TensorRT: fp32 | fp16 | int8
    engine_cache_dir: str | None = None   # TensorRT cache (None: engine_cache.default_cache_dir)
    engine_rebuild: bool = False          # TensorRT: rebuild a mismatching engine, not raise
    ik_max_iterations: int = 15
    ik_tolerance: float = 1e-6            # stop when the cost (m^2) improves less than this:
                                          # 1 mm-level changes; ~30 % fewer iterations than
                                          # 1e-9 at the same error on noisy targets
    ik_restarts: int = 0                  # warm starts keep fits continuous; restarts cost time
    ik_restart_threshold_m: float = 0.05
    ik_threads: int = 1                   # numba threads for IK (1 is fastest for a few people)
    ik_residual_scale_m: float = 0.08     # IK confidence factor exp(-(residual / scale)^2)
    surface_tolerance_m: float = 0.12     # joint allowed this far in front of the surface
    occluded_behind_m: float = 0.4        # farther behind the surface than this = occluded
    occluded_factor: float = 0.5
    unverified_factor: float = 0.5
    track_gate_m: float = 0.6
    track_max_age_s: float = 0.5
    smoothing: bool = True
    position_min_cutoff_hz: float = 1.5
    position_beta: float = 0.5
    angle_min_cutoff_hz: float = 1.5
    angle_beta: float = 0.3
    derivative_cutoff_hz: float = 1.0
    nominal_dt_s: float = 1 / 30

    def __post_init__(self) -> None:
        if self.max_people < 0 or self.ik_threads < 1:
            raise ValueError(f'EstimatorConfig: max_people >= 0 and ik_threads >= 1 expected, '
                             f'got {self.max_people}, {self.ik_threads}')
        if self.cell_mode not in ('gate', 'union'):
            raise ValueError(f"EstimatorConfig.cell_mode must be 'gate' or 'union', got "
                             f'{self.cell_mode!r}')


class PoseEstimator:
    """Depth frame + intrinsics -> ``FrameResult`` with tracked ``PoseResult`` people.

    Args:
        model: a ``ModelCard`` or the path of a card (.json) or its ONNX file.
        config: ``EstimatorConfig``.
        backend: a backend instance, or a kind for ``backends.create_backend`` (default:
            ``config.backend``).
        checkpoint: training checkpoint, needed only by the PyTorch backend.
        segmenter: object with ``segment(depth_m, intrinsics) -> list of proposals``; default
            ``core.segmentation.PersonSegmenter`` with ``config.cell_model``'s classifier,
            created on first use.
        warm_up: run the backend and compile/load the IK kernels now (numba compiles on the
            first run after install, about a minute, then loads from its cache) so that the
            first frame is not slow.
    """

    def __init__(self, model: ModelCard | str | Path, config: EstimatorConfig | None = None,
                 backend=None, checkpoint: str | Path | None = None, segmenter=None,
                 warm_up: bool = True) -> None:
        from kinpose_ros.inference.backends import create_backend  # noqa: PLC0415

        self.config = config or EstimatorConfig()
        self.card = model if isinstance(model, ModelCard) else ModelCard.load(model)
        self.min_person_score = float(self.card.person_score_threshold
                                      if self.config.min_person_score is None
                                      else self.config.min_person_score)
        planes = len(self.card.input.planes or [])
        if self.card.input.channels != 1 + planes:
            raise ValueError(f'model {self.card.name!r}: input.channels '
                             f'{self.card.input.channels}; the estimator builds depth crops '
                             f"(1 channel) plus the card's {planes} geometry planes so far")
        self.skeleton = self.card.load_skeleton()
        self.tables = KinematicTables.of(self.skeleton)
        self._packed = pack_tables(self.skeleton)
        cfg = self.config
        engine = {'precision': cfg.engine_precision, 'cache_dir': cfg.engine_cache_dir,
                  'rebuild': cfg.engine_rebuild, 'max_batch': max(1, cfg.max_people)}
        self.backend = create_backend(self.card, backend or cfg.backend, checkpoint=checkpoint,
                                      threads=cfg.threads, engine_options=engine)
        self.segmenter = segmenter
        # resolved now, so that a wrong cell_model fails at start-up, not at the first frame
        self._cells = self._cell_scorer() if segmenter is None else None
        self.tracker = Tracker(self.config.track_gate_m, self.config.track_max_age_s)
        self._ik = None
        if self.card.angles == 'ik':
            from kinpose_ros.core.ik import InverseKinematics  # noqa: PLC0415

            self._ik = InverseKinematics(self.skeleton, self.config.ik_max_iterations,
                                         tolerance=self.config.ik_tolerance,
                                         restarts=self.config.ik_restarts,
                                         restart_threshold=self.config.ik_restart_threshold_m)
        if warm_up:
            self.warm_up()

    # ---- public ----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """One backend call, one crop (loads the compiled crop kernel), the surface check, two
        filter steps and one cold + one warm IK fit on the rest pose."""
        from kinpose_ros.core.depth import crop_depth_batch  # noqa: PLC0415

        c, h, w = self.card.input.channels, *self.card.input_size
        self.backend(np.zeros((1, c, h, w), np.float32))
        crop_depth_batch(np.ones((8, 8), np.float32), np.array([[0.0, 0.0, 8.0, 8.0]]), (w, h),
                         np.ones(1))
        post_kernels.surface_factor(np.zeros((1, 1, 2)), np.ones((1, 1)),
                                    np.ones((2, 2), np.float32), 0.1, 0.4, 0.5, 0.5)
        smoother = OneEuroFilter()  # loads the compiled filter step
        smoother(np.zeros(3), 0.0)
        smoother(np.zeros(3), 1.0)
        J, D = self.skeleton.num_joints, self.skeleton.num_dofs
        state = np.zeros((1, 3 * J + 13 + D))
        state[0, 3 * J + 3:3 * J + 12] = np.eye(3).ravel()
        state[0, 3 * J + 12] = 1.0
        self._finish(state, Intrinsics(1, 1, 1.0, 1.0, 0.0, 0.0), np.ones((1, J)),
                     np.ones((1, J)), np.full((1, J), np.nan))
        if self._ik is not None:
            rest, _ = forward_kinematics_np(self.tables, np.zeros((1, self.skeleton.num_params)))
            rest[..., 2] += 3.0
            first = self._solve_ik(rest, np.ones(rest.shape[:2]), None)
            self._solve_ik(rest, np.ones(rest.shape[:2]), first[:4])

    def reset(self) -> None:
        """Forget all tracks (ids restart from 0)."""
        self.tracker.reset()

    def __call__(self, depth_m: np.ndarray, intrinsics: Intrinsics, rgb: np.ndarray | None = None,
                 stamp: float | None = None, proposals: list | None = None) -> FrameResult:
        """Estimate the poses in one frame.

        Args:
            depth_m: (H, W) float depth in metres, NaN (or <= 0) = invalid, matching
                ``intrinsics``' size.
            intrinsics: the depth camera.
            rgb: (H, W, 3) registered colour image; accepted for RGB-D models (unused by
                depth-only ones).
            stamp: frame time in seconds (drives smoothing, velocities and track ageing);
                default: the monotonic clock.
            proposals: person proposals to use instead of running the segmenter.

        Raises:
            ValueError: depth of the wrong shape, dtype or size for the intrinsics.
        """
        t_start = time.perf_counter()
        depth_m = self._check_depth(depth_m, intrinsics, rgb)
        stamp = time.monotonic() if stamp is None else float(stamp)
        timings = dict.fromkeys(STAGES, 0.0)
        if not np.any(depth_m > 0):  # NaN compares False
            return self._nobody(stamp, timings, t_start, 'no valid depth pixel in the frame')
        t = time.perf_counter()
        props = self._proposals(depth_m, intrinsics, proposals)
        t = _lap(timings, 'segment', t)
        crops, infos = make_crops(depth_m, intrinsics, props, self.card)
        keep = [i for i, ci in enumerate(infos) if np.isfinite(ci.center_depth_m)]
        if len(keep) < len(infos):  # no valid pixel in the crop: nothing to estimate from
            crops, infos, props = crops[keep], [infos[i] for i in keep], [props[i] for i in keep]
        t = _lap(timings, 'crop', t)
        if not props:
            return self._nobody(stamp, timings, t_start)
        outputs = self.backend(crops)
        t = _lap(timings, 'infer', t)
        dec = decode_outputs(outputs, infos, intrinsics, self.card)
        surface = self._surface_factor(dec, depth_m)
        if self.min_person_score > 0:
            dec, surface, props = self._drop_unlikely(dec, surface, props)
        t = _lap(timings, 'decode', t)
        if not props:
            return self._nobody(stamp, timings, t_start)
        tracks = self.tracker.update(np.array([p.centroid_xyz for p in props]), stamp)
        t = _lap(timings, 'filter', t)
        fit = self._angles(dec, surface, tracks)
        t = _lap(timings, 'angles', t)
        people = self._assemble(dec, fit, surface, props, tracks, stamp, intrinsics)
        _lap(timings, 'filter', t)
        timings['total'] = (time.perf_counter() - t_start) * 1e3
        return FrameResult(people, timings, stamp, '')

    # ---- stages ----------------------------------------------------------------------------
    def _check_depth(self, depth_m: np.ndarray, intrinsics: Intrinsics, rgb) -> np.ndarray:
        depth_m = np.asarray(depth_m)
        if depth_m.ndim != 2 or depth_m.shape != (intrinsics.height, intrinsics.width):
            raise ValueError(f'depth_m: expected shape (H, W) = ({intrinsics.height}, '
                             f'{intrinsics.width}) matching the intrinsics, got {depth_m.shape}')
        if not np.issubdtype(depth_m.dtype, np.floating):
            raise ValueError(f'depth_m: expected float metres (NaN = invalid), got '
                             f'{depth_m.dtype}; convert raw images with core.depth.decode_depth')
        if rgb is not None and np.shape(rgb)[:2] != depth_m.shape:
            raise ValueError(f'rgb: expected ({depth_m.shape[0]}, {depth_m.shape[1]}, 3) '
                             f'registered to the depth image, got {np.shape(rgb)}')
        return depth_m

    def _cell_scorer(self):
        """The segmenter's cell classifier of ``config.cell_model`` (None: rules only)."""
        from kinpose_ros.inference.person_cells import cell_scorer_for  # noqa: PLC0415

        name = self.config.cell_model
        scorer = cell_scorer_for(name, self._cell_device(name))
        if scorer is None and name == 'default':
            log.warning('segmenter: no person-cell model (models/person_cells.json or ONNX '
                        'Runtime missing); using the depth rules alone')
        return scorer

    def _cell_device(self, name: str) -> str:
        """'cuda' for the cell classifier when the pose network runs on the GPU (CUDA or
        TensorRT) and ONNX Runtime has its CUDA provider, else 'cpu'."""
        backend = getattr(self.backend, 'name', '')
        if not name or name.lower() == 'none' or not backend.startswith(
                ('onnxruntime-cuda', 'torch-cuda', 'tensorrt')):
            return 'cpu'
        try:
            import onnxruntime as ort  # noqa: PLC0415
        except ImportError:
            return 'cpu'
        if 'CUDAExecutionProvider' in ort.get_available_providers():
            return 'cuda'
        log.info('segmenter: the pose network runs on the GPU but ONNX Runtime has no CUDA '
                 'provider; the person-cell classifier runs on the CPU')
        return 'cpu'

    def _proposals(self, depth_m: np.ndarray, intrinsics: Intrinsics, proposals) -> list:
        if proposals is None:
            if self.segmenter is None:
                try:
                    from kinpose_ros.core.segmentation import PersonSegmenter  # noqa: PLC0415
                except ImportError as exc:
                    raise RuntimeError('no person segmenter: core.segmentation is not '
                                       'available; pass proposals= or segmenter=') from exc
                from kinpose_ros.core.segmentation import SegmenterConfig  # noqa: PLC0415

                self.segmenter = PersonSegmenter(SegmenterConfig(cell_mode=self.config.cell_mode),
                                                 cell_scorer=self._cells)
            proposals = self.segmenter.segment(depth_m, intrinsics)
        props = [p for p in proposals if float(getattr(p, 'score', 1.0))
                 >= self.config.min_proposal_score]
        props.sort(key=lambda p: float(np.linalg.norm(p.centroid_xyz)))
        return props[:self.config.max_people]

    def _nobody(self, stamp: float, timings: dict, t_start: float,
                reason: str = '') -> FrameResult:
        """The result of a frame without people (tracks age; ``reason`` when skipped)."""
        self.tracker.expire(stamp)
        timings['total'] = (time.perf_counter() - t_start) * 1e3
        return FrameResult([], timings, stamp, reason)

    @staticmethod
    def person_scores(dec: Decoded, surface: np.ndarray, props: list) -> np.ndarray:
        """(N,) what ``min_person_score`` is compared with: mean over joints of network
        confidence x surface agreement (both NaN-free), times the proposal score."""
        prop_score = np.array([float(getattr(p, 'score', 1.0)) for p in props])
        return (dec.confidence * surface).mean(axis=1) * prop_score

    def _drop_unlikely(self, dec: Decoded, surface: np.ndarray, props: list) -> tuple:
        """Keep the people whose ``person_scores`` reach ``min_person_score``."""
        keep = np.flatnonzero(self.person_scores(dec, surface, props) >= self.min_person_score)
        if len(keep) == len(props):
            return dec, surface, props
        fields = {f: getattr(dec, f) for f in dec.__dataclass_fields__}
        dec = Decoded(**{f: (v[keep] if v is not None else None) for f, v in fields.items()})
        return dec, surface[keep], [props[i] for i in keep]

    def _surface_factor(self, dec: Decoded, depth_m: np.ndarray) -> np.ndarray:
        """(N, J) agreement of each joint with the measured surface (module docstring)."""
        cfg = self.config
        return post_kernels.surface_factor(
            np.ascontiguousarray(dec.joints_uv, np.float64),
            np.ascontiguousarray(dec.joints_xyz[..., 2], np.float64), depth_m,
            cfg.surface_tolerance_m, cfg.occluded_behind_m, cfg.occluded_factor,
            cfg.unverified_factor)

    def _solve_ik(self, targets: np.ndarray, weights: np.ndarray, init: tuple | None) -> tuple:
        """IK fit of targets (B, J, 3) metres (NaN = none) with weights (B, J) >= 0.

        ``init``: warm start (t (B, 3), R (B, 3, 3), angles (B, D), scale (B,)) or None.
        Returns (t, R, angles, scale, residual (B, J) metres, NaN where no target). Calls the
        compiled kernel of ``core.ik.InverseKinematics`` directly: its input checks and extra
        outputs cost about 0.1 ms a frame, and the estimator's inputs are valid by construction.
        """
        import numba  # noqa: PLC0415

        from kinpose_ros.core import ik_kernels  # noqa: PLC0415

        ik = self._ik
        finite = np.isfinite(targets).all(axis=2)
        tgt = np.where(finite[..., None], targets, 0.0).astype(np.float64, copy=False)
        w = np.where(finite, weights, 0.0).astype(np.float64, copy=False)
        B, D = len(tgt), self.skeleton.num_dofs
        if init is None:
            start = (np.zeros((B, 3)), np.zeros((B, 3, 3)), np.zeros((B, D)), np.ones(B))
        else:
            start = tuple(np.ascontiguousarray(x, dtype=np.float64) for x in init)
        out = (np.empty((B, 3)), np.empty((B, 3, 3)), np.empty((B, D)), np.empty(B),
               np.empty(B, np.int64), np.empty(B, np.bool_), np.empty((B, finite.shape[1], 3)))
        before = numba.get_num_threads()
        wanted = min(self.config.ik_threads, numba.config.NUMBA_NUM_THREADS)
        if wanted != before:
            numba.set_num_threads(wanted)
        try:
            ik_kernels.solve_batch(tgt, w, True, ik.max_iterations, ik.tolerance, ik.restarts,
                                   ik.restart_threshold, ik.tables, init is not None, *start,
                                   *out)
        finally:
            if wanted != before:
                numba.set_num_threads(before)
        residual = np.where(finite, np.linalg.norm(out[6] - tgt, axis=2), np.nan)
        return out[0], out[1], out[2], out[3], residual

    def _angles(self, dec: Decoded, surface: np.ndarray, tracks: list) -> dict:
        """Root pose, angles, scale (N, ...) and per-joint IK residual (NaN for native)."""
        n, J = dec.joints_xyz.shape[:2]
        if self.card.angles == 'native':
            return {'t': dec.root_translation, 'R': dec.root_rotation, 'angles':
                    dec.joint_angles, 'scale': dec.scale, 'residual': np.full((n, J), np.nan)}
        weights = np.maximum(dec.confidence * surface, 1e-3)
        warm = [i for i in range(n) if tracks[i] is not None and 'ik' in tracks[i].state]
        if len(warm) in (0, n):  # one group (the usual case): no gather / scatter
            init = _stack_fits([tracks[i].state['ik'] for i in warm]) if warm else None
            t, R, angles, scale, residual = self._solve_ik(dec.joints_xyz, weights, init)
            out = {'t': t, 'R': R, 'angles': angles, 'scale': scale, 'residual': residual}
        else:
            out = {'t': np.zeros((n, 3)), 'R': np.tile(np.eye(3), (n, 1, 1)),
                   'angles': np.zeros((n, self.skeleton.num_dofs)), 'scale': np.ones(n),
                   'residual': np.full((n, J), np.nan)}
            cold = [i for i in range(n) if i not in warm]
            for group, use_init in ((warm, True), (cold, False)):
                init = _stack_fits([tracks[i].state['ik'] for i in group]) if use_init else None
                res = self._solve_ik(dec.joints_xyz[group], weights[group], init)
                for key, value in zip(('t', 'R', 'angles', 'scale', 'residual'), res):
                    out[key][group] = value
        for i, track in enumerate(tracks):
            if track is not None:
                track.state['ik'] = (out['t'][i], out['R'][i], out['angles'][i],
                                     out['scale'][i])
        return out

    def _smoother(self, track) -> OneEuroFilter:
        cfg = self.config
        if 'filter' not in track.state:
            J, D = self.skeleton.num_joints, self.skeleton.num_dofs
            n_pos = 3 * J + 3 + 9 + 1
            mc = np.r_[np.full(n_pos, cfg.position_min_cutoff_hz),
                       np.full(D, cfg.angle_min_cutoff_hz)]
            beta = np.r_[np.full(n_pos, cfg.position_beta), np.full(D, cfg.angle_beta)]
            track.state['filter'] = OneEuroFilter(mc, beta, cfg.derivative_cutoff_hz,
                                                  cfg.nominal_dt_s)
        return track.state['filter']

    def _finish(self, states: np.ndarray, intrinsics: Intrinsics, net_conf: np.ndarray,
                surface: np.ndarray, residual: np.ndarray) -> tuple:
        """Smoothed states (n, 3J + 13 + D) -> joints, transforms (camera <- joint frame, from
        FK: always a valid skeleton), root transform, angles, scale, pixels and confidence
        (network x surface agreement x IK agreement); ``post_kernels.finish_people``."""
        n, J, D = len(states), self.skeleton.num_joints, self.skeleton.num_dofs
        out = (np.empty((n, J, 3)), np.empty((n, J, 4, 4)), np.empty((n, 4, 4)),
               np.empty((n, D)), np.empty(n), np.empty((n, J, 2)), np.empty((n, J)))
        parent, offset, dof_start, dof_count, dof_idx, dof_sign = self._packed[:6]
        f64 = np.float64
        post_kernels.finish_people(
            np.ascontiguousarray(states, dtype=f64), J, D, parent, offset, dof_start, dof_count,
            dof_idx, dof_sign, self._packed[8], intrinsics.fx, intrinsics.fy, intrinsics.cx,
            intrinsics.cy, np.ascontiguousarray(net_conf, dtype=f64),
            np.ascontiguousarray(surface, dtype=f64), np.ascontiguousarray(residual, dtype=f64),
            self.config.ik_residual_scale_m, *out)
        return out

    def _assemble(self, dec: Decoded, fit: dict, surface: np.ndarray, props: list, tracks: list,
                  stamp: float, intrinsics: Intrinsics) -> list[PoseResult]:
        n, J = dec.joints_xyz.shape[:2]
        D = self.skeleton.num_dofs
        joints = np.where(np.isfinite(dec.joints_xyz), dec.joints_xyz, np.nan)
        states = np.concatenate([joints.reshape(n, -1), fit['t'], fit['R'].reshape(n, 9),
                                 fit['scale'][:, None], fit['angles']], axis=1)
        velocities = np.zeros((n, D))
        for i, track in enumerate(tracks):
            if track is None or not self.config.smoothing:
                continue
            f = self._smoother(track)
            prev = f.value
            prev_t = track.state.get('stamp')
            states[i] = f(states[i], stamp)
            if prev is not None and prev_t is not None:
                dt = stamp - prev_t if stamp > prev_t else self.config.nominal_dt_s
                velocities[i] = (states[i, -D:] - prev[-D:]) / dt
            track.state['stamp'] = stamp
        joints, transforms, root, angles, scale, uv, conf = self._finish(
            states, intrinsics, dec.confidence, surface, fit['residual'])
        res_ok = np.isfinite(fit['residual'])
        res_count = res_ok.sum(axis=1)
        res_mean = np.where(res_ok, fit['residual'], 0.0).sum(axis=1) / np.maximum(res_count, 1)
        conf_mean = conf.mean(axis=1)
        people = []
        for i in range(n):
            people.append(PoseResult(
                person_id=tracks[i].track_id if tracks[i] is not None else -1,
                joints_xyz=joints[i], confidence=conf[i], joints_uv=uv[i],
                joint_transforms=transforms[i], joint_angles=angles[i],
                joint_velocities=velocities[i], root_transform=root[i],
                scale=float(scale[i]), box_xyxy=np.asarray(props[i].box_xyxy, dtype=float),
                score=float(conf_mean[i] * float(getattr(props[i], 'score', 1.0))),
                ik_residual_m=float(res_mean[i]) if res_count[i] else float('nan')))
        people.sort(key=lambda p: float(p.root_transform[2, 3]))
        return people


def _lap(timings: dict, stage: str, t0: float) -> float:
    now = time.perf_counter()
    timings[stage] += (now - t0) * 1e3
    return now


def _stack_fits(fits: list) -> tuple:
    """Per-track (t, R, angles, scale) -> batched (B, ...) arrays, the warm start of an IK fit."""
    return tuple(np.array(x) for x in zip(*fits))
