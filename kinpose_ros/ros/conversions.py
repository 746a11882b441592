"""Messages <-> numpy: the only place where ROS messages are decoded or built from arrays.

Images
------
``sensor_msgs/Image`` is decoded exactly with ``np.frombuffer`` and an encoding table (no
cv_bridge: the PyPI ``cv-bridge`` is ROS 1 code that corrupts ``16UC1``). ``step`` (bytes per row,
rows may be padded) and ``is_bigendian`` are honoured; arrays come back in native byte order,
shaped ``(H, W)`` for one channel and ``(H, W, C)`` otherwise, channel order as in the encoding
(``bgr8`` stays BGR). Encoding names follow ``sensor_msgs/image_encodings.hpp`` and are matched
case-insensitively.

Cameras
-------
``CameraInfo`` becomes a :class:`kinpose_ros.core.camera.Intrinsics` of the image actually
delivered (binning and ROI applied, as ``image_geometry`` does).

Transforms
----------
TF is a ``tf2_msgs/TFMessage`` on ``/tf`` (reliable, volatile, depth 100) and ``/tf_static``
(reliable, transient local, depth 1). tf2 silently drops a transform whose parent equals its child,
whose frame ids are empty, that holds a NaN, or whose quaternion has ``|q|^2`` off 1 by 0.01 or
more; :func:`make_transform_stamped` refuses those with a ValueError instead. Quaternions are
``(x, y, z, w)`` as in ``geometry_msgs/Quaternion``. :class:`TfPublisher` uses
``tf2_ros.TransformBroadcaster`` when importable and publishes ``TFMessage`` itself otherwise.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.depth import decode_depth

__all__ = [
    'ENCODINGS', 'MAX_IMAGE_SIDE', 'TfPublisher', 'camera_info_to_intrinsics',
    'depth_image_to_metres', 'image_to_numpy', 'make_transform_stamped', 'numpy_to_image',
    'tf_message', 'tf_qos', 'tf_static_qos',
]

# encoding -> (element dtype in little-endian form, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    '16UC1': (np.dtype('<u2'), 1),
    'mono16': (np.dtype('<u2'), 1),
    '32FC1': (np.dtype('<f4'), 1),
    '8UC1': (np.dtype('u1'), 1),
    'mono8': (np.dtype('u1'), 1),
    'rgb8': (np.dtype('u1'), 3),
    'bgr8': (np.dtype('u1'), 3),
    'rgba8': (np.dtype('u1'), 4),
    'bgra8': (np.dtype('u1'), 4),
}
_BY_LOWER = {name.lower(): name for name in ENCODINGS}
# A side longer than this is a corrupt header, not a camera (largest sensors: ~16k pixels).
MAX_IMAGE_SIDE = 1 << 16
_DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')
_NATIVE_BIG = sys.byteorder == 'big'


def _lookup_encoding(encoding: str, what: str) -> tuple[str, np.dtype, int]:
    name = _BY_LOWER.get(str(encoding).lower())
    if name is None:
        raise ValueError(
            f'{what}: unsupported image encoding {encoding!r}; supported: '
            f'{", ".join(ENCODINGS)}')
    dtype, channels = ENCODINGS[name]
    return name, dtype, channels


# ----------------------------------------------------------------------------- images
def image_to_numpy(msg: Image) -> np.ndarray:
    """Decode a ``sensor_msgs/Image`` exactly into a new array in native byte order.

    Returns:
        ``(H, W)`` for single-channel encodings, ``(H, W, C)`` otherwise; dtype ``uint16`` for
        16UC1/mono16, ``float32`` for 32FC1, ``uint8`` for the 8-bit encodings. The array owns its
        memory (row padding removed, byte-swapped if the message was big-endian).

    Raises:
        ValueError: unknown encoding, zero or implausibly large height/width, ``step`` smaller
            than ``width`` times the pixel size, or ``len(data) != height * step``.
    """
    name, dtype, channels = _lookup_encoding(msg.encoding, 'image_to_numpy')
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if not (0 < height <= MAX_IMAGE_SIDE and 0 < width <= MAX_IMAGE_SIDE):
        raise ValueError(
            f'image_to_numpy: image size {width}x{height} (width x height) must be within '
            f'1..{MAX_IMAGE_SIDE} on each side')
    pixel_bytes = channels * dtype.itemsize
    row_bytes = width * pixel_bytes
    if step < row_bytes:
        raise ValueError(
            f'image_to_numpy: step {step} is smaller than width {width} x {pixel_bytes} bytes '
            f'per {name} pixel = {row_bytes}')
    raw = np.frombuffer(msg.data, dtype=np.uint8) if len(msg.data) else np.empty(0, np.uint8)
    if raw.size != height * step:
        raise ValueError(
            f'image_to_numpy: data holds {raw.size} bytes but height {height} x step {step} = '
            f'{height * step} are expected for a {width}x{height} {name} image')
    wire = dtype.newbyteorder('>' if msg.is_bigendian else '<')
    rows = raw.reshape(height, step)[:, :row_bytes].view(wire)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rows.reshape(shape).astype(dtype.newbyteorder('='), copy=True)


def depth_image_to_metres(
    msg: Image, invalid_value: float | None = None, depth_unit_m: float | None = None,
) -> np.ndarray:
    """Depth ``sensor_msgs/Image`` -> float32 ``(H, W)`` metres, NaN where invalid.

    16UC1/mono16 are integer units (millimetres unless ``depth_unit_m`` says otherwise, 0 =
    invalid); 32FC1 is metres (NaN, inf, 0 and negative = invalid). ``invalid_value`` marks one
    more raw value invalid (e.g. 65535). See :func:`kinpose_ros.core.depth.decode_depth`.

    Raises:
        ValueError: a non-depth encoding or any problem listed in :func:`image_to_numpy`.
    """
    name = _BY_LOWER.get(str(msg.encoding).lower())
    if name not in _DEPTH_ENCODINGS:
        raise ValueError(
            f'depth_image_to_metres: encoding {msg.encoding!r} is not a depth encoding; '
            f'expected one of {", ".join(_DEPTH_ENCODINGS)}')
    return decode_depth(image_to_numpy(msg), name, invalid_value=invalid_value,
                        depth_unit_m=depth_unit_m)


def numpy_to_image(array: np.ndarray, encoding: str, header: Header) -> Image:
    """Build a ``sensor_msgs/Image`` from an array (native byte order, rows unpadded).

    Args:
        array: ``(H, W)`` or ``(H, W, 1)`` for single-channel encodings, ``(H, W, C)`` otherwise,
            with exactly the encoding's dtype (uint16 / float32 / uint8; any byte order).
        encoding: one of :data:`ENCODINGS`.
        header: stamp and frame_id are copied (pass the input image's header, never ``now()``).

    Raises:
        ValueError: unknown encoding, a dtype or shape that does not fit the encoding, or a size
            outside ``1..MAX_IMAGE_SIDE``.
    """
    name, dtype, channels = _lookup_encoding(encoding, 'numpy_to_image')
    array = np.asarray(array)
    if array.dtype.newbyteorder('=') != dtype.newbyteorder('='):
        raise ValueError(
            f'numpy_to_image: {name} needs dtype {dtype.newbyteorder("=").name}, '
            f'got {array.dtype.name} (convert explicitly, e.g. with astype)')
    if channels == 1 and array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    expected = '(H, W)' if channels == 1 else f'(H, W, {channels})'
    if array.ndim != (2 if channels == 1 else 3) or (channels > 1 and array.shape[2] != channels):
        raise ValueError(f'numpy_to_image: {name} needs shape {expected}, got {array.shape}')
    height, width = array.shape[:2]
    if not (0 < height <= MAX_IMAGE_SIDE and 0 < width <= MAX_IMAGE_SIDE):
        raise ValueError(
            f'numpy_to_image: image size {width}x{height} must be within 1..{MAX_IMAGE_SIDE}')
    data = np.ascontiguousarray(array, dtype=dtype.newbyteorder('='))
    msg = Image()
    msg.header = Header(stamp=header.stamp, frame_id=header.frame_id)
    msg.height, msg.width, msg.encoding = int(height), int(width), name
    msg.is_bigendian = int(_NATIVE_BIG)
    msg.step = int(width * channels * dtype.itemsize)
    msg.data = data.tobytes()
    return msg


# ----------------------------------------------------------------------------- cameras
def camera_info_to_intrinsics(msg: CameraInfo) -> Intrinsics:
    """Intrinsics of the image delivered with ``msg`` (binning and ROI applied).

    Raises:
        ValueError: a malformed ``k``, negative binning, an ROI outside the image, or an
            uncalibrated camera (zero focal lengths); see ``Intrinsics.from_camera_info``.
    """
    roi = msg.roi
    return Intrinsics.from_camera_info(
        int(msg.width), int(msg.height), list(msg.k), int(msg.binning_x), int(msg.binning_y),
        roi=(int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)),
        roi_do_rectify=bool(roi.do_rectify))


# ----------------------------------------------------------------------------- transforms
def make_transform_stamped(
    header_stamp, parent: str, child: str, translation: Sequence[float] | np.ndarray,
    quaternion: Sequence[float] | np.ndarray,
) -> TransformStamped:
    """``geometry_msgs/TransformStamped`` of ``child`` in ``parent`` that tf2 will accept.

    Args:
        header_stamp: ``builtin_interfaces/Time`` (the input image's stamp).
        parent, child: frame ids (non-empty, different).
        translation: ``(3,)`` position of the child origin in the parent frame, metres.
        quaternion: ``(4,)`` ``(x, y, z, w)`` rotation child -> parent; renormalised exactly.

    Raises:
        ValueError: empty or equal frame ids, wrong shapes, non-finite values, or ``|q|^2`` off 1
            by 0.01 or more (tf2 would drop the transform silently).
    """
    if not parent or not child:
        raise ValueError(f'transform frame ids must be non-empty, got parent={parent!r}, '
                         f'child={child!r}')
    if parent == child:
        raise ValueError(f'transform parent and child are both {parent!r}; tf2 drops such frames')
    t = np.asarray(translation, dtype=np.float64)
    q = np.asarray(quaternion, dtype=np.float64)
    if t.shape != (3,) or q.shape != (4,):
        raise ValueError(f'transform {parent}->{child}: translation must be (3,) and quaternion '
                         f'(4,) (x, y, z, w), got {t.shape} and {q.shape}')
    if not (np.isfinite(t).all() and np.isfinite(q).all()):
        raise ValueError(f'transform {parent}->{child} holds non-finite values: t={t}, q={q}')
    norm2 = float(q @ q)
    if abs(norm2 - 1.0) >= 0.01:
        raise ValueError(f'transform {parent}->{child}: quaternion {q} has |q|^2 = {norm2:.4f}; '
                         'tf2 needs a unit quaternion (x, y, z, w)')
    q = q / np.sqrt(norm2)
    msg = TransformStamped()
    msg.header.stamp = header_stamp
    msg.header.frame_id = parent
    msg.child_frame_id = child
    tr, rot = msg.transform.translation, msg.transform.rotation
    tr.x, tr.y, tr.z = (float(v) for v in t)
    rot.x, rot.y, rot.z, rot.w = (float(v) for v in q)
    return msg


def tf_message(transforms: Iterable[TransformStamped]) -> TFMessage:
    """One ``tf2_msgs/TFMessage`` holding all ``transforms`` (one message per frame of data)."""
    return TFMessage(transforms=list(transforms))


def tf_qos() -> QoSProfile:
    """QoS of ``/tf``: reliable, volatile, keep last 100 (as tf2_ros' broadcaster/listener)."""
    return QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def tf_static_qos() -> QoSProfile:
    """QoS of ``/tf_static``: reliable, transient local, keep last 1 (late joiners get it)."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class TfPublisher:
    """Publishes transforms on ``/tf`` for a node (wraps the node, does not subclass it).

    Uses ``tf2_ros.TransformBroadcaster`` when tf2_ros is importable (a sourced ROS install), else
    a plain ``TFMessage`` publisher with :func:`tf_qos`; both send every call as ONE message.
    """

    def __init__(self, node) -> None:
        self._node = node
        try:
            from tf2_ros import TransformBroadcaster
        except ImportError:
            self._broadcaster = None
            self._publisher = node.create_publisher(TFMessage, '/tf', tf_qos())
        else:
            self._broadcaster = TransformBroadcaster(node, qos=tf_qos())
            self._publisher = None

    @property
    def uses_tf2_ros(self) -> bool:
        """True when publishing through ``tf2_ros.TransformBroadcaster``."""
        return self._broadcaster is not None

    def sendTransform(  # noqa: N802 (the tf2_ros name, so the two are interchangeable)
        self, transforms: TransformStamped | Iterable[TransformStamped],
    ) -> None:
        """Publish one ``TFMessage`` holding ``transforms`` (one or a list)."""
        if isinstance(transforms, TransformStamped):
            transforms = [transforms]
        transforms = list(transforms)
        if self._broadcaster is None and self._publisher is None:
            raise RuntimeError('TfPublisher.sendTransform called after destroy()')
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(transforms)
        else:
            self._publisher.publish(tf_message(transforms))

    def destroy(self) -> None:
        """Release the publisher (the node itself stays alive)."""
        publisher = self._publisher
        if self._broadcaster is not None:
            publisher = getattr(self._broadcaster, 'pub_tf', None)
        if publisher is not None:
            self._node.destroy_publisher(publisher)
        self._broadcaster = self._publisher = None
