"""Shared fixtures of the ROS tests (the sandboxed ROS environment is set in test/conftest.py)."""
import pytest


@pytest.fixture
def context():
    """A private rclpy context, shut down after the test."""
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        rclpy.shutdown(context=ctx)
