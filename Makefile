# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kinpose-setup
# Every ROS process started from here stays on loopback, in a private domain, logging to /tmp.
ROS_SANDBOX := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_LOCALHOST_ONLY=1 \
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 100 + 100 ))} \
	ROS_HOME=$$(mktemp -d) ROS_LOG_DIR=$$(mktemp -d)

.PHONY: setup demo test lint pytest bench clean
setup: $(STAMP)

$(STAMP): setup.py scripts/setup_env.sh scripts/build_interfaces.sh
	scripts/setup_env.sh
	touch $(STAMP)

demo: setup
	$(ROS_SANDBOX) $(VENV)/bin/kinpose demo

lint: setup
	$(VENV)/bin/ruff check .

pytest: setup
	$(PY) -m pytest -q

test: lint pytest

bench: setup
	$(VENV)/bin/kinpose bench ik --json

clean:
	rm -rf build install log .pytest_cache .ruff_cache
