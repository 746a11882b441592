"""Between the image and the network: person proposals -> crops, network outputs -> camera frame.

``make_crops`` applies a model card's crop rule and normalisation to every proposal of a frame
(one ``core.depth.crop_depth_batch`` call); ``decode_outputs`` turns the graph's decoded outputs
back into the camera optical frame (metres) and image pixels, batched over people, following the
card's decode rule (see ``inference.model_card``). A proposal is anything with ``box_xyxy`` (4,)
image pixel edges and ``centroid_xyz`` (3,) metres in the camera frame, e.g.
``core.segmentation.PersonProposal``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.depth import CropInfo, crop_depth_batch
from kinpose_ros.inference.model_card import PLANE_DEPTH_UNIT_M, ModelCard
from kinpose_ros.inference.post_kernels import decode_uvz

__all__ = ['Decoded', 'crop_boxes', 'crop_centres', 'crop_pixel_scales', 'decode_outputs',
           'geometry_planes', 'make_crops', 'project_points']


def crop_boxes(proposals: list, intrinsics: Intrinsics, card: ModelCard) -> np.ndarray:
    """(N, 4) crop boxes (pixel edges) for the proposals under ``card.crop``.

    'proposal_box': the box grown by ``margin`` x its width/height on each side.
    'metric_cube': a ``cube_size_m`` square at the centroid's depth, centred on its projection.
    Aspect fitting to the input size happens in ``crop_depth_batch``.
    """
    rule = card.crop
    if not proposals:
        return np.zeros((0, 4))
    if rule.box == 'proposal_box':
        boxes = np.array([np.asarray(p.box_xyxy, dtype=np.float64) for p in proposals])
        size = boxes[:, 2:] - boxes[:, :2]
        grow = rule.margin * size
        return np.concatenate([boxes[:, :2] - grow, boxes[:, 2:] + grow], axis=1)
    c = np.array([np.asarray(p.centroid_xyz, dtype=np.float64) for p in proposals])
    z = np.maximum(c[:, 2], 1e-3)
    u = intrinsics.fx * c[:, 0] / z + intrinsics.cx + 0.5  # pixel centre -> edge coordinates
    v = intrinsics.fy * c[:, 1] / z + intrinsics.cy + 0.5
    hw = 0.5 * rule.cube_size_m * intrinsics.fx / z
    hh = 0.5 * rule.cube_size_m * intrinsics.fy / z
    return np.stack([u - hw, v - hh, u + hw, v + hh], axis=1)


def make_crops(depth_m: np.ndarray, intrinsics: Intrinsics, proposals: list,
               card: ModelCard) -> tuple[np.ndarray, list[CropInfo]]:
    """Crops (N, C, H, W) float32 for the network and their CropInfo, for a depth frame (metres).

    Raises:
        ValueError: a card whose input has more than one channel (RGB-D crops are not built
            here yet).
    """
    planes = list(card.input.planes or [])
    if card.input.channels != 1 + len(planes):
        raise ValueError(f'model {card.name!r}: input.channels {card.input.channels} - the '
                         f"estimator builds depth crops (1 channel) plus the card's geometry "
                         f'planes {planes}; RGB and RGB-D crops are not built here yet')
    norm = card.input.normalisation
    h, w = card.input_size
    if not proposals:
        return np.zeros((0, 1 + len(planes), h, w), np.float32), []
    centre = None
    if norm.center == 'proposal_centroid':
        centre = np.array([float(p.centroid_xyz[2]) for p in proposals])
    boxes = crop_boxes(proposals, intrinsics, card)
    crops, infos = crop_depth_batch(depth_m, boxes, (w, h), centre, 2.0 * norm.half_range_m,
                                    norm.fill_value)
    if planes:
        values = geometry_planes(crop_centres(infos, intrinsics), planes,
                                 pixel_scale=crop_pixel_scales(infos, intrinsics))
        extra = np.broadcast_to(values[:, :, None, None], (len(infos), len(planes), h, w))
        crops = np.concatenate([crops, extra.astype(np.float32)], axis=1)
    return crops, infos


def crop_centres(infos: list[CropInfo], intrinsics: Intrinsics) -> np.ndarray:
    """(N, 3) crop centre points: the crop box centre pixel unprojected at the centre depth
    (NaN depth where the crop had no valid pixel); the origin of ``xyz_crop_centre`` outputs."""
    n = len(infos)
    centre_z = np.array([ci.center_depth_m for ci in infos], dtype=np.float64).reshape(n)
    boxes = np.array([ci.box_xyxy for ci in infos], dtype=np.float64).reshape(n, 4)
    # the box centre (pixel edges) minus half a pixel: pixel-centre coordinates
    return _unproject(0.5 * (boxes[:, :2] + boxes[:, 2:]) - 0.5, centre_z, intrinsics)


def crop_pixel_scales(infos: list[CropInfo], intrinsics: Intrinsics) -> np.ndarray:
    """(N, 2) image pixels per crop pixel divided by fx and fy: the change of x / z (y / z)
    per crop pixel."""
    boxes = np.array([ci.box_xyxy for ci in infos], dtype=np.float64).reshape(-1, 4)
    size = np.array([ci.out_size for ci in infos], dtype=np.float64).reshape(-1, 2)
    return (boxes[:, 2:] - boxes[:, :2]) / size / np.array([intrinsics.fx, intrinsics.fy])


def geometry_planes(centres_xyz: np.ndarray, names: list[str],
                    rotation_rad: np.ndarray | float = 0.0,
                    pixel_scale: np.ndarray | None = None) -> np.ndarray:
    """(N, len(names)) values of the card's constant input planes (``GEOMETRY_PLANES``) for crop
    centre points (N, 3): 'ray_x', 'ray_y' = x / z, y / z turned by the crop's in-plane
    rotation (training augmentation; 0 at run time), 'centre_depth' = z / PLANE_DEPTH_UNIT_M,
    'px_scale_x', 'px_scale_y' = ``pixel_scale`` (N, 2) (``crop_pixel_scales``; required for
    them). A centre without depth gives 0 (its crop is all fill value and decodes to NaN)."""
    c = np.asarray(centres_xyz, dtype=np.float64).reshape(-1, 3)
    with np.errstate(divide='ignore', invalid='ignore'):
        ray = c[:, :2] / c[:, 2:3]
    rot = np.broadcast_to(np.asarray(rotation_rad, dtype=np.float64), (len(c),))
    cos, sin = np.cos(rot), np.sin(rot)  # into crop axes: rotate by -rotation
    ray = np.stack([cos * ray[:, 0] + sin * ray[:, 1], -sin * ray[:, 0] + cos * ray[:, 1]], 1)
    table = {'ray_x': ray[:, 0], 'ray_y': ray[:, 1], 'centre_depth': c[:, 2] / PLANE_DEPTH_UNIT_M}
    if pixel_scale is not None:
        ps = np.asarray(pixel_scale, dtype=np.float64).reshape(len(c), 2)
        table.update(px_scale_x=ps[:, 0], px_scale_y=ps[:, 1])
    elif {'px_scale_x', 'px_scale_y'} & set(names):
        raise ValueError('geometry_planes: px_scale planes need pixel_scale')
    out = np.stack([table[name] for name in names], axis=1) if names else np.zeros((len(c), 0))
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass
class Decoded:
    """Network outputs of N people in the camera optical frame (metres) and image pixels."""

    joints_xyz: np.ndarray          # (N, J, 3)
    joints_uv: np.ndarray           # (N, J, 2) image pixels
    confidence: np.ndarray          # (N, J) network confidence (ones when the net has none)
    centre_xyz: np.ndarray          # (N, 3) crop centre point (box centre at centre depth)
    root_translation: np.ndarray | None = None  # (N, 3) camera frame (native-angle models)
    root_rotation: np.ndarray | None = None     # (N, 3, 3) camera <- skeleton root
    joint_angles: np.ndarray | None = None      # (N, D) radians
    scale: np.ndarray | None = None             # (N,)


def _unproject(uv: np.ndarray, z: np.ndarray, K: Intrinsics) -> np.ndarray:
    out = np.empty(np.shape(z) + (3,))  # written in place: np.stack costs more on small input
    out[..., 0] = (uv[..., 0] - K.cx) / K.fx * z
    out[..., 1] = (uv[..., 1] - K.cy) / K.fy * z
    out[..., 2] = z
    return out


def project_points(xyz: np.ndarray, K: Intrinsics) -> np.ndarray:
    z = np.where(xyz[..., 2] > 0, xyz[..., 2], np.nan)
    out = np.empty(np.shape(z) + (2,))
    with np.errstate(divide='ignore', invalid='ignore'):
        out[..., 0] = K.fx * xyz[..., 0] / z + K.cx
        out[..., 1] = K.fy * xyz[..., 1] / z + K.cy
    return out


def decode_outputs(outputs: dict, infos: list[CropInfo], intrinsics: Intrinsics,
                   card: ModelCard) -> Decoded:
    """Backend outputs (batch N = len(infos)) -> camera frame, following ``card.decode``.

    A crop whose centre depth is unknown (no valid pixel) decodes to NaN joints.
    """
    n = len(infos)

    def raw(name: str) -> np.ndarray:
        spec = card.output(name)
        return np.asarray(outputs[name], dtype=np.float64) / (spec.scale if spec else 1.0)

    if card.decode == 'uvz_crop':
        out = _decode_uvz(outputs, infos, intrinsics, card)
    else:
        centre_xyz = crop_centres(infos, intrinsics)
        joints = raw('joints') + centre_xyz[:, None]
        conf = raw('confidence') if 'confidence' in outputs else np.ones(joints.shape[:2])
        conf = np.clip(np.where(np.isnan(conf), 0.0, conf), 0.0, 1.0)
        out = Decoded(joints, project_points(joints, intrinsics), conf, centre_xyz)
    if card.angles == 'native':
        out.root_translation = raw('root_translation') + out.centre_xyz
        out.root_rotation = raw('root_rotation')
        out.joint_angles = raw('joint_angles')
        out.scale = raw('scale') if 'scale' in outputs else np.ones(n)
    return out


def _decode_uvz(outputs: dict, infos: list[CropInfo], K: Intrinsics,
                card: ModelCard) -> Decoded:
    """``uvz_crop``: crop pixels and normalised depth -> image pixels and metres (one compiled
    pass, ``post_kernels.decode_uvz``; a dozen numpy calls cost ~50 us a frame)."""
    n = len(infos)
    table = np.empty((n, 8))
    for i, ci in enumerate(infos):
        A = ci.to_image_affine()
        x0, y0, x1, y1 = ci.box_xyxy
        # box centre (pixel edges) minus half a pixel: pixel-centre coordinates
        table[i] = (A[0, 0], A[1, 1], A[0, 2], A[1, 2], ci.center_depth_m, ci.half_range_m,
                    0.5 * (x0 + x1) - 0.5, 0.5 * (y0 + y1) - 0.5)
    J = np.shape(outputs['uv'])[1]
    uv = np.asarray(outputs['uv']).reshape(n, J, 2)
    z = np.asarray(outputs['z']).reshape(n, J)
    conf = np.asarray(outputs['confidence']).reshape(n, J)
    specs = [card.output(k) for k in ('uv', 'z', 'confidence')]
    scales = [float(spec.scale) if spec else 1.0 for spec in specs]
    joints, uv_img = np.empty((n, J, 3)), np.empty((n, J, 2))
    conf_out, centres = np.empty((n, J)), np.empty((n, 3))
    decode_uvz(uv, z, conf, *scales, table, K.fx, K.fy, K.cx, K.cy, joints, uv_img, conf_out,
               centres)
    return Decoded(joints, uv_img, conf_out, centres)
