"""Start SeaweedFS's S3 gateway with one identity from MINIO_ROOT_USER / MINIO_ROOT_PASSWORD.

With `--check`: exit 0 when the S3 port answers HTTP at all (an anonymous request is refused
with 403, which proves the server is up).
"""

import json
import os
import sys
import urllib.error
import urllib.request

if sys.argv[1:] == ["--check"]:
    try:
        urllib.request.urlopen("http://127.0.0.1:9000/", timeout=2)
    except urllib.error.HTTPError:
        pass
    sys.exit(0)

config = "/tmp/s3-identities.json"
with open(config, "w", encoding="utf-8") as handle:
    json.dump(
        {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [
                        {
                            "accessKey": os.environ["MINIO_ROOT_USER"],
                            "secretKey": os.environ["MINIO_ROOT_PASSWORD"],
                        }
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        },
        handle,
    )
os.chmod(config, 0o600)
weed = "/opt/weed/bin/weed"
os.execv(
    weed,
    [
        weed,
        "-logdir=/tmp",
        "mini",
        "-dir=/data",
        "-ip.bind=0.0.0.0",
        "-s3.port=9000",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-volume.preStopSeconds=0",
        "-master.telemetry=false",
    ],
)
