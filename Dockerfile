# syntax=docker/dockerfile:1
# The jobqueue image: one image for `jobqueue controller`, `jobqueue dispatcher`,
# `jobqueue migrate` and the CLI. Broker plugins are chosen at build time:
#
#   docker build -t jobqueue .                              # kafka, redis and kinesis
#   docker build --build-arg PLUGINS="redis" -t jobqueue .  # only Redis (+ embedded SQLite)
#   docker build --build-arg PLUGINS="" -t jobqueue .       # only the embedded broker
#
# The build stage installs everything into a virtualenv; the runtime stage copies only that
# virtualenv, so compilers and pip caches stay out of the final image.

ARG PYTHON_VERSION=3.11
ARG PLUGINS="kafka redis kinesis"

FROM python:${PYTHON_VERSION}-slim AS build
ARG PLUGINS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/jobqueue
COPY pyproject.toml README.md ./
COPY core ./core
COPY services ./services
COPY plugins ./plugins
RUN set -eu; \
    targets="."; \
    for plugin in $PLUGINS; do \
        if [ ! -f "plugins/$plugin/pyproject.toml" ]; then \
            echo "unknown plugin '$plugin'; available: $(ls plugins | tr '\n' ' ')" >&2; \
            exit 1; \
        fi; \
        targets="$targets ./plugins/$plugin"; \
    done; \
    /opt/jobqueue/bin/pip install $targets; \
    /opt/jobqueue/bin/jobqueue plugins
COPY examples ./examples
RUN mkdir -p /opt/jobqueue/examples && cp examples/*.py /opt/jobqueue/examples/

FROM python:${PYTHON_VERSION}-slim AS runtime
ARG PLUGINS
LABEL org.opencontainers.image.title="jobqueue" \
      org.opencontainers.image.description="Job queues with retries, backoff and a DLQ over HTTP" \
      io.jobqueue.plugins="${PLUGINS}"
ENV PATH=/opt/jobqueue/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 jobqueue \
    && useradd --system --uid 10001 --gid jobqueue --home-dir /var/lib/jobqueue \
        --create-home --shell /usr/sbin/nologin jobqueue
COPY --from=build /opt/jobqueue /opt/jobqueue
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/jobqueue
EXPOSE 4000 4001
ENTRYPOINT ["jobqueue"]
CMD ["--help"]
