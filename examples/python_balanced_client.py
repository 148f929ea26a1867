#!/usr/bin/env python3
"""precis calls balanced over several replicas from Python (grpcio), retried on UNAVAILABLE.

    python examples/python_balanced_client.py --servers 127.0.0.1:50051,127.0.0.1:50052 \
        --calls 40 --concurrency 4 ARTICLE

gRPC sends every call of a channel over one long-lived HTTP/2 connection, so a connection-level
balancer (a plain Kubernetes ClusterIP Service) puts all of a client's calls on one replica. This
client resolves every replica itself and balances per call; in Kubernetes the target is the
headless Service, `dns:///precis-headless.precis.svc.cluster.local:50051`, here a static list.
The service config does the rest:

- round_robin: each call goes to the next READY replica;
- healthCheckConfig: a replica whose grpc.health.v1 status turns NOT_SERVING (starting, or
  draining after SIGTERM) leaves the rotation at once;
- retryPolicy: a call answered UNAVAILABLE (precis answers so before doing any work when it is
  starting or draining, and at the end of its drain grace) is sent again, to the next replica.
  Every precis call is idempotent.

Prints one line per finished call ("ok N" or "failed N CODE: message"), then a JSON summary;
exits 1 if any call failed. Stubs are generated from the .proto into a temporary directory.
"""
import argparse
import json
import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_client import REPO, generate_stubs  # noqa: E402

SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "healthCheckConfig": {"serviceName": ""},
    "methodConfig": [
        {
            "name": [{"service": "precis.v1.Precis"}],
            "timeout": "60s",
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.05s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", required=True, help="host:port,host:port,... (IPv4)")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--to", default="", help="target language of the digests")
    parser.add_argument("article")
    args = parser.parse_args()

    with open(args.article, encoding="utf-8") as handle:
        text = handle.read()
    with tempfile.TemporaryDirectory() as stubs:
        messages, services = generate_stubs(os.path.join(REPO, "proto"), stubs)
        channel = grpc.insecure_channel(
            f"ipv4:{args.servers}",
            options=[
                ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
                ("grpc.enable_retries", 1),
                # A static list's default :authority is the whole list, commas and all, which
                # HTTP/2 servers reject (RST_STREAM PROTOCOL_ERROR); name the service instead.
                ("grpc.default_authority", "precis"),
            ],
        )
        stub = services.PrecisStub(channel)
        lock = threading.Lock()
        codes = {}

        def one_call(number):
            try:
                stub.Digest(messages.DigestRequest(text=text, target_language=args.to))
                line, code = f"ok {number}", "OK"
            except grpc.RpcError as error:
                line = f"failed {number} {error.code().name}: {error.details()}"
                code = error.code().name
            with lock:
                codes[code] = codes.get(code, 0) + 1
                print(line, flush=True)

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(one_call, range(args.calls)))
        channel.close()

    ok = codes.pop("OK", 0)
    print(json.dumps({"calls": args.calls, "ok": ok, "failed": codes}), flush=True)
    sys.exit(0 if ok == args.calls else 1)


if __name__ == "__main__":
    main()
