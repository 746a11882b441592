"""``kinpose urdf <skeleton>``: print the URDF of a skeleton (name or YAML path)."""
from __future__ import annotations

import argparse


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help='print the URDF of a skeleton',
        description='Print the URDF of a skeleton (shipped name such as body15, or a YAML '
        'path) so robot_state_publisher and RViz can draw the body from JointState.')
    p.add_argument('skeleton', help='skeleton name (body15, body17_h36m, hand21, '
                   'toy_level1..4) or path to a YAML file')
    p.add_argument('--prefix', default='', help='prefix for link names (e.g. person_0/)')
    p.add_argument('--output', '-o', help='write to this file instead of stdout')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinpose_ros.core.skeleton import Skeleton
    from kinpose_ros.core.urdf import skeleton_to_urdf

    text = skeleton_to_urdf(Skeleton.load(args.skeleton), prefix=args.prefix)
    if args.output:
        with open(args.output, 'w', encoding='utf-8') as f:
            f.write(text)
    else:
        print(text, end='')
    return 0
