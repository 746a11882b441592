"""How much of a metric-crop target the network cannot know: the weak-perspective ceiling.

A ``metric_cube`` crop (``training.cropping``) resamples the depth image so that pixels per metre
are fixed *at the centroid depth* ``Zc`` and subtracts ``Zc`` from depth. The kinematic family
regresses joints in metres relative to the crop centre point (``families``: ``xyz_crop_centre``).
What the crop shows of a joint at camera point (X, Y, Z) is its weak-perspective position
``X * Zc / Z - Xc`` (and the same for y), while the target is ``X - Xc``: they differ by
``X * (Z - Zc) / Z``, which depends on the absolute lateral position X and depth Zc that the crop
no longer holds. A network reading the crop perfectly still errs by that much, so it bounds the
accuracy of any net trained on this target (the A2J family is not affected: its ``uvz_crop``
decode unprojects with the crop's known geometry).

``weak_perspective_gap`` measures it for labelled people, for the image-aligned crop used now and
for a crop from a virtual camera turned to look at the person's centroid (a perspective crop),
where the gap shrinks to ``X' * (Z' - Zc') / Z'`` with X' relative to the person.

Usage: ``python -m kinpose_ros.training.target_frame --seed 777 --frames 300 --json``
(``docs/training.md`` quotes its output).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

__all__ = ['look_at_rotation', 'summarise_gap', 'weak_perspective_gap']


def look_at_rotation(point: np.ndarray) -> np.ndarray:
    """(3, 3) rotation R of a virtual camera (optical-frame axes, y down) whose optical axis
    passes through ``point`` (camera frame, z > 0): ``R @ point`` lies on +z."""
    z = np.asarray(point, dtype=np.float64)
    z = z / np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def weak_perspective_gap(joints_xyz: np.ndarray, centroid_xyz: np.ndarray,
                         virtual_camera: bool = False) -> np.ndarray:
    """Per joint: the distance (metres) between the target (joint minus crop centre point, in
    metres) and what a metric crop at the centroid's depth shows of it.

    Args:
        joints_xyz: (J, 3) camera optical frame, metres, z > 0.
        centroid_xyz: (3,) the crop centre point (the person's centroid).
        virtual_camera: measure in the frame of a camera turned to look at the centroid.

    Returns:
        (J,) metres; the depth part of the target is exact, so this is the x/y gap.
    """
    p = np.asarray(joints_xyz, dtype=np.float64)
    c = np.asarray(centroid_xyz, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or c.shape != (3,):
        raise ValueError(f'expected joints (J, 3) and centroid (3,), got {p.shape} and {c.shape}')
    if not (p[:, 2] > 0).all() or c[2] <= 0:
        raise ValueError('joints and centroid must lie in front of the camera (z > 0)')
    if virtual_camera:
        r = look_at_rotation(c)
        p, c = p @ r.T, r @ c
    seen = p[:, :2] * (c[2] / p[:, 2:3]) - c[:2]
    return np.linalg.norm(seen - (p[:, :2] - c[:2]), axis=1)


def summarise_gap(gaps: np.ndarray, threshold_m: float = 0.10) -> dict:
    """Mean, 90th percentile (mm) and the share of joints within ``threshold_m`` (percent): the
    best mAP a network on this target could reach if it read the crop perfectly."""
    g = np.asarray(gaps, dtype=np.float64).ravel()
    return {'mean_mm': float(g.mean() * 1000.0), 'p90_mm': float(np.percentile(g, 90) * 1000.0),
            'ceiling_map_10cm': float(100.0 * (g < threshold_m).mean()), 'n_joints': int(g.size)}


def main(argv: list[str] | None = None) -> int:
    from kinpose_ros.data.synth.generator import SynthConfig, SynthGenerator
    from kinpose_ros.training.records import person_proposal
    from kinpose_ros.training.sources import _from_synth

    ap = argparse.ArgumentParser(prog='python -m kinpose_ros.training.target_frame',
                                 description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, default=777)
    ap.add_argument('--frames', type=int, default=300)
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args(argv)
    gen = SynthGenerator(SynthConfig(), args.seed)
    aligned, virtual = [], []
    for i in range(args.frames):
        rec = _from_synth(gen.frame(i), f'synth:{i}')
        for person in rec.people:
            c = person_proposal(rec, person).centroid_xyz
            aligned.append(weak_perspective_gap(person.joints_xyz, c))
            virtual.append(weak_perspective_gap(person.joints_xyz, c, virtual_camera=True))
    if not aligned:
        raise SystemExit('no labelled person in the frames asked for')
    out = {'data': f'synth seed {args.seed}, {args.frames} frames',
           'image_aligned_crop': summarise_gap(np.concatenate(aligned)),
           'virtual_camera_crop': summarise_gap(np.concatenate(virtual))}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for key in ('image_aligned_crop', 'virtual_camera_crop'):
            s = out[key]
            print(f"{key}: mean {s['mean_mm']:.1f} mm, p90 {s['p90_mm']:.1f} mm, ceiling "
                  f"mAP@10cm {s['ceiling_map_10cm']:.1f} % ({s['n_joints']} joints)")
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
