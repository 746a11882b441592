"""Model cards: everything about a model that is not its weights, as JSON beside the ONNX file.

A model is ``<name>.onnx`` plus ``<name>.json`` (this card). The estimator, the backends, the
engine builder and the tools read the card and nothing else about the model: skeleton, input
size and normalisation, crop rule, output names/shapes/units, how to decode them to the camera
frame, the batch the graph accepts, plus provenance (training data and config, metrics, commit).
The schema is documented field by field in ``docs/model_card.md``; ``ModelCard.validate`` enforces
it and lists every problem at once, naming the field, what was expected and what was found.

Output units (``OutputSpec.unit``); a raw output equals ``scale`` times the quantity in its unit:
  * ``crop_px``: crop pixel coordinates (u column, v row; pixel centres at integers).
  * ``depth_normalised``: ``(z_m - center_depth_m) / half_range_m`` of the crop.
  * ``confidence``: per-joint score in [0, 1].
  * ``m_crop_centre``: metres along the camera optical axes (x right, y down, z forward),
    relative to the crop centre point: the box centre pixel unprojected at ``center_depth_m``.
  * ``rotation_matrix``: (3, 3) rotation, camera optical axes <- skeleton root frame.
  * ``rad``: joint angles in the skeleton's DoF order; ``scale``: factor on the skeleton size.
Decode rules (``ModelCard.decode``): ``uvz_crop`` (A2J, lite: ``uv``, ``z``, ``confidence``) and
``xyz_crop_centre`` (kinematic, direct joint: ``joints``, and for native angles also
``root_translation``, ``root_rotation``, ``joint_angles``, optional ``scale``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    'CARD_FORMAT', 'CARD_VERSION', 'CENTER_RULES', 'BOX_RULES', 'DECODE_RULES', 'FAMILIES',
    'GEOMETRY_PLANES', 'PLANE_DEPTH_UNIT_M', 'UNITS', 'CropRule', 'InputSpec', 'ModelCard',
    'ModelCardError', 'Normalisation', 'OutputSpec', 'card_path_for', 'family_outputs',
]

CARD_FORMAT = 'kinpose-model-card'
CARD_VERSION = 2  # 2: input.planes, person_score_threshold
FAMILIES = ('a2j', 'kinematic', 'lite', 'direct_joint')
CENTER_RULES = ('crop_median', 'proposal_centroid')
BOX_RULES = ('proposal_box', 'metric_cube')
#: Constant input planes after the depth plane, each one value per crop (``input.planes``):
#: the crop centre point's ray (x / z, y / z, turned into crop axes), its depth in units of
#: ``PLANE_DEPTH_UNIT_M``, and the crop's pixel size (image pixels per crop pixel / focal
#: length: a crop pixel offset times it is a change of x / z or y / z). They give a net the
#: geometry the crop itself no longer holds (``training.target_frame``); with all five a net can
#: unproject crop pixels exactly (``nets.hybrid``).
GEOMETRY_PLANES = ('ray_x', 'ray_y', 'centre_depth', 'px_scale_x', 'px_scale_y')
PLANE_DEPTH_UNIT_M = 4.0
DECODE_RULES = ('uvz_crop', 'xyz_crop_centre')
ANGLE_RULES = ('native', 'ik')
UNITS = ('crop_px', 'depth_normalised', 'confidence', 'm_crop_centre', 'rotation_matrix', 'rad',
         'scale')
FAMILY_DECODE = {'a2j': ('uvz_crop', 'ik'), 'lite': ('uvz_crop', 'ik'),
                 'kinematic': ('xyz_crop_centre', 'native'),
                 'direct_joint': ('xyz_crop_centre', 'ik')}
# output name -> (unit, shape after the batch axis with J / D placeholders)
_OUTPUT_TABLE = {
    'uv': ('crop_px', ('J', 2)), 'z': ('depth_normalised', ('J',)),
    'confidence': ('confidence', ('J',)), 'joints': ('m_crop_centre', ('J', 3)),
    'root_translation': ('m_crop_centre', (3,)), 'root_rotation': ('rotation_matrix', (3, 3)),
    'joint_angles': ('rad', ('D',)), 'scale': ('scale', ()),
}
_DESCRIPTIONS = {
    'uv': 'joint pixel in the crop (u column, v row)',
    'z': 'joint depth, (z_m - centre) / half_range_m of the crop',
    'confidence': 'per-joint confidence in [0, 1]',
    'joints': 'joints in metres along the camera axes, relative to the crop centre point',
    'root_translation': 'skeleton root position, metres relative to the crop centre point',
    'root_rotation': 'camera axes <- skeleton root frame',
    'joint_angles': "joint angles (radians) in the skeleton's DoF order",
    'scale': 'person size relative to the skeleton',
}
_REQUIRED = {'uvz_crop': ('uv', 'z', 'confidence'), 'xyz_crop_centre': ('joints',)}
_NATIVE = ('root_translation', 'root_rotation', 'joint_angles')


class ModelCardError(ValueError):
    """A model card is missing, unreadable or invalid; the message lists every problem."""


@dataclass
class Normalisation:
    """Depth normalisation of the crop: ``clip((z - centre) / half_range_m, -1, 1)``.

    ``center``: 'crop_median' (median valid depth of the central half of the crop, as
    ``core.depth.crop_depth_batch`` does) or 'proposal_centroid' (z of the proposal's 3-D
    centroid). Invalid pixels take ``fill_value``.
    """

    center: str = 'crop_median'
    half_range_m: float = 1.0
    fill_value: float = 1.0


@dataclass
class InputSpec:
    """The network input: (batch, channels, height, width) float32, named ``name``."""

    name: str = 'input'
    channels: int = 1
    height: int = 160
    width: int = 160
    dtype: str = 'float32'
    normalisation: Normalisation = field(default_factory=Normalisation)
    planes: list = field(default_factory=list)  # GEOMETRY_PLANES after the depth plane


@dataclass
class CropRule:
    """How a person proposal becomes a crop box (then grown to the input's aspect ratio).

    'proposal_box': the proposal's box grown by ``margin`` times its size on every side.
    'metric_cube': a box of ``cube_size_m`` metres at the proposal centroid's depth, centred
    on its projection (A2J's hand crops).
    """

    box: str = 'proposal_box'
    margin: float = 0.1
    cube_size_m: float = 2.2


@dataclass
class OutputSpec:
    """One graph output: ``shape`` with 'batch' for the batch axis; raw = scale * quantity."""

    name: str
    shape: list
    unit: str
    scale: float = 1.0
    description: str = ''


@dataclass
class ModelCard:
    """The card of one model; see ``docs/model_card.md`` for every field."""

    name: str
    family: str
    skeleton: str | dict
    input: InputSpec
    outputs: list
    crop: CropRule = field(default_factory=CropRule)
    decode: str = ''
    angles: str = ''
    onnx_file: str = ''
    onnx_sha256: str = ''
    opset: int = 17
    batch: dict = field(default_factory=lambda: {'dynamic': True, 'max': 8})
    model_config: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    commit: str = 'unknown'
    created: str = ''
    description: str = ''
    # the estimator's min_person_score for this model (its confidence scale): people scoring
    # lower are phantoms (docs/benchmarks.md, "Person score filter"); 0 = keep all
    person_score_threshold: float = 0.0
    format: str = CARD_FORMAT
    format_version: int = CARD_VERSION
    path: Path | None = field(default=None, compare=False, repr=False)  # where it was loaded

    def __post_init__(self) -> None:
        default_decode, default_angles = FAMILY_DECODE.get(self.family, ('', ''))
        self.decode = self.decode or default_decode
        self.angles = self.angles or default_angles

    # ---- derived -----------------------------------------------------------------------------
    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the crop in pixels."""
        return self.input.height, self.input.width

    @property
    def max_batch(self) -> int:
        return int(self.batch.get('max', 1))

    @property
    def dynamic_batch(self) -> bool:
        return bool(self.batch.get('dynamic', True))

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    def output(self, name: str) -> OutputSpec | None:
        return next((o for o in self.outputs if o.name == name), None)

    @property
    def onnx_path(self) -> Path:
        """The ONNX file: ``onnx_file`` relative to the card's folder."""
        base = self.path.parent if self.path is not None else Path('.')
        return base / (self.onnx_file or f'{self.name}.onnx')

    def load_skeleton(self):
        """The skeleton: a shipped name / YAML path, or the inline dict."""
        from kinpose_ros.core.skeleton import Skeleton  # noqa: PLC0415

        if isinstance(self.skeleton, dict):
            return Skeleton.from_dict(self.skeleton, source=f'{self.path or self.name}:skeleton')
        return Skeleton.load(self.skeleton)

    # ---- validation --------------------------------------------------------------------------
    def problems(self, skeleton: Any = None) -> list[str]:
        """Every schema violation as 'field: expected ..., got ...' (empty when valid).

        With ``skeleton`` (or a loadable ``self.skeleton``) the joint and DoF counts of the
        outputs are checked against it too.
        """
        p: list[str] = []
        _check(p, self.format == CARD_FORMAT, 'format', repr(CARD_FORMAT), self.format)
        _check(p, isinstance(self.format_version, int) and 1 <= self.format_version
               <= CARD_VERSION, 'format_version', f'an int in 1..{CARD_VERSION} (newer cards '
               'need a newer kinpose_ros)', self.format_version)
        _check(p, isinstance(self.name, str) and bool(self.name), 'name', 'a non-empty string',
               self.name)
        _check(p, self.family in FAMILIES, 'family', f'one of {FAMILIES}', self.family)
        _check(p, self.decode in DECODE_RULES, 'decode', f'one of {DECODE_RULES}', self.decode)
        _check(p, self.angles in ANGLE_RULES, 'angles', f'one of {ANGLE_RULES}', self.angles)
        _check(p, isinstance(self.skeleton, (str, dict)) and bool(self.skeleton), 'skeleton',
               'a skeleton name, a YAML path or an inline skeleton dict', self.skeleton)
        self._input_problems(p)
        self._crop_problems(p)
        b = self.batch
        _check(p, isinstance(b, dict) and _pos_int(b.get('max')) and isinstance(
            b.get('dynamic'), bool), 'batch', "{'dynamic': bool, 'max': positive int}", b)
        _check(p, _pos_int(self.opset), 'opset', 'a positive int', self.opset)
        _check(p, _num(self.person_score_threshold) and 0 <= self.person_score_threshold <= 1,
               'person_score_threshold', 'a number in [0, 1]', self.person_score_threshold)
        self._output_problems(p, skeleton)
        return p

    def _input_problems(self, p: list[str]) -> None:
        i = self.input
        _check(p, isinstance(i.name, str) and bool(i.name), 'input.name', 'a non-empty string',
               i.name)
        for key in ('channels', 'height', 'width'):
            _check(p, _pos_int(getattr(i, key)), f'input.{key}', 'a positive int',
                   getattr(i, key))
        _check(p, i.dtype == 'float32', 'input.dtype', "'float32'", i.dtype)
        planes = i.planes if isinstance(i.planes, list) else None
        _check(p, planes is not None and all(x in GEOMETRY_PLANES for x in planes)
               and len(set(planes)) == len(planes), 'input.planes',
               f'a list of distinct names from {GEOMETRY_PLANES}', i.planes)
        if planes and _pos_int(i.channels):
            _check(p, i.channels == 1 + len(planes), 'input.channels',
                   f'1 (depth) + {len(planes)} planes = {1 + len(planes)}', i.channels)
        n = i.normalisation
        _check(p, n.center in CENTER_RULES, 'input.normalisation.center',
               f'one of {CENTER_RULES}', n.center)
        _check(p, _pos_num(n.half_range_m), 'input.normalisation.half_range_m',
               'a positive number of metres', n.half_range_m)
        _check(p, _num(n.fill_value), 'input.normalisation.fill_value', 'a number',
               n.fill_value)

    def _crop_problems(self, p: list[str]) -> None:
        c = self.crop
        _check(p, c.box in BOX_RULES, 'crop.box', f'one of {BOX_RULES}', c.box)
        _check(p, _num(c.margin) and 0 <= c.margin < 2, 'crop.margin',
               'a fraction in [0, 2)', c.margin)
        _check(p, _pos_num(c.cube_size_m), 'crop.cube_size_m', 'a positive number of metres',
               c.cube_size_m)

    def _output_problems(self, p: list[str], skeleton: Any) -> None:
        names = [o.name for o in self.outputs]
        _check(p, len(set(names)) == len(names), 'outputs', 'unique names', names)
        sizes = {}
        if skeleton is None:
            try:
                skeleton = self.load_skeleton()
            except (OSError, ValueError) as exc:
                p.append(f'skeleton: cannot be loaded ({exc})')
        if skeleton is not None:
            sizes = {'J': skeleton.num_joints, 'D': skeleton.num_dofs}
        for k, o in enumerate(self.outputs):
            where = f'outputs[{k}] ({o.name})'
            _check(p, o.unit in UNITS, f'{where}.unit', f'one of {UNITS}', o.unit)
            _check(p, _pos_num(o.scale), f'{where}.scale', 'a positive number', o.scale)
            shape = list(o.shape) if isinstance(o.shape, (list, tuple)) else None
            ok = bool(shape) and shape[0] == 'batch' and all(_pos_int(s) for s in shape[1:])
            _check(p, ok, f'{where}.shape', "['batch', positive ints...]", o.shape)
            if o.name in _OUTPUT_TABLE and ok:
                unit, tail = _OUTPUT_TABLE[o.name]
                _check(p, o.unit == unit, f'{where}.unit', repr(unit), o.unit)
                want = [sizes.get(t, t) for t in tail]
                if all(isinstance(w, int) for w in want):
                    _check(p, shape[1:] == want, f'{where}.shape', f"['batch', *{want}] for "
                           f'skeleton {getattr(skeleton, "name", "?")}', o.shape)
        required = list(_REQUIRED.get(self.decode, ()))
        if self.angles == 'native':
            required += list(_NATIVE)
        missing = [r for r in required if r not in names]
        _check(p, not missing, 'outputs', f'outputs {required} for decode {self.decode!r} and '
               f'angles {self.angles!r}', f'{names} (missing {missing})')

    def validate(self, skeleton: Any = None) -> ModelCard:
        """Raise ModelCardError listing every problem; returns self when valid."""
        problems = self.problems(skeleton)
        if problems:
            where = self.path or self.name or '<card>'
            raise ModelCardError(f'model card {where} is invalid:\n  - ' + '\n  - '.join(
                problems))
        return self

    # ---- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop('path')
        return d

    def save(self, path: str | Path) -> Path:
        """Validate, then write JSON (sorted keys, 2-space indent); returns the path."""
        path = Path(path)
        self.validate()
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + '\n',
                        encoding='utf-8')
        self.path = path
        return path

    @classmethod
    def from_dict(cls, data: dict, path: Path | None = None) -> ModelCard:
        """Build (not validate) a card from parsed JSON; unknown keys are errors."""
        where = path or '<dict>'
        if not isinstance(data, dict):
            raise ModelCardError(f'model card {where}: expected a JSON object, got '
                                 f'{type(data).__name__}')
        d = dict(data)
        version = d.get('format_version', CARD_VERSION)
        if isinstance(version, int) and version > CARD_VERSION:
            raise ModelCardError(f'model card {where}: format_version {version} is newer than '
                                 f'this kinpose_ros reads ({CARD_VERSION}); update kinpose_ros')
        try:
            inp = dict(d.pop('input', None) or {})
            inp['normalisation'] = Normalisation(**(inp.get('normalisation') or {}))
            d['input'] = InputSpec(**inp)
            d['crop'] = CropRule(**(d.get('crop') or {}))
            d['outputs'] = [OutputSpec(**o) for o in d.get('outputs') or []]
            missing = [k for k in ('name', 'family', 'skeleton') if k not in d]
            if missing:
                raise ModelCardError(f'model card {where}: missing required fields {missing}')
            return cls(**d, path=path)
        except TypeError as exc:  # unknown or missing keys of a section
            raise ModelCardError(f'model card {where}: {exc} (see docs/model_card.md for the '
                                 'schema)') from exc

    @classmethod
    def load(cls, path: str | Path, validate: bool = True) -> ModelCard:
        """Read ``<name>.json`` (or the card beside ``<name>.onnx``) and validate it."""
        path = card_path_for(path)
        if not path.is_file():
            raise ModelCardError(f'model card {path} does not exist: every model needs '
                                 f'<name>.json beside <name>.onnx (kinpose export writes it)')
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except json.JSONDecodeError as exc:
            raise ModelCardError(f'model card {path}: not valid JSON ({exc})') from exc
        card = cls.from_dict(data, path=path)
        return card.validate() if validate else card


def card_path_for(path: str | Path) -> Path:
    """``x.onnx`` / ``x.engine`` / ``x`` -> ``x.json``; a ``.json`` path is returned as is."""
    path = Path(path)
    return path if path.suffix == '.json' else path.with_suffix('.json')


def family_outputs(family: str, num_joints: int, num_dofs: int,
                   with_scale: bool = False, z_scale: float = 1.0,
                   with_confidence: bool = False) -> list[OutputSpec]:
    """The output specs a network of ``family`` exports (``nets`` ``output_names`` order);
    ``with_confidence``: a kinematic net that also gives per-joint confidence (the A2J
    hybrid)."""
    def spec(name: str, scale: float = 1.0) -> OutputSpec:
        unit, tail = _OUTPUT_TABLE[name]
        shape = ['batch'] + [{'J': num_joints, 'D': num_dofs}.get(t, t) for t in tail]
        return OutputSpec(name, shape, unit, scale, _DESCRIPTIONS[name])

    if family in ('a2j', 'lite'):
        return [spec('uv'), spec('z', z_scale), spec('confidence')]
    if family == 'direct_joint':
        return [spec('joints')]
    if family == 'kinematic':
        names = ['joints', *_NATIVE] + (['scale'] if with_scale else [])
        names += ['confidence'] if with_confidence else []
        return [spec(n) for n in names]
    raise ModelCardError(f'family: expected one of {FAMILIES}, got {family!r}')


def _check(problems: list[str], ok: bool, where: str, expected: str, found: Any) -> None:
    if not ok:
        problems.append(f'{where}: expected {expected}, got {found!r}')


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x


def _pos_num(x: Any) -> bool:
    return _num(x) and x > 0


def _pos_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0
