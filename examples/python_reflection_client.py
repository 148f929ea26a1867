#!/usr/bin/env python3
"""A foreign client that knows nothing of precis but its address: no .proto, no generated code.

It asks the server's reflection service for the descriptors, builds the message classes from
them at run time, lists the services, calls Digest on an article and checks that an empty
article is refused with INVALID_ARGUMENT. Exits non-zero, saying why, on any mismatch.

    python examples/python_reflection_client.py --server 127.0.0.1:50051 --article FILE

Needs grpcio and grpcio-reflection (pip install grpcio grpcio-reflection).
tests/python_reflection.rs runs it against a server started by the test.
"""
import argparse
import json
import sys

try:
    import grpc
    from google.protobuf import descriptor_pool, json_format, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )
except ImportError as error:  # the Rust test turns this into a failure with the fix
    print(f"missing Python package: {error}; pip install grpcio grpcio-reflection", file=sys.stderr)
    sys.exit(3)

SERVICE = "precis.v1.Precis"


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def unary_call(channel, pool, method_name):
    """A callable for SERVICE/method_name, with classes made from reflected descriptors."""
    method = pool.FindServiceByName(SERVICE).methods_by_name[method_name]
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        f"/{SERVICE}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    return request_class, call


def check_span(article_bytes, span, text, what):
    spanned = article_bytes[span.start : span.end].decode("utf-8")
    if spanned != text:
        fail(f"{what}: article[{span.start}:{span.end}] is {spanned!r}, not {text!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="host:port, plaintext")
    parser.add_argument("--article", required=True, help="a UTF-8 article file")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    args = parser.parse_args()

    with open(args.article, encoding="utf-8") as file:
        article = file.read()
    article_bytes = article.encode("utf-8")

    channel = grpc.insecure_channel(args.server)
    grpc.channel_ready_future(channel).result(timeout=args.timeout)
    database = ProtoReflectionDescriptorDatabase(channel)
    services = database.get_services()
    print("services:", ", ".join(sorted(services)))
    if SERVICE not in services:
        fail(f"{SERVICE} is not listed by reflection: {services}")
    pool = descriptor_pool.DescriptorPool(database)

    digest_request, digest = unary_call(channel, pool, "Digest")
    response = digest(
        digest_request(text=article, client_id="reflection", max_quotes=3),
        timeout=args.timeout,
    )
    if response.client_id != "reflection":
        fail(f"client_id not echoed: {response.client_id!r}")
    if response.language.language != "en":
        fail(f"language {response.language.language!r}, expected 'en'")
    if not response.summary.sentences:
        fail("the summary has no sentences")
    for sentence in response.summary.sentences:
        check_span(article_bytes, sentence.span, sentence.text, "summary sentence")
    for quote in response.quotes:
        check_span(article_bytes, quote.span, quote.text, "quote")
        if quote.HasField("speaker") and quote.speaker.name:
            check_span(article_bytes, quote.speaker.span, quote.speaker.name, "speaker")
    print(
        "digest:",
        json.dumps(
            {
                "language": response.language.language,
                "summary_sentences": len(response.summary.sentences),
                "quotes": len(response.quotes),
                "engine": response.summary.engine,
            }
        ),
    )
    print("summary:", response.summary.text)
    for quote in response.quotes:
        print(f"quote: {quote.text!r} ({quote.speaker.name or 'unknown'})")
    # The whole response as JSON, as any client could render it from reflection alone.
    json_format.MessageToJson(response)

    try:
        digest(digest_request(text=""), timeout=args.timeout)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
            fail(f"empty article: {error.code()} {error.details()!r}, expected INVALID_ARGUMENT")
        print(f"empty article: {error.code().name}: {error.details()}")
    else:
        fail("an empty article was accepted")
    print("OK")


if __name__ == "__main__":
    main()
