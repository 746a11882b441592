# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kinpose-setup
# The CLI as a module: pip puts console scripts in bin/ or (setup.cfg, for `ros2 run`) in
# lib/kinpose_ros depending on its editable mode, so nothing here relies on either.
KINPOSE := $(PY) -m kinpose_ros.tools.cli
# Every ROS process started from here stays on loopback, in a private domain, logging to /tmp.
ROS_SANDBOX := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_LOCALHOST_ONLY=1 \
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 100 + 100 ))} \
	ROS_HOME=$$(mktemp -d) ROS_LOG_DIR=$$(mktemp -d)

.PHONY: setup demo test lint pytest bench clean
setup: $(STAMP)

$(STAMP): setup.py setup.cfg scripts/setup_env.sh scripts/build_interfaces.sh
	VENV=$(VENV) scripts/setup_env.sh
	touch $(STAMP)

demo: setup
	$(ROS_SANDBOX) $(KINPOSE) demo

lint: setup
	$(VENV)/bin/ruff check .

pytest: setup
	$(PY) -m pytest -q

test: lint pytest

bench: setup
	$(KINPOSE) bench ik --json

clean:
	rm -rf build install log .pytest_cache .ruff_cache
