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


def faster_moto():
    """Costs found profiling moto under the load test (py-spy --gil on 1,000 executions):

    - SQS asks the clock for the current time once per message of the queue on every send,
      receive and attribute read (visibility, delay and retention checks), each time building
      datetimes: with a thousand messages queued that was 86% of moto's CPU. The same instant
      from `time.time()` (moto's `unix_time()` without an argument is "now" in epoch seconds).
    - (a fix, not a cost) SQS DeleteMessage could drop a message sent concurrently: see below.
    - moto lists its own package directory on every request to find a request's backend
      (`list_of_moto_modules`: a listdir and a stat per module): list it once.
    """
    import time

    from moto import backends
    from moto.sqs import models as sqs

    from moto.dynamodb.models.table import Table

    # A table Query (not an index's) sorts every item of the table to pick one partition's: a
    # load of one execution took longer the more executions the table held. Give it the
    # partition's items only (they are kept by hash key; the query still sorts and filters
    # them as before). DynamoDB requests run one at a time here, so a plain attribute can
    # carry the partition into `all_items`.
    query, all_items = Table.query, Table.all_items

    def partition_query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        self._stepwise_partition = hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            self._stepwise_partition = None

    def partition_items(self):
        key = getattr(self, "_stepwise_partition", None)
        if key is None or not self.range_key_attr:
            return all_items(self)
        return list(self.items.get(key, {}).values())

    Table.query = partition_query
    Table.all_items = partition_items

    # SQS's DeleteMessage rebuilds the queue's message list and assigns it back without the
    # queue's lock, while SendMessage appends under it: a message sent by another request thread
    # between the two was dropped (one execution in a thousand of the load test stayed RUNNING
    # with every queue empty). Real SQS loses nothing: delete under the same lock as sends.
    delete_message = sqs.Queue.delete_message

    def locked_delete_message(self, receipt_handle):
        with self._messages_lock:
            return delete_message(self, receipt_handle)

    sqs.Queue.delete_message = locked_delete_message

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    unix_time, unix_time_millis = sqs.unix_time, sqs.unix_time_millis
    sqs.unix_time = lambda dt=None: time.time() if dt is None else unix_time(dt)
    sqs.unix_time_millis = lambda dt=None: time.time() * 1000.0 if dt is None else unix_time_millis(dt)


class QuietHandler(MotoRequestHandler):
    """Logs failed requests only (a line per request costs the serialised DynamoDB path)."""

    def log_request(self, code="-", size="-"):
        if str(code).startswith(("4", "5")):
            super().log_request(code, size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    faster_moto()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, AwsFidelity(DynamoDbSerialised(app)), threaded=True,
               request_handler=QuietHandler)


if __name__ == "__main__":
    main()
