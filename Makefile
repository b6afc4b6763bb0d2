# visuomotor: the two set-up commands of the README.
#   make demo   install everything, then train SAC on dmc/cartpole-swingup (1.5-3.5 min on 2 CPU cores)
#   make test   install everything (with test extras), then run the test suite on 2 processes (pytest-xdist)
.PHONY: setup setup-test demo test bench

DEMO_STEPS ?= 15000

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh test

demo: setup
	.venv/bin/visuomotor train --env dmc/cartpole-swingup --algo sac --steps $(DEMO_STEPS) --seed 0 \
		--action-repeat 8 --sac.learning-starts 1000 --eval-every 2500 --eval-episodes 5

test: setup-test
	.venv/bin/python -m pytest -q -p no:cacheprovider -n 2

bench:
	bash scripts/setup.sh bench
	.venv/bin/python benchmarks/sac_speed.py
