"""``kinpose bench pipeline``: runs end to end and reports the figures docs/benchmarks.md uses."""
import json

import numpy as np
import pytest
import torch

from kinpose_ros.inference.model_export import export_model, random_model
from kinpose_ros.tools import bench_pipeline
from kinpose_ros.tools.cli import main


def test_bench_pipeline_reports_stages_and_throughput(tmp_path, capsys):
    torch.set_num_threads(1)
    model, config, sk = random_model('a2j', input_size=(64, 64), width=0.25, head_width=16,
                                     head_depth=1)
    export_model(model, 'a2j', config, sk, tmp_path / 'tiny.onnx', dynamic_batch_max=4,
                 check=False)
    rc = main(['bench', 'pipeline', '--model', str(tmp_path / 'tiny.json'), '--frames', '3',
               '--backend', 'onnxruntime-cpu', '--threads', '1', '--json'])
    assert rc == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['backend'] == 'onnxruntime-cpu'
    assert 'sequences' in figures['frame_source'] and 'sequences' not in \
        figures['frame_source_cold']
    for suffix in ('', '_cold'):  # the stream (headline) and unrelated frames
        for key in ('fps_1_person', 'fps_4_people', 'non_inference_fraction'):
            assert figures[key + suffix] > 0
        assert 0 < figures[f'non_inference_fraction{suffix}'] < 1
        for stage in ('segment', 'crop', 'infer', 'decode', 'angles', 'filter', 'total'):
            assert figures[f'ms_1_person_{stage}{suffix}'] >= 0
        assert figures[f'ms_1_person_total{suffix}'] >= figures[f'ms_1_person_infer{suffix}']
        assert figures[f'people_found_4_people{suffix}'] > \
            figures[f'people_found_1_person{suffix}'] > 0
    assert figures['cell_model'] == 'none' and figures['cell_mode'] == 'gate'
    rc = main(['bench', 'pipeline', '--model', str(tmp_path / 'tiny.json'), '--frames', '2',
               '--backend', 'onnxruntime-cpu', '--threads', '1', '--cell-model', 'default',
               '--cell-mode', 'union', '--json'])
    assert rc == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['cell_model'] == 'default' and figures['cell_mode'] == 'union'
    assert figures['ms_1_person_segment'] > 0


@pytest.mark.parametrize('make', [bench_pipeline._stream, bench_pipeline._capsule_stream],
                         ids=['synth', 'capsules'])
def test_stream_continues_within_sequences_and_marks_their_starts(make):
    out = make(1, 8, 0)
    frames = out[0] if isinstance(out, tuple) else out
    assert len(frames) == bench_pipeline.SEQUENCES * 8
    assert [f[3] for f in frames] == [k % 8 == 0 for k in range(len(frames))]
    steps = []
    for a, b in zip(frames, frames[1:]):
        if not b[3] and a[2] and b[2]:  # same sequence, the person found in both
            steps.append(np.linalg.norm(a[2][0].centroid_xyz - b[2][0].centroid_xyz))
            assert a[1] == b[1]  # same camera
    # the person continues: a few cm per frame at 30 fps (not a new place every frame)
    assert len(steps) >= 8 and max(steps) < 0.15
    cold = bench_pipeline._unrelated(1, 8, 0)[0]
    jumps = [np.linalg.norm(a[2][0].centroid_xyz - b[2][0].centroid_xyz)
             for a, b in zip(cold, cold[1:]) if a[2] and b[2]]
    assert not any(f[3] for f in cold) and np.median(jumps) > 0.3
