"""Markdown report of ``kinpose toy`` (``docs/toy_experiment.md``).

The report is generated from the results dict of ``tools.toy.run_experiment``; a hand-written
``## Discussion`` section already present in the output file is kept when it is rewritten.
"""
from __future__ import annotations

from pathlib import Path

from kinpose_ros.data.toy import toy_skeleton
from kinpose_ros.tools.toy import METHOD_LABELS

# Zhou et al. 2016, section 4.1, level 1 (the only level with figures in the text)
PAPER_LEVEL1_JOINT_PX = {'direct_joint': 5.1, 'kinematic': 4.9, 'direct_parameter': 4.8}
PAPER_LEVEL1_BONE_STD_PX = {'direct_joint': 5.3}
_DISCUSSION = '## Discussion'
_PLACEHOLDER = ('_Not written yet: add the discussion here; it is kept when the report is '
                'regenerated._\n')


def _levels(results: dict) -> list[tuple[int, dict]]:
    return sorted((int(k), v) for k, v in results['levels'].items())


def _fmt(v: float, digits: int = 2) -> str:
    if v != 0 and abs(v) < 10 ** -digits:
        return f'{v:.1e}'
    return f'{v:.{digits}f}'


def _setup(results: dict) -> list[str]:
    s = results['settings']
    lines = ['## Setup', '', '| level | motion parameters | bones | bone length (px) |',
             '|---|---|---|---|']
    for level, _ in _levels(results):
        sk = toy_skeleton(level)
        lines.append(f'| {level} | {sk.num_params} | {len(sk.bones)} | '
                     f'{sk.rest_bone_lengths().mean():g} |')
    minutes = results.get('seconds', 0.0) / 60
    lines += [
        '',
        f'- Data (`kinpose_ros/data/toy.py`): {s["train"]} training and {s["test"]} test '
        f'images per level (the paper: 16k / 1k), 128 x 128 binary, bones drawn '
        f'{s["thickness"]:g} px thick, the root joint marked by a filled disc of radius '
        f'{s.get("root_radius", 4.0):g} px (without it a level-1 chain and its reversal give the '
        'same image); every angle (root relative to the vertical, each joint relative to its '
        'parent bone) uniform within +-90 deg, poses that do not fit the image with a 4 px '
        'margin rejected, root position uniform among those that fit. Training and test sets '
        'use different seeds.',
        '- Network: `KinematicRegressor(mode=...)` with the `cnn5` backbone '
        '(`kinpose_ros/nets/small_cnn.py`: conv 5x5/2 + four conv 3x3, channels 8-16-32-64-64, '
        'BN, ReLU, max-pool, then FC 1024->256) and the head FC 256->256->outputs; the kinematic '
        'modes end in the forward-kinematics layer. Root rotation as a (cos, sin) pair, joint '
        'angles bounded to their limits by a sigmoid.',
        '- Targets normalised by the image size: joints / 128; motion parameters as (root x / '
        '128, root y / 128, angles in radians), the root in [0, 1] as in the paper. Losses: '
        'Eq. 3 on joints (direct joint, kinematic joint); 0.5 (|dt|^2 + |dR|_F^2 + |dangles|^2) '
        'on the '
        'parameters (direct parameter, joints by FK at test time).',
        f'- Training: Adam, learning rate {s["lr"]:g} with cosine decay to 0, batch {s["batch"]}, '
        f'{s["epochs"]} epochs (the paper: 50), seed {s["seed"]}, '
        f'{results.get("threads", 1)} CPU thread(s); whole run {minutes:.0f} min.',
        '- Metrics (`toy_metrics`): joint error = mean Euclidean distance over joints and test '
        'images; angle error = mean absolute error over the root angle and every joint angle, '
        'all recovered from the predicted joints (bone relative to its parent bone, the first '
        'bone relative to the vertical; equal to the predicted parameters for the kinematic '
        "modes); bone-length std = standard deviation over the test set of each bone's length, "
        'averaged over bones (`evaluation.bone_length_spread`).', '']
    return lines


