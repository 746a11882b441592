"""Synthetic training samples: on-the-fly dataset, shards, preview, CLI and benchmark."""
import json

import numpy as np
import pytest

from kinpose_ros.data.synth import SynthConfig, SynthGenerator, open_shards

torch = pytest.importorskip('torch')

from kinpose_ros.data.synth.dataset import (  # noqa: E402
    ShardDataset,
    SynthPersonDataset,
    crop_info,
    write_shards,
)

CFG = SynthConfig(sensors=('itop',))


def test_dataset_targets_map_back_to_camera_frame():
    ds = SynthPersonDataset(4, CFG, seed=3, out_size=(128, 128))
    item = ds[1]
    assert item['depth'].shape == (1, 128, 128) and item['depth'].dtype == torch.float32
    assert item['mask'].shape == (128, 128) and item['mask'].any()
    assert float(item['depth'].min()) >= -1.0 and float(item['depth'].max()) <= 1.0
    sample = {k: v.numpy() for k, v in item.items()}
    info = crop_info(sample, (128, 128))
    from kinpose_ros.core.camera import Intrinsics
    fx, fy, cx, cy = sample['intrinsics']
    K = Intrinsics(*sample['image_size'], fx, fy, cx, cy)
    xyz = info.crop_to_camera(sample['uvz'], K)
    np.testing.assert_allclose(xyz, sample['joints_xyz'], atol=1e-4)
    # visible joints land on the person's crop pixels (3x3 neighbourhood)
    for j in np.flatnonzero(sample['visible']):
        c, r = (int(np.floor(x + 0.5)) for x in sample['uvz'][j, :2])
        if 0 <= r < 128 and 0 <= c < 128:
            assert sample['mask'][max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].any()
    with pytest.raises(IndexError):
        ds[4]


def test_shards_round_trip(tmp_path):
    paths = write_shards(tmp_path, 5, seed=3, config=CFG, out_size=(96, 96), shard_size=2,
                         workers=1, progress=False)
    assert [p.name for p in paths] == ['synth_00000.npz', 'synth_00001.npz', 'synth_00002.npz']
    meta = json.loads((tmp_path / 'meta.json').read_text())
    assert meta['count'] == 5 and meta['out_size'] == [96, 96]
    shards = ShardDataset(tmp_path)
    live = SynthPersonDataset(5, CFG, seed=3, out_size=(96, 96))
    assert len(shards) == 5
    for i in (0, 4):
        a, b = shards.sample(i), {k: v.numpy() for k, v in live[i].items()}
        np.testing.assert_allclose(a['depth'], b['depth'], atol=2e-3)
        np.testing.assert_array_equal(a['mask'], b['mask'])
        np.testing.assert_allclose(a['uvz'], b['uvz'])
    frames = open_shards(tmp_path)
    f = frames[2]
    p = f.people[0]
    assert f.depth_m.shape == (96, 96) and f.intrinsics.size == (96, 96)
    np.testing.assert_allclose(f.intrinsics.project(p.joints_xyz), p.joints_uv, atol=1e-3)
    assert p.mask.any() and p.box_xyxy[2] > p.box_xyxy[0]


def test_preview_writes_png(tmp_path):
    from PIL import Image

    from kinpose_ros.data.synth.preview import write_preview

    gen = SynthGenerator(SynthConfig(people=(1, 2), rgb=True), seed=2)
    path = write_preview(gen, tmp_path / 'p.png', count=3, columns=2, with_rgb=True)
    img = np.asarray(Image.open(path))
    assert img.shape == (3 * 240, 2 * 320, 3)  # 3 depth + 3 RGB images, 2 columns
    assert img.std() > 10


def test_cli_preview_and_shards(tmp_path, capsys):
    from kinpose_ros.tools.cli import main

    assert main(['synth', '--preview', str(tmp_path / 'm.png'), '--count', '2',
                 '--sensors', 'itop']) == 0
    assert (tmp_path / 'm.png').stat().st_size > 1000
    assert main(['synth', '--out', str(tmp_path / 's'), '--count', '3', '--workers', '1',
                 '--sensors', 'itop', '--size', '64', '64', '--json']) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary['samples'] == 3 and len(summary['shards']) == 1


def test_benchmark_reports_rate():
    from kinpose_ros.data.synth.parallel import benchmark_synth

    out = benchmark_synth(frames=6, workers=1)
    assert out['frames'] == 6 and out['frames_per_s'] > 0 and out['cpu_ms_per_frame'] > 0
    assert (out['width'], out['height']) == (320, 240)
