# browser-agent: `make demo` and `make test` are the two commands a new machine needs.
# Every target that runs the agent or its checks first runs scripts/setup (fast when done).

VENV := .venv
BIN := $(VENV)/bin
SETUP_FLAGS ?=

.PHONY: setup demo test lint clean image

setup:
	@scripts/setup $(SETUP_FLAGS)

demo: setup
	$(BIN)/browser-agent demo

# infra/ (the CDK app) is linted and type-checked with the agent; tests/test_infra.py
# synthesises it (with cdk-nag's AwsSolutions checks) as part of `make test`.
lint: setup
	$(BIN)/ruff check agent infra tests bench
	$(BIN)/ruff format --check agent infra tests bench
	$(BIN)/mypy agent infra
	MYPYPATH=bench:tests $(BIN)/mypy --strict bench/*.py

# pytest exits 5 when it collects no tests; that fails `make test` like any other failure.
test: lint
	@status=0; $(BIN)/pytest -q || status=$$?; \
	if [ $$status -eq 5 ]; then \
		echo "make test: FAILED: pytest collected no tests (exit code 5)" >&2; \
	elif [ $$status -ne 0 ]; then \
		echo "make test: FAILED: pytest exit code $$status" >&2; \
	fi; \
	exit $$status

# The container image (Dockerfile; container/README.md). By default from the public
# python:3.11-slim-bookworm base, with docker when its daemon answers, else podman (with
# --format docker, which keeps the HEALTHCHECK). Where no image registry is reachable:
#   container/build-base-image.sh && make image BASE_IMAGE=localhost/bookworm-py:base \
#     IMAGE_BUILD_FLAGS='--network host -v /etc/ssl/certs:/etc/ssl/certs:ro'
IMAGE ?= browser-agent:latest
BASE_IMAGE ?=
EXTRAS ?= nova
IMAGE_BUILD_FLAGS ?=
CONTAINER_ENGINE ?= $(shell if docker info >/dev/null 2>&1; then echo docker; \
	elif command -v podman >/dev/null 2>&1; then echo podman; fi)

image:
	@test -n "$(CONTAINER_ENGINE)" || { echo "make image: no docker daemon and no podman" >&2; exit 1; }
	$(CONTAINER_ENGINE) build -t $(IMAGE) \
		$(if $(filter podman,$(notdir $(CONTAINER_ENGINE))),--format docker) \
		$(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
		--build-arg EXTRAS=$(EXTRAS) $(IMAGE_BUILD_FLAGS) .

clean:
	rm -rf recordings .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
