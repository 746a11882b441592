"""Training configs (YAML <-> dataclasses) and data-source specs."""
from pathlib import Path

import numpy as np
import pytest

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.training.config import TrainConfig, load_config
from kinpose_ros.training.fabricated import FabricatedSource
from kinpose_ros.training.sources import parse_data_spec

CONFIGS = sorted((Path(__file__).resolve().parents[2] / 'config' / 'train').glob('*.yaml'))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_load_and_round_trip(path):
    cfg = load_config(path)
    assert cfg.name == path.stem
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()
    Skeleton.load(cfg.skeleton)


def test_unknown_keys_and_bad_values_are_named():
    with pytest.raises(ValueError, match=r'unknown keys \[.lr.\]'):
        TrainConfig.from_dict({'optim': {'name': 'adam'}, 'lr': 1})
    with pytest.raises(ValueError, match=r'augment.*unknown keys \[.flip.\]'):
        TrainConfig.from_dict({'augment': {'flip': True}})
    with pytest.raises(ValueError, match='model.family'):
        TrainConfig.from_dict({'model': {'family': 'transformer'}})
    with pytest.raises(ValueError, match='normalisation.center'):
        TrainConfig.from_dict({'normalisation': {'center': 'mean'}})


def test_data_specs():
    cfg = parse_data_spec('synth:seed=123,n=500,sensors=all')
    assert (cfg.source, cfg.seed, cfg.samples, cfg.synth) == ('synth', 123, 500,
                                                              {'sensors': 'all'})
    cfg = parse_data_spec('itop:/data/itop,split=test')
    assert (cfg.source, cfg.path, cfg.split) == ('itop', '/data/itop', 'test')
    cfg = parse_data_spec('fabricated')
    assert cfg.source == 'fabricated' and cfg.samples is None
    with pytest.raises(ValueError, match='source must be one of'):
        parse_data_spec('coco:/x')
    with pytest.raises(ValueError, match='key=value'):
        parse_data_spec('synth:seed=1,oops')


def test_fabricated_frames_are_pure_in_seed_and_index():
    sk = Skeleton.load('body15')
    a = FabricatedSource(sk, seed=4, size=(80, 60)).frame(7)
    b = FabricatedSource(sk, seed=4, size=(80, 60)).frame(7)
    np.testing.assert_array_equal(a.depth_m, b.depth_m)
    np.testing.assert_array_equal(a.people[0].joints_xyz, b.people[0].joints_xyz)
    person = a.people[0]
    assert person.mask.any() and a.depth_m.shape == (60, 80)
    # the person's pixels are nearer than the wall and the joints lie inside the body
    assert np.nanmedian(a.depth_m[person.mask]) < np.nanmedian(a.depth_m[~person.mask])
    uv = a.intrinsics.project(person.joints_xyz)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < 80) & (uv[:, 1] >= 0) & (uv[:, 1] < 60)
    r, c = uv[inside, 1].astype(int), uv[inside, 0].astype(int)
    assert person.mask[r, c].mean() > 0.8
