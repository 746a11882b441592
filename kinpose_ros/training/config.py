"""Training configuration: one dataclass tree, loaded from ``config/train/<name>.yaml``.

The YAML mirrors the dataclasses (unknown keys are errors, missing keys take the defaults
below). ``TrainConfig.to_dict()`` gives plain lists/dicts/numbers that are stored inside every
checkpoint, so a checkpoint alone rebuilds its model and its data pipeline.

Units: metres for depths and sizes, degrees for the rotation augmentation, fractions of the box
size for the box jitter and margin, pixels for ``input_size`` (H, W).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = [
    'AugmentConfig', 'DataConfig', 'ModelConfig', 'NormalisationConfig', 'OptimConfig',
    'TrainConfig', 'load_config',
]

FAMILIES = ('a2j', 'kinematic', 'lite', 'direct_joint')
SOURCES = ('synth', 'shards', 'itop', 'nyu', 'fabricated')


@dataclass
class ModelConfig:
    """Network family and constructor arguments.

    family: 'a2j' (``nets.a2j.A2J``), 'kinematic' / 'direct_joint'
    (``nets.kinematic.KinematicRegressor``) or
    'lite' (``nets.lite.LiteNet``). ``args`` go to the constructor as keywords (e.g. backbone,
    width, head_width, head_depth for A2J; backbone, width, mode, hidden, scale_range for the
    kinematic net); the number of joints / skeleton and ``input_size`` come from here.
    """

    family: str = 'a2j'
    input_size: tuple[int, int] = (128, 128)
    in_channels: int = 1
    args: dict = field(default_factory=dict)
    # start from the weights of another run's checkpoint, placed under ``init_prefix`` (e.g.
    # a trained A2J under 'a2j.' for the A2J + kinematic hybrid); ignored on --resume
    init_checkpoint: str = ''
    init_prefix: str = ''


@dataclass
class NormalisationConfig:
    """How a person becomes a network input; the same words as the model card
    (``inference.model_card``: ``crop`` and ``input.normalisation``).

    crop: 'proposal_box' (the person box grown by ``box_margin`` of its size on every side) or
        'metric_cube' (a square of ``cube_size_m`` metres at the person centroid's depth,
        centred on its projection: the crop's pixels per metre are then fixed, which a net
        that regresses metres needs); then grown to the input's aspect ratio.
    center: 'proposal_centroid' (z of the person's 3-D centroid: the mean of its segmented
        points, close to the median person depth) or 'crop_median' (median valid depth of the
        central half of the crop, as ``core.depth.crop_depth_batch`` computes it; it can land on
        the background behind thin or spread-out people).
    depth_range_m: full depth range mapped to [-1, 1] (half of it each side of the centre).
    fill_value: normalised value of invalid pixels (1 = far).
    z_unit_m: A2J / lite depth target unit, z_target = (z - centre) / z_unit_m (2 cm as in the
        paper, so that tau2 = 3 compares with crop pixels); the card's z output scale is
        half_range_m / z_unit_m.
    planes: constant geometry planes after the depth plane (``inference.model_card``
        ``GEOMETRY_PLANES``: the crop centre's ray and depth), for metric-crop nets that
        regress metres (``training.target_frame``); the model's ``in_channels`` is then
        1 + len(planes) and its ``geometry_inputs`` len(planes).
    """

    crop: str = 'proposal_box'
    box_margin: float = 0.1
    cube_size_m: float = 2.4
    center: str = 'proposal_centroid'
    depth_range_m: float = 2.0
    fill_value: float = 1.0
    z_unit_m: float = 0.02
    planes: list = field(default_factory=list)

    @property
    def half_range_m(self) -> float:
        return self.depth_range_m / 2.0


@dataclass
class DataConfig:
    """A source of depth frames with people.

    source: 'synth' (``data.synth`` generator on the fly: ``synth`` holds SynthConfig keywords,
    ``seed`` the generator seed), 'shards' (``path`` to synthetic shards), 'itop' (``path`` to
    the ITOP h5 folder, ``split``, ``view``), 'nyu' (``path``, ``split``), 'fabricated' (stick
    figures drawn here; tests and smoke runs). ``samples`` frames per epoch (None: the whole
    set); ``fresh`` draws new synthetic frames every epoch instead of reusing the first
    ``samples``.
    """

    source: str = 'synth'
    path: str = ''
    split: str = 'train'
    view: str = 'side'
    seed: int = 0
    samples: int | None = 1000
    fresh: bool = True
    synth: dict = field(default_factory=dict)
    workers: int = 0


@dataclass
class AugmentConfig:
    """The A2J paper's augmentation (ITOP: box edges +-15 px of 288, rotation +-45 deg, scale
    0.8-1.2, random erasing with noise) plus sensor depth noise. ``enabled: false`` turns all off.

    box_jitter: each box edge moves by up to this fraction of the box size.
    rotation_deg: in-plane rotation uniform in +-rotation_deg.
    scale: zoom range (crop pixels per image pixel multiplier).
    erase_prob / erase_max_area: probability of one erased rectangle per crop filled with
        uniform noise in [-1, 1], and its largest area as a fraction of the crop.
    depth_noise_m: std of Gaussian noise added to valid depth pixels, metres.
    center_jitter_m: std of noise on the proposal centroid depth (normalisation centre
        'proposal_centroid'), for robustness to segmentation errors at runtime.
    """

    enabled: bool = True
    box_jitter: float = 0.05
    rotation_deg: float = 45.0
    scale: tuple[float, float] = (0.8, 1.2)
    erase_prob: float = 0.5
    erase_max_area: float = 0.1
    depth_noise_m: float = 0.005
    center_jitter_m: float = 0.03


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (per optimisation step, linear warm-up first).

    name: 'adamw' or 'adam'; schedule: 'cosine' (to ``lr * min_lr_ratio`` at the last step) or
    'step' (multiply by ``gamma`` every ``step_epochs``); grad_clip: max gradient norm (0: off).
    """

    name: str = 'adamw'
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = 'cosine'
    warmup_steps: int = 100
    min_lr_ratio: float = 0.01
    step_epochs: int = 10
    gamma: float = 0.1
    grad_clip: float = 5.0


