# The two commands of README.md. Both set everything up first (idempotent), then do their job.
# `make demo WORLD=kinematic`: the demo on the kinematic world instead of the MuJoCo twin.
.PHONY: setup demo test
WORLD ?= mujoco

setup:
	bash tools/setup.sh

demo: setup
	bash tools/demo.sh --world $(WORLD)

test: setup
	bash tools/test.sh
