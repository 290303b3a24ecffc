# ragline serve: multi-stage build, non-root runtime, HEALTHCHECK on /health.
#   docker build -t ragline .
#   docker run -p 8080:8080 -v ragline-data:/data -v $PWD/serve.yaml:/config/serve.yaml:ro \
#       -e RAGLINE_CONFIG=/config/serve.yaml ragline
# A public bind needs API keys: serve.yaml must list serve.api_keys (see docs/deploy.md).

FROM python:3.11-slim AS build
# llama-cpp-python compiles from source (no wheel on PyPI)
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv \
    # torch first, pinned, CPU build: an unpinned torch pulls a multi-GB CUDA build
    && /opt/venv/bin/pip install --no-cache-dir torch==2.13.0 \
        --index-url https://download.pytorch.org/whl/cpu \
    # a portable llama.cpp build: the image runs on CPUs other than the builder's
    && CMAKE_ARGS="-DGGML_NATIVE=OFF" /opt/venv/bin/pip install --no-cache-dir ".[all]"

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 ragline \
    && mkdir -p /data /home/ragline/.cache \
    && chown -R ragline:ragline /data /home/ragline/.cache
COPY --from=build /opt/venv /opt/venv
COPY configs /app/configs
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    RAGLINE_DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    MLFLOW_DISABLE_TELEMETRY=true \
    RAGAS_DO_NOT_TRACK=true \
    PYTHONUNBUFFERED=1
USER ragline
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"
CMD ["ragline", "serve", "--host", "0.0.0.0", "--port", "8080"]