@dataclass
class TrainConfig:
    """Everything a training run needs; see ``config/train/*.yaml``."""

    name: str = 'run'
    skeleton: str = 'body15'
    model: ModelConfig = field(default_factory=ModelConfig)
    normalisation: NormalisationConfig = field(default_factory=NormalisationConfig)
    data: DataConfig = field(default_factory=DataConfig)
    val: DataConfig = field(default_factory=lambda: DataConfig(seed=1000, samples=200,
                                                               fresh=False))
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    batch_size: int = 32
    seed: int = 0
    threads: int = 0
    val_every: int = 1

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.model.family not in FAMILIES:
            raise ValueError(f'model.family: expected one of {FAMILIES}, got '
                             f'{self.model.family!r}')
        h, w = self.model.input_size
        if h <= 0 or w <= 0:
            raise ValueError(f'model.input_size: expected positive (H, W), got {(h, w)}')
        for key, d in (('data', self.data), ('val', self.val)):
            if d.source not in SOURCES:
                raise ValueError(f'{key}.source: expected one of {SOURCES}, got {d.source!r}')
        if self.optim.name not in ('adamw', 'adam'):
            raise ValueError(f"optim.name: expected 'adamw' or 'adam', got {self.optim.name!r}")
        if self.optim.schedule not in ('cosine', 'step'):
            raise ValueError(f"optim.schedule: expected 'cosine' or 'step', got "
                             f'{self.optim.schedule!r}')
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f'epochs and batch_size: expected >= 1, got {self.epochs} and '
                             f'{self.batch_size}')
        n = self.normalisation
        if n.crop not in ('proposal_box', 'metric_cube'):
            raise ValueError(f"normalisation.crop: expected 'proposal_box' or 'metric_cube', "
                             f'got {n.crop!r}')
        if n.center not in ('crop_median', 'proposal_centroid'):
            raise ValueError(f"normalisation.center: expected 'crop_median' or "
                             f"'proposal_centroid', got {n.center!r}")
        if not (n.depth_range_m > 0 and n.z_unit_m > 0 and n.cube_size_m > 0
                and 0 <= n.box_margin < 2):
            raise ValueError(f'normalisation: expected depth_range_m, z_unit_m, cube_size_m > 0 '
                             f'and 0 <= box_margin < 2, got {n}')
        self._check_planes()

    def _check_planes(self) -> None:
        from kinpose_ros.inference.model_card import GEOMETRY_PLANES

        planes, m = list(self.normalisation.planes or []), self.model
        if any(p not in GEOMETRY_PLANES for p in planes) or len(set(planes)) != len(planes):
            raise ValueError(f'normalisation.planes: expected distinct names from '
                             f'{GEOMETRY_PLANES}, got {planes}')
        geo = int(m.args.get('geometry_inputs', 0))
        if planes and (m.family not in ('kinematic', 'direct_joint') or geo != len(planes)
                       or m.in_channels != 1 + len(planes)):
            raise ValueError(f'normalisation.planes {planes}: needs model.family kinematic or '
                             f'direct_joint with in_channels {1 + len(planes)} and args.'
                             f'geometry_inputs {len(planes)}, got {m.family}, {m.in_channels} '
                             f'and {geo}')
        if m.args.get('trunk') == 'a2j':
            from kinpose_ros.nets.hybrid import PLANES

            if planes != list(PLANES):
                raise ValueError(f"model.args.trunk 'a2j': normalisation.planes must be "
                                 f'{list(PLANES)}, got {planes}')
        if geo and not planes:
            raise ValueError(f'model.args.geometry_inputs {geo}: name the planes in '
                             'normalisation.planes')

    def to_dict(self) -> dict:
        """Plain nested dict (tuples as lists): YAML-, JSON- and checkpoint-safe."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict, source: str = '<dict>') -> TrainConfig:
        """Build from a nested dict; unknown keys raise ValueError naming ``source``."""
        return _build(cls, data or {}, source)


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ValueError(f'{where}: expected a mapping for {cls.__name__}, got '
                         f'{type(data).__name__}')
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f'{where}: unknown keys {unknown} for {cls.__name__}; known: '
                         f'{sorted(fields)}')
    kwargs = {}
    for name, value in data.items():
        sub = _NESTED.get((cls.__name__, name))
        if sub is not None:
            kwargs[name] = _build(sub, value, f'{where}.{name}')
        elif name in ('input_size', 'scale') and value is not None:
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


_NESTED = {
    ('TrainConfig', 'model'): ModelConfig,
    ('TrainConfig', 'normalisation'): NormalisationConfig,
    ('TrainConfig', 'data'): DataConfig,
    ('TrainConfig', 'val'): DataConfig,
    ('TrainConfig', 'augment'): AugmentConfig,
    ('TrainConfig', 'optim'): OptimConfig,
}


def load_config(path: str | Path) -> TrainConfig:
    """Read a training YAML. A bare name (no suffix) looks in ``config/train/`` of the package.

    Raises:
        FileNotFoundError: no such file. ValueError: unknown keys or bad values (named).
    """
    path = Path(path)
    if not path.suffix:
        from kinpose_ros.resources import find

        path = find(f'config/train/{path}.yaml')
    if not path.is_file():
        raise FileNotFoundError(f'--config: no such training config: {path}')
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f) or {}
    cfg = TrainConfig.from_dict(data, source=str(path))
    if 'name' not in data:
        cfg.name = path.stem
    return cfg
