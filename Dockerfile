# browser-agent: the Step Functions activity worker with headless Chromium, ffmpeg and Nova Act.
#
#   docker build -t browser-agent .                 (make image; the public Python base)
#   docker run --rm browser-agent demo --out /tmp/demo
#
# Build arguments:
#   BASE_IMAGE  Debian bookworm with Python 3.11. Production uses the public
#               python:3.11-slim-bookworm; machines without a registry build
#               localhost/bookworm-py:base with container/build-base-image.sh and pass it.
#   EXTRAS      the package's extras to install: "nova" (default, Nova Act: ~360 MB more) or "".
#
# The image fits the ECS task definition in infra/: read-only root file system, writable
# volumes at /var/lib/browser-agent/spool and /tmp, `browser-agent healthcheck` as the health
# check, SIGTERM reaching `browser-agent run` (tini is PID 1; the entrypoint execs). See
# container/README.md.

# Fully qualified, so podman (which has no default registry) pulls the same image as docker.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

# --- the agent's wheel --------------------------------------------------------------------
FROM ${BASE_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md settings.toml ./
COPY agent ./agent
COPY examples ./examples
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- the image ----------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG EXTRAS=nova

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Chromium (Debian's; Playwright's own build is a download), ffmpeg for session video, fonts
# for readable screenshots, tini as PID 1 (forwards signals, reaps Chromium's orphans).
# Versions come from the bookworm (+ security) archive, which moves only with fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium \
        ffmpeg \
        fonts-liberation \
        fonts-dejavu-core \
        fonts-noto-color-emoji \
        tini \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb

# The agent's user. Its writable places are owned by it and by group 0, so the image also runs
# under an arbitrary uid with gid 0 (`docker run --user "$(id -u)"`, see container/README.md).
# ECS copies each VOLUME's ownership from the image into its fresh task volume.
RUN groupadd --gid 10001 agent \
    && useradd --uid 10001 --gid 10001 --home-dir /home/agent --create-home \
        --shell /usr/sbin/nologin agent \
    && install -d -o 10001 -g 0 -m 0775 /var/lib/browser-agent /var/lib/browser-agent/spool \
    && chown 10001:0 /home/agent /tmp \
    && chmod 0775 /home/agent \
    && chmod 1777 /tmp

ENV VIRTUAL_ENV=/opt/browser-agent \
    PATH=/opt/browser-agent/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLAYWRIGHT_BROWSERS_PATH=/opt/ms-playwright \
    NOVA_ACT_SKIP_PLAYWRIGHT_INSTALL=1

# Dependencies first, in a layer of their own: a change to the agent's code leaves it cached.
COPY pyproject.toml container/requirements.py /tmp/build/
RUN python3 /tmp/build/requirements.py /tmp/build/pyproject.toml "${EXTRAS}" \
        > /tmp/build/requirements.txt \
    && python3 -m venv "${VIRTUAL_ENV}" \
    && pip install --no-cache-dir -r /tmp/build/requirements.txt \
    && rm -rf /tmp/build

# The agent itself; then Playwright's ffmpeg is linked to Debian's at build time, under
# PLAYWRIGHT_BROWSERS_PATH, since the root file system is read-only when the agent runs.
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl \
    && pip check \
    && rm -rf /tmp/dist \
    && python3 -c "from agent.browser.ffmpeg import ensure_video_encoder as e; assert e()" \
    && browser-agent --help > /dev/null

COPY --chmod=0755 container/entrypoint.sh /usr/local/bin/browser-agent-entrypoint

ENV HOME=/home/agent \
    BROWSER_AGENT_SPOOL_DIR=/var/lib/browser-agent/spool \
    BROWSER_AGENT_BROWSER__EXECUTABLE_PATH=/usr/bin/chromium \
    BROWSER_AGENT_WORKER__HEALTH_FILE=/tmp/browser-agent.health \
    XDG_CACHE_HOME=/tmp/.cache

VOLUME ["/var/lib/browser-agent/spool", "/tmp"]
USER 10001:10001
WORKDIR /home/agent

# ECS runs its own health check (infra/: the same command, every 30 s); this one serves
# `docker run` and compose. `run` writes the liveness file; other commands are "unhealthy".
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["browser-agent", "healthcheck"]

# ECS's stop timeout is 120 s; the worker drains for 100 s (BROWSER_AGENT_WORKER__DRAIN_SECONDS).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/browser-agent-entrypoint"]
CMD ["run"]
