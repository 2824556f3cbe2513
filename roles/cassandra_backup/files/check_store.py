"""Whether this node reaches its S3-compatible store as Medusa will, in seconds; one JSON line.

Medusa retries every storage call up to 7 times, waiting up to 2 minutes between tries, each try with botocore's
own retries: an untrusted certificate, refused keys or a missing bucket take it many minutes to report. This asks
the store once (HEAD of the bucket) with the endpoint, trust store and keys Medusa's own S3 storage builds from the
same medusa.ini, with short timeouts and one retry, and names what failed.
Usage (in the sidekick): python check_store.py CONFIG_FILE [CA_BUNDLE]
CA_BUNDLE: where the role mounted the CA of cassandra_backup_s3_ca_file; it must be the trust store Medusa uses.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import certifi
import medusa.config
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError, SSLError
from medusa.storage import Storage

CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 5, 10, 2


def check(config_file: str, ca_bundle: str) -> dict[str, Any]:
    config = medusa.config.load_config(defaultdict(lambda: None), Path(config_file))
    driver = Storage(config=config.storage).storage_driver
    arguments = dict(driver.connection_extra_args)
    result: dict[str, Any] = {"endpoint": arguments.get("endpoint_url", ""), "bucket": config.storage.bucket_name,
                              "verify": bool(arguments.get("verify")), "ca": bool(ca_bundle),
                              "trust_store": certifi.where()}
    # boto3 with verify=True trusts certifi's bundle only: the CA is mounted over it, or Medusa never sees it.
    if ca_bundle and os.path.realpath(certifi.where()) != os.path.realpath(ca_bundle):
        return {**result, "ok": False, "error": "trust_store",
                "detail": f"the sidekick image's trust store is {certifi.where()}, not {ca_bundle} where the CA is"}
    client = boto3.client(
        "s3",
        config=Config(region_name=driver.credentials.region, connect_timeout=CONNECT_TIMEOUT,
                      read_timeout=READ_TIMEOUT, retries={"mode": "standard", "max_attempts": ATTEMPTS},
                      s3={"addressing_style": config.storage.s3_addressing_style},
                      request_checksum_calculation="when_required", response_checksum_validation="when_required"),
        aws_access_key_id=driver.credentials.access_key_id,
        aws_secret_access_key=driver.credentials.secret_access_key,
        **arguments,
    )
    start = time.monotonic()
    try:
        client.head_bucket(Bucket=config.storage.bucket_name)
        return {**result, "ok": True, "seconds": round(time.monotonic() - start, 2)}
    except SSLError as exc:
        error, detail = "tls", str(exc)
    except (EndpointConnectionError, ConnectTimeoutError) as exc:
        error, detail = "connect", str(exc)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        error, detail = f"http_{status}", str(exc)
    except (BotoCoreError, OSError, ValueError) as exc:
        error, detail = "other", f"{type(exc).__name__}: {exc}"
    return {**result, "ok": False, "error": error, "detail": detail, "seconds": round(time.monotonic() - start, 2)}


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")))
