#!/usr/bin/env python3
"""moto server (the local AWS endpoint of the tests) with DynamoDB requests made atomic.

DynamoDB applies a conditional write atomically: of two UpdateItems conditional on the same
version, exactly one succeeds. moto server answers requests on several threads and checks a
condition and applies the write as two separate steps, so under load both writes can succeed,
which the store contract test (`store_concurrency_contract`) rightly reports as a broken
store. This launcher runs the same moto application as `moto_server`, but one DynamoDB request
at a time (a lock around DynamoDB's `X-Amz-Target` requests only: SQS long polls and
everything else still run concurrently).

It also corrects the few answers in which moto differs from AWS in a way state machines see
(scripts/moto_fidelity.py says which and why).

Usage: python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import threading

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from moto_fidelity import AwsFidelity


class DynamoDbSerialised:
    """WSGI middleware: DynamoDB requests one at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                # Consume the whole response inside the lock: the write happens while it runs.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, AwsFidelity(DynamoDbSerialised(app)), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
