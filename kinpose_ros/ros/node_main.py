"""The ``main()`` body shared by the console-script nodes: init, spin, clean shutdown.

rclpy.init installs SIGINT and SIGTERM handlers that end spinning; both signals, Ctrl-C and a
start-up failure (bad parameter, missing model) end the process without a traceback.
"""
from __future__ import annotations

import sys
from collections.abc import Callable


def run_node(make_node: Callable, name: str, spin: Callable | None = None,
             args: list[str] | None = None) -> int:
    """Create the node with ``make_node()``, spin it (``rclpy.spin`` unless ``spin`` is given)
    and shut down cleanly. Returns the process exit code: 0, or 1 when the node cannot start."""
    import rclpy  # noqa: PLC0415
    from rclpy.executors import ExternalShutdownException  # noqa: PLC0415

    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        (spin or rclpy.spin)(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        print(f'{name}: cannot start: {exc}', file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
