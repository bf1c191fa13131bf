# The two commands of README.md. Both set everything up first (idempotent), then do their job.
.PHONY: setup demo test

setup:
	bash tools/setup.sh

demo: setup
	bash tools/demo.sh

test: setup
	bash tools/test.sh
