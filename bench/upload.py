"""Upload throughput of one large recording file: a single PUT against multipart uploads with
1, 4 and 8 parts in flight, through the agent's own S3 uploader settings (SHA-256 checksums).

The server is a local SeaweedFS (`weed mini`, the strict S3 server the tests use). Variants run
interleaved, the order rotating each round; the table gives each variant's median time as a
ratio to the single PUT. On loopback the network is never the bottleneck, so this measures the
client's and server's per-request and checksum costs, not a real link: on a real link to S3,
concurrent parts matter more. Writes the table into docs/benchmarks.md.

    .venv/bin/python bench/upload.py --mib 64 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from report import write_section  # bench/report.py, beside this file

from agent.aws import AwsClients
from agent.storage.s3 import MiB, S3Options, S3Uploader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from s3_servers import ACCESS_KEY, REGION, SECRET_KEY, SeaweedFS

NAME = "upload"
COMMAND = ".venv/bin/python bench/upload.py --mib {mib} --rounds {rounds}"
VARIANTS: dict[str, S3Options] = {
    "single PUT": S3Options(bucket="", multipart_threshold=4096 * MiB, max_concurrency=1),
    "multipart, 1 part at a time": S3Options(bucket="", max_concurrency=1),
    "multipart, 4 at a time (default)": S3Options(bucket=""),
    "multipart, 8 at a time": S3Options(bucket="", max_concurrency=8),
}


def measure(mib: int, rounds: int, folder: Path) -> dict[str, list[float]]:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    server = SeaweedFS(folder / "seaweedfs")
    try:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        bucket = server.new_bucket()
        client = AwsClients(region=REGION).s3()
        data = folder / "video.webm"
        data.write_bytes(os.urandom(mib * MiB))
        seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
        names = list(VARIANTS)
        for round_no in range(rounds + 1):  # round 0 warms connections up
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                options = VARIANTS[name]
                uploader = S3Uploader(client, S3Options(**{**vars(options), "bucket": bucket}))
                started = time.perf_counter()
                client.upload_file(
                    str(data),
                    bucket,
                    f"browser-sessions/bench/{round_no}/{names.index(name)}.webm",
                    ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                    Config=uploader.transfer,
                )
                if round_no:
                    seconds[name].append(time.perf_counter() - started)
        return seconds
    finally:
        server.stop(graceful=False)


def table(seconds: dict[str, list[float]], mib: int) -> str:
    base = statistics.median(seconds["single PUT"])
    lines = [
        f"| variant ({mib} MiB file, 8 MiB parts) | uploads | median s | MiB/s "
        "| time vs single PUT |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in seconds.items():
        median = statistics.median(values)
        lines.append(
            f"| {name} | {len(values)} | {median:.2f} | {mib / median:.0f} | {median / base:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        seconds = measure(args.mib, args.rounds, Path(folder))
    body = table(seconds, args.mib)
    print(body)
    if not args.no_write:
        write_section(NAME, COMMAND.format(mib=args.mib, rounds=args.rounds), body)


if __name__ == "__main__":
    main()
