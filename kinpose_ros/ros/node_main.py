"""The ``main()`` body shared by the console-script nodes: init, spin, clean shutdown.

rclpy.init installs SIGINT and SIGTERM handlers that end spinning; both signals, Ctrl-C and a
start-up failure (bad parameter, missing model) end the process without a traceback. A signal
can land while a timer callback publishes: the publish then fails on the shut-down context,
which is still a clean exit (code 0).
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
        if node is not None and not rclpy.ok():
            # a signal shut the context down while a callback was publishing ("publisher's
            # context is invalid"): that is the requested shutdown, not a failure
            return 0
        what = 'cannot start' if node is None else 'stopped'
        print(f'{name}: {what}: {exc}', file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
