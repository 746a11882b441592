"""Depth rendering for the synthetic generator: a numba z-buffer rasteriser and analytic planes.

Conventions
-----------
* Geometry is in the camera optical frame (x right, y down, z forward, metres); pixels follow
  :mod:`kinpose_ros.core.camera` (pixel ``[r, c]`` is centred at ``(u, v) = (c, r)``), so a
  pixel is covered when its centre lies inside the projected triangle.
* Depth is z along the optical axis, interpolated perspective-correctly (1/z is affine in the
  image); ``inf`` marks pixels with no surface ("no return").
* Buffers written in place: ``zbuf`` (H, W) float32, ``idbuf`` (H, W) int16 object id (people
  ``>= 0``, background codes ``< 0``), ``matbuf`` (H, W) uint8 material (colours, noise), and
  ``cosbuf`` (H, W) float32 ``|cos|`` of the angle between the surface normal and the viewing
  ray (grazing surfaces drop out in the sensor model; shading in RGB).
* Triangles are counter-clockwise seen from outside (outward normal ``(b - a) x (c - a)``);
  back faces are culled. Triangles with a vertex nearer than ``near`` are skipped (scenes keep
  objects in front of the camera).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def render_planes(planes: np.ndarray, plane_mat: np.ndarray, fx: float, fy: float, cx: float,
                  cy: float, zbuf: np.ndarray, idbuf: np.ndarray, matbuf: np.ndarray,
                  cosbuf: np.ndarray) -> None:
    """Inside of a convex room: the nearest plane hit by each pixel's ray.

    Args:
        planes: (N, 4) ``[nx, ny, nz, c]`` camera frame, ``n . X + c = 0``, unit ``n`` pointing
            into the room (the camera side, ``c > 0``).
        plane_mat: (N,) uint8 material of each plane.
    Writes id -1 (background) where a plane is nearer than ``zbuf``.
    """
    H, W = zbuf.shape
    P = planes.shape[0]
    # float32 arithmetic: the depth buffer is float32 anyway, and divisions are cheaper
    ax = (planes[:, 0] / fx).astype(np.float32)  # -den(c) = ax * c + row(r)
    cc = planes[:, 3].astype(np.float32)
    ifx, fcx = np.float32(1.0 / fx), np.float32(cx)
    for r in range(H):
        dy = np.float32((r - cy) / fy)
        row = (planes[:, 0] * (-cx / fx) + planes[:, 1] * dy + planes[:, 2]).astype(np.float32)
        dy2 = dy * dy + np.float32(1.0)
        for c in range(W):
            best_k, best_t, best_den = -1, np.float32(np.inf), np.float32(0.0)
            for k in range(P):
                den = -(ax[k] * np.float32(c) + row[k])
                if den > np.float32(1e-9):
                    t = cc[k] / den
                    if t < best_t:
                        best_k, best_t, best_den = k, t, den
            if best_k >= 0 and best_t < zbuf[r, c]:
                dx = (np.float32(c) - fcx) * ifx
                zbuf[r, c] = best_t
                idbuf[r, c] = -1
                matbuf[r, c] = plane_mat[best_k]
                cosbuf[r, c] = best_den / np.sqrt(dx * dx + dy2)


@numba.njit(cache=True, fastmath=True)
def rasterise(verts: np.ndarray, faces: np.ndarray, face_id: np.ndarray, face_mat: np.ndarray,
              fx: float, fy: float, cx: float, cy: float, near: float, zbuf: np.ndarray,
              idbuf: np.ndarray, matbuf: np.ndarray, cosbuf: np.ndarray) -> None:
    """Z-buffer a triangle soup into the buffers (see the module conventions).

    Args:
        verts: (N, 3) float64 vertices, camera frame.
        faces: (T, 3) int32 vertex indices, counter-clockwise from outside.
        face_id: (T,) int16 object id written to ``idbuf``.
        face_mat: (T,) uint8 material written to ``matbuf``.
        near: metres; triangles with a vertex at ``z < near`` are skipped.
    """
    H, W = zbuf.shape
    N = verts.shape[0]
    us, vs, izs = np.empty(N), np.empty(N), np.empty(N)
    for i in range(N):
        z = verts[i, 2]
        iz = 1.0 / z if z > near else -1.0
        izs[i] = iz
        us[i] = fx * verts[i, 0] * iz + cx
        vs[i] = fy * verts[i, 1] * iz + cy
    for t in range(faces.shape[0]):
        a, b, c = faces[t, 0], faces[t, 1], faces[t, 2]
        if izs[a] <= 0.0 or izs[b] <= 0.0 or izs[c] <= 0.0:
            continue
        ua, va, ub, vb, uc, vc = us[a], vs[a], us[b], vs[b], us[c], vs[c]
        # signed area in the image (v down): front faces are clockwise on screen -> area < 0
        area = (ub - ua) * (vc - va) - (vb - va) * (uc - ua)
        if area >= 0.0:
            continue
        c0 = max(int(np.ceil(min(ua, ub, uc))), 0)
        c1 = min(int(np.floor(max(ua, ub, uc))), W - 1)
        r0 = max(int(np.ceil(min(va, vb, vc))), 0)
        r1 = min(int(np.floor(max(va, vb, vc))), H - 1)
        if c0 > c1 or r0 > r1:
            continue
        # |cos| between the face normal and the ray to the face centre
        e1x, e1y, e1z = verts[b, 0] - verts[a, 0], verts[b, 1] - verts[a, 1], \
            verts[b, 2] - verts[a, 2]
        e2x, e2y, e2z = verts[c, 0] - verts[a, 0], verts[c, 1] - verts[a, 1], \
            verts[c, 2] - verts[a, 2]
        nx, ny, nz = e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x
        mx = verts[a, 0] + verts[b, 0] + verts[c, 0]
        my = verts[a, 1] + verts[b, 1] + verts[c, 1]
        mz = verts[a, 2] + verts[b, 2] + verts[c, 2]
        cosv = abs(nx * mx + ny * my + nz * mz) / (
            np.sqrt(nx * nx + ny * ny + nz * nz) * np.sqrt(mx * mx + my * my + mz * mz) + 1e-20)
        inv_area = 1.0 / area
        fid, fmat = face_id[t], face_mat[t]
        for r in range(r0, r1 + 1):
            for col in range(c0, c1 + 1):
                # barycentric weights of the pixel centre (col, r)
                w0 = ((ub - col) * (vc - r) - (vb - r) * (uc - col)) * inv_area
                w1 = ((uc - col) * (va - r) - (vc - r) * (ua - col)) * inv_area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                iz = w0 * izs[a] + w1 * izs[b] + w2 * izs[c]
                z = 1.0 / iz
                if z < zbuf[r, col]:
                    zbuf[r, col] = z
                    idbuf[r, col] = fid
                    matbuf[r, col] = fmat
                    cosbuf[r, col] = cosv


@numba.njit(cache=True, fastmath=True)
def silhouette_area(verts: np.ndarray, faces: np.ndarray, fx: float, fy: float, cx: float,
                    cy: float, near: float, max_side: int) -> float:
    """Pixels a mesh would cover in an unbounded image, unoccluded (front faces' union).

    Rasterises the projected front faces into a coverage canvas over the mesh's own projected
    bounding box, downscaled so that its longer side is at most ``max_side`` cells, and returns
    the covered area in image pixels (approximate at the cell size; 0 if nothing projects).
    """
    N = verts.shape[0]
    us, vs, ok = np.empty(N), np.empty(N), np.empty(N, np.bool_)
    u_lo, u_hi, v_lo, v_hi = np.inf, -np.inf, np.inf, -np.inf
    for i in range(N):
        z = verts[i, 2]
        ok[i] = z > near
        if ok[i]:
            us[i] = fx * verts[i, 0] / z + cx
            vs[i] = fy * verts[i, 1] / z + cy
            u_lo, u_hi = min(u_lo, us[i]), max(u_hi, us[i])
            v_lo, v_hi = min(v_lo, vs[i]), max(v_hi, vs[i])
    if not u_hi > u_lo or not v_hi > v_lo:
        return 0.0
    s = min(1.0, max_side / max(u_hi - u_lo, v_hi - v_lo))  # cells per pixel
    Wc, Hc = int((u_hi - u_lo) * s) + 2, int((v_hi - v_lo) * s) + 2
    canvas = np.zeros((Hc, Wc), np.bool_)
    for i in range(N):
        if ok[i]:
            us[i] = (us[i] - u_lo) * s
            vs[i] = (vs[i] - v_lo) * s
    for t in range(faces.shape[0]):
        a, b, c = faces[t, 0], faces[t, 1], faces[t, 2]
        if not (ok[a] and ok[b] and ok[c]):
            continue
        ua, va, ub, vb, uc, vc = us[a], vs[a], us[b], vs[b], us[c], vs[c]
        area = (ub - ua) * (vc - va) - (vb - va) * (uc - ua)
        if area >= 0.0:
            continue
        inv_area = 1.0 / area
        for r in range(int(np.ceil(min(va, vb, vc))), int(np.floor(max(va, vb, vc))) + 1):
            for col in range(int(np.ceil(min(ua, ub, uc))), int(np.floor(max(ua, ub, uc))) + 1):
                w0 = ((ub - col) * (vc - r) - (vb - r) * (uc - col)) * inv_area
                w1 = ((uc - col) * (va - r) - (vc - r) * (ua - col)) * inv_area
                if w0 >= 0.0 and w1 >= 0.0 and w0 + w1 <= 1.0:
                    canvas[r, col] = True
    return canvas.sum() / (s * s)


def box_mesh(center: np.ndarray, half: np.ndarray, rotation: np.ndarray) -> tuple:
    """A box as 8 vertices (8, 3) and 12 outward triangles (12, 3) int32.

    Args:
        center: (3,) box centre; half: (3,) half sizes along its axes; rotation: (3, 3) box
            axes in the parent frame (columns).
    """
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    verts = center + (signs * half) @ rotation.T
    return verts, _BOX_FACES


def boxes_mesh(boxes: list) -> tuple:
    """Many boxes ``[(center (3,), half (3,), rotation (3, 3), ...)]`` as one mesh:
    vertices (8 N, 3) and outward triangles (12 N, 3) int32, box by box."""
    centers = np.array([b[0] for b in boxes], float)
    halves = np.array([b[1] for b in boxes], float)
    rots = np.array([b[2] for b in boxes], float)
    verts = centers[:, None] + np.einsum('nkj,nij->nki', _BOX_SIGNS * halves[:, None], rots)
    faces = _BOX_FACES[None] + 8 * np.arange(len(boxes), dtype=np.int32)[:, None, None]
    return verts.reshape(-1, 3), faces.reshape(-1, 3)


def _box_faces() -> np.ndarray:
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = []
    for q in quads:
        for tri in ((q[0], q[1], q[2]), (q[0], q[2], q[3])):
            a, b, c = (signs[i] for i in tri)
            if np.cross(b - a, c - a) @ (a + b + c) < 0:  # make the normal point outward
                tri = (tri[0], tri[2], tri[1])
            faces.append(tri)
    return np.array(faces, np.int32)


_BOX_FACES = _box_faces()
_BOX_SIGNS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
