#!/usr/bin/env python3
"""precis from Python (grpcio), with stubs generated from the .proto at run time.

    python examples/python_client.py --server 127.0.0.1:50051 --to es ARTICLE [ARTICLE...]

Calls Digest on the first article, then DigestStream on all of them (plus one empty article, to
show that a bad item gets its own error while the others succeed). Needs grpcio and grpcio-tools
(pip install grpcio grpcio-tools). Stubs go to a temporary directory: nothing generated is kept.
"""
import argparse
import importlib
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def generate_stubs(proto_dir, out_dir):
    """Compiles precis.proto with grpcio-tools' bundled protoc and imports the result."""
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    status = protoc.main(
        [
            "protoc",
            f"-I{proto_dir}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            os.path.join(proto_dir, "precis", "v1", "precis.proto"),
        ]
    )
    if status != 0:
        sys.exit(f"protoc failed on {proto_dir}/precis/v1/precis.proto")
    sys.path.insert(0, out_dir)
    messages = importlib.import_module("precis.v1.precis_pb2")
    services = importlib.import_module("precis.v1.precis_pb2_grpc")
    return messages, services


def show_digest(label, digest):
    print(f"{label}: language={digest.language.language} ({digest.language.confidence:.2f})")
    for sentence in digest.summary.sentences:
        print(f"  summary [{sentence.span.start}:{sentence.span.end}] {sentence.text}")
    if digest.HasField("translated_summary"):
        engines = " + ".join(digest.translated_summary.engines)
        print(f"  summary in {digest.translated_summary.target_language} ({engines}): "
              f"{digest.translated_summary.text}")
    for quote in digest.quotes:
        speaker = quote.speaker.name or "unknown"
        print(f"  quote ({speaker}): {quote.text}")
        if quote.HasField("translation"):
            print(f"    {quote.translation.target_language}: {quote.translation.text}")
    for warning in digest.warnings:
        print(f"  warning: {warning}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:50051", help="host:port, plaintext")
    parser.add_argument("--to", default="", help="target language, e.g. es")
    parser.add_argument("--api-key", default=os.environ.get("PRECIS_API_KEY"))
    parser.add_argument("--proto-dir", default=os.path.join(REPO, "proto"))
    parser.add_argument("--timeout", type=float, default=120.0, help="deadline per call, s")
    parser.add_argument("articles", nargs="+", help="UTF-8 article files")
    args = parser.parse_args()

    texts = []
    for path in args.articles:
        with open(path, encoding="utf-8") as file:
            texts.append(file.read())

    with tempfile.TemporaryDirectory(prefix="precis-stubs-") as out_dir:
        messages, services = generate_stubs(args.proto_dir, out_dir)
        metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else None
        with grpc.insecure_channel(args.server) as channel:
            stub = services.PrecisStub(channel)

            digest = stub.Digest(
                messages.DigestRequest(
                    text=texts[0], target_language=args.to, client_id=args.articles[0]
                ),
                timeout=args.timeout,
                metadata=metadata,
            )
            show_digest(f"Digest {digest.client_id}", digest)

            # DigestStream: every article, then an empty one; results arrive in request order.
            def requests():
                for path, text in zip(args.articles, texts):
                    yield messages.DigestRequest(text=text, target_language=args.to, client_id=path)
                yield messages.DigestRequest(text="", client_id="(empty)")

            for result in stub.DigestStream(requests(), timeout=args.timeout, metadata=metadata):
                label = f"DigestStream #{result.index} {result.client_id}"
                if result.WhichOneof("result") == "digest":
                    show_digest(label, result.digest)
                else:
                    code = grpc.StatusCode(
                        next(c.value for c in grpc.StatusCode if c.value[0] == result.error.code)
                    )
                    print(f"{label}: error {code.name}: {result.error.message}")


if __name__ == "__main__":
    main()