def _results_table(results: dict) -> list[str]:
    lines = ['## Results', '',
             '| level | method | joint error (px) | joint error (% bone) | angle error (deg) | '
             'bone-length std (px) | bone-length std (% bone) | paper, level 1 |',
             '|---|---|---|---|---|---|---|---|']
    for level, by_method in _levels(results):
        for method, m in by_method.items():
            bone = m['bone_length_px']
            paper = ''
            if level == 1 and method in PAPER_LEVEL1_JOINT_PX:
                paper = f'joint {PAPER_LEVEL1_JOINT_PX[method]} px'
                if method in PAPER_LEVEL1_BONE_STD_PX:
                    paper += f', bone std {PAPER_LEVEL1_BONE_STD_PX[method]} px'
            lines.append(
                f'| {level} | {METHOD_LABELS[method]} | {_fmt(m["joint_error_px"])} | '
                f'{_fmt(100 * m["joint_error_px"] / bone, 1)} | {_fmt(m["angle_error_deg"])} | '
                f'{_fmt(m["bone_std_px"])} | {_fmt(100 * m["bone_std_px"] / bone, 1)} | '
                f'{paper} |')
    return lines + ['']


def _acceptance(results: dict) -> list[str]:
    lines = ['## Acceptance', '']
    kin = [(lv, d['kinematic']['bone_std_px']) for lv, d in _levels(results) if 'kinematic' in d]
    if kin:
        worst = max(v for _, v in kin)
        lines.append(f"- Kinematic joint's bone-length std < 1e-4 px at every level: "
                     f'{"yes" if worst < 1e-4 else "NO"} (largest {worst:.1e} px: the FK layer '
                     "gives every output the skeleton's bone lengths).")
    lv1 = dict(_levels(results)).get(1, {})
    if 'direct_joint' in lv1:
        m = lv1['direct_joint']
        pct = 100 * m['bone_std_px'] / m['bone_length_px']
        lines.append(f"- Direct joint's bone-length std at level 1 >= 5 % of the bone length: "
                     f'{"yes" if pct >= 5 else "NO"} ({m["bone_std_px"]:.2f} px = {pct:.1f} % of '
                     f'{m["bone_length_px"]:g} px; the paper: 5.3 px = 11.8 %).')
    return lines + ['']


def _trends(results: dict) -> list[str]:
    levels = _levels(results)
    if len(levels) < 2:
        return []
    lines = ['## Trends across levels (computed from the table)', '',
             '| claim of the paper | ' + ' | '.join(f'level {lv}' for lv, _ in levels)
             + ' | holds (last level > level ' + str(levels[0][0]) + ') |',
             '|---|' + '---|' * (len(levels) + 1)]
    checks = [('direct parameter: joint error grows (% bone)', 'direct_parameter',
               'joint_error_px', True),
              ('direct joint: angle error grows (deg)', 'direct_joint', 'angle_error_deg', False),
              ('direct joint: bone-length std grows (% bone)', 'direct_joint', 'bone_std_px',
               True)]
    for label, method, key, relative in checks:
        vals = [d[method][key] / (d[method]['bone_length_px'] / 100 if relative else 1)
                for _, d in levels if method in d]
        if len(vals) == len(levels):
            lines.append(f'| {label} | ' + ' | '.join(_fmt(v, 1) for v in vals)
                         + f' | {"yes" if vals[-1] > vals[0] else "no"} |')
    for key, what in (('joint_error_px', 'joint error'), ('angle_error_deg', 'angle error')):
        ranks = []
        for _, d in levels:
            order = sorted(d, key=lambda k, key=key: d[k][key])
            ranks.append(f'{order.index("kinematic") + 1} of {len(order)}'
                         if 'kinematic' in d else '-')
        lines.append(f'| kinematic joint stays good: rank on {what} | ' + ' | '.join(ranks)
                     + ' | |')
    return lines + ['']


def render_report(results: dict, discussion: str = _PLACEHOLDER) -> str:
    """The markdown text of the report."""
    head = ['# Toy experiment: Deep Kinematic Pose Regression, section 4.1', '',
            'Direct joint, kinematic joint and direct parameter regression on 2-D articulated '
            'chains of four complexity levels (Zhou et al. 2016, section 4.1, Fig. 4 and 5). '
            'Generated by:', '', f'    {results.get("command", "kinpose toy")}', '']
    body = (head + _setup(results) + _results_table(results) + _acceptance(results)
            + _trends(results))
    return '\n'.join(body) + f'\n{_DISCUSSION}\n\n{discussion.strip()}\n'


def write_report(path: str | Path, results: dict) -> None:
    """Write the report, keeping the ``## Discussion`` section of an existing file."""
    path = Path(path)
    discussion = _PLACEHOLDER
    if path.is_file():
        text = path.read_text(encoding='utf-8')
        if _DISCUSSION in text:
            kept = text.split(_DISCUSSION, 1)[1].strip()
            discussion = kept or _PLACEHOLDER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results, discussion), encoding='utf-8')
