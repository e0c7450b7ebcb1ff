# syntax=docker/dockerfile:1.7
# Dana Workflows worker image: `docker build -t dana-workflows .`, then `docker run dana-workflows --help`.
# Slim image, for an audit on a ClickHouse server (clickhouse://) only: `docker build --target runtime-slim
# -t dana-workflows:slim .` (no embedded chdb, pandas or pyarrow: ~790 MB less installed; a chdb:// DSN is refused).
#
# Stages: `build` has compilers and pip and produces a virtualenv; the runtime stages copy only that venv onto
# a clean slim base, run as an unprivileged user and work with a read-only root filesystem
# (state in /var/lib/dana-wf = DWF_DATA_DIR: the file schema registry, the LLM cache, faust tables; scratch in
# /tmp: mount both writable, as the Helm chart and docker-compose.yml do; WORKDIR stays read-only).
# Python dependencies come from requirements.lock (pinned with hashes; `make lock` regenerates it) in a layer
# of their own, so editing the sources rebuilds only the last layers.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers only for dependencies that ship no wheel for this platform; they stay in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
# The venv gets no pip of its own: the base image's pip installs into it (--python), so none ships.
RUN python -m venv --without-pip /opt/dana-wf
ENV PATH=/opt/dana-wf/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
RUN pip --python /opt/dana-wf/bin/python install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
# the rooms and dana_workflows/ (one relative symlink per room: the import namespace)
COPY dana_workflows/ dana_workflows/
COPY core/ core/
COPY schemas/ schemas/
COPY workflow/ workflow/
COPY analysis/ analysis/
COPY sinks/ sinks/
COPY knowledge/ knowledge/
COPY processors/ processors/
COPY drift/ drift/
COPY objectives/ objectives/
COPY streams/ streams/
COPY devservices/ devservices/
COPY cli/ cli/
RUN pip --python /opt/dana-wf/bin/python install --no-deps . \
 && dana-wf --version

# The same venv without the embedded ClickHouse and what only it needs.
FROM build AS build-slim
RUN pip --python /opt/dana-wf/bin/python uninstall -y chdb-core pandas pyarrow \
 && dana-wf --version

FROM ${PYTHON_IMAGE} AS runtime-base
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="dana-workflows" \
      org.opencontainers.image.description="Neurosymbolic workflow engine on Kafka, audited in ClickHouse" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/dana-workflows/dana-workflows"
# tini reaps children and forwards SIGTERM, so a worker commits offsets and flushes its audit buffer on stop.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 dwf \
 && useradd --system --uid 10001 --gid dwf --home-dir /home/dwf --create-home --shell /usr/sbin/nologin dwf \
 && mkdir -p /var/lib/dana-wf \
 && chown dwf:dwf /var/lib/dana-wf
COPY --chown=root:root docs/examples/ /usr/share/dana-wf/examples/
ENV PATH=/opt/dana-wf/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DWF_DATA_DIR=/var/lib/dana-wf \
    DWF_LLM_CACHE_PATH=/var/lib/dana-wf/llm-cache \
    DWF_METRICS_PORT=9108
USER 10001:10001
WORKDIR /home/dwf
VOLUME ["/var/lib/dana-wf"]
EXPOSE 9108
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('DWF_METRICS_PORT', '9108')}/healthz\", timeout=4)"]
ENTRYPOINT ["tini", "--", "dana-wf"]
CMD ["--help"]

# Audit on a ClickHouse server only (DWF_AUDIT_DSN=clickhouse://...): `docker build --target runtime-slim`.
FROM runtime-base AS runtime-slim
COPY --from=build-slim /opt/dana-wf /opt/dana-wf

# The default image: everything, the embedded chdb audit store included.
FROM runtime-base AS runtime
COPY --from=build /opt/dana-wf /opt/dana-wf
