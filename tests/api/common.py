"""What the API test scripts share: the environment the AWS CLI runs with, a boto3 client of a
local endpoint, an expected-error helper and a wait for an execution's end."""

import os
import time

import boto3
from botocore.config import Config

# The AWS CLI's environment: dummy credentials, no user configuration.
ENV = dict(
    os.environ,
    AWS_ACCESS_KEY_ID="test",
    AWS_SECRET_ACCESS_KEY="test",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)


def client(url, **config):
    """A Step Functions client of `url` (no retries: a test sees every answer)."""
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, **config),
    )


def expect(exc, fn, message=None, **kwargs):
    """Calls `fn(**kwargs)`, which must raise `exc` (with `message`, when given)."""
    try:
        fn(**kwargs)
    except exc as e:
        code = e.response["Error"]["Code"]
        assert code == exc.__name__, (code, exc.__name__)
        if message is not None:
            assert e.response["Error"]["Message"] == message, e.response["Error"]
        return e
    raise AssertionError(f"{fn.__name__}({kwargs}) did not raise {exc.__name__}")


def wait_done(sfn, arn, limit=30):
    """DescribeExecution once the execution is no longer RUNNING."""
    deadline = time.time() + limit
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        assert time.time() < deadline, d
        time.sleep(0.02)
