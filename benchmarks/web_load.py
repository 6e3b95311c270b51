"""A bounded load test of ``pixelwise serve`` on the loopback interface: good photos mixed with bad uploads.

    python3 benchmarks/web_load.py --checkpoint runs/camvid/best.pt --images ../shared/data/camvid/val \\
        --requests 500 --concurrency 8

It starts ``pixelwise serve`` on 127.0.0.1 (a free port), warms it up, then sends exactly ``--requests``
uploads from ``--concurrency`` client threads, and stops by itself (every request also has a timeout, and the
whole run a deadline). The mix, by request number: 70 % real images from ``--images``, 10 % uploads over the
size limit, 10 % garbage bytes, 5 % truncated images, 5 % decompression bombs (a PNG whose header announces
144 megapixels). Every kind has the status it must get (200, 413, 400, 400, 413).

Reports p50/p95/max latency per kind, throughput, status counts, the server's resident memory (VmRSS) after the
warm-up and at the end and its peak (VmHWM), and whether ``/healthz`` still answers. Writes
``benchmarks/WEB.md`` and ``WEB.json``; exits 1 when any request got a 5xx or an unexpected status, the memory
grew more than ``--max-growth-mb``, or ``/healthz`` failed afterwards.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from pixelwise.apps.web.client import get_json, post_image
from pixelwise.apps.web.limits import ServeLimits
from pixelwise.data.files import image_files
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text

HERE = Path(__file__).resolve().parent
EXPECTED = {"good": 200, "oversized": 413, "garbage": 400, "truncated": 400, "bomb": 413}
# Kinds by request number: 14 of every 20 are good, 2 oversized, 2 garbage, 1 truncated, 1 bomb.
PATTERN = ["good"] * 14 + ["oversized"] * 2 + ["garbage"] * 2 + ["truncated", "bomb"]


def payloads(images: list[Path], *, limit: int, seed: int) -> dict[str, list[bytes]]:
    """The bodies each kind of request sends."""
    rng = random.Random(seed)
    good = [path.read_bytes() for path in images]
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")  # 144 MP: over the limit, under PIL's own guard
    return {
        "good": good,
        "oversized": [rng.randbytes(limit + 2**20)],
        "garbage": [rng.randbytes(size) for size in (10, 1000, 100_000)],
        "truncated": [data[: len(data) // 3] for data in good[:5]],
        "bomb": [bomb.getvalue()],
    }


def start_server(checkpoint: str, *, timeout: float) -> tuple[subprocess.Popen, str]:
    """``pixelwise serve`` on 127.0.0.1 with a free port; returns the process and its URL once it answers."""
    command = [sys.executable, "-m", "pixelwise", "serve", "--checkpoint", checkpoint, "--host", "127.0.0.1", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout
    for line in server.stdout:
        match = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
        if match:
            url = match.group(1)
            while time.monotonic() < deadline:
                try:
                    if get_json(f"{url}/healthz", timeout=5)[0] == 200:
                        return server, url
                except OSError:
                    time.sleep(0.2)
            break
        if time.monotonic() > deadline:
            break
    server.kill()
    raise SystemExit(f"the server did not come up within {timeout:g} s")


def memory_mib(pid: int) -> dict[str, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of a process, MiB (Linux)."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


def one_request(url: str, kind: str, data: bytes, *, timeout: float) -> tuple[str, int, float]:
    start = time.perf_counter()
    try:
        status = post_image(url, data, timeout=timeout)[0]
    except OSError:  # refused, reset or timed out: counted apart from HTTP statuses
        status = 0
    return kind, status, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def run(args: argparse.Namespace) -> dict[str, Any]:
    images = image_files(Path(args.images))[: args.max_images]
    if not images:
        raise SystemExit(f"no images in {args.images}")
    bodies = payloads(images, limit=ServeLimits().max_upload_bytes, seed=0)
    server, url = start_server(args.checkpoint, timeout=300)
    try:
        model = get_json(f"{url}/api/model")[1]
        for data in bodies["good"][:5]:  # warm-up: the first calls allocate what later ones reuse
            post_image(url, data, timeout=args.timeout)
        before = memory_mib(server.pid)
        plan = [(PATTERN[i % len(PATTERN)], i) for i in range(args.requests)]
        deadline = time.monotonic() + args.max_seconds
        results = []
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            futures = [
                pool.submit(
                    lambda kind, i: one_request(url, kind, bodies[kind][i % len(bodies[kind])], timeout=args.timeout)
                    if time.monotonic() < deadline else (kind, -1, 0.0),
                    kind, i,
                )
                for kind, i in plan
            ]  # fmt: skip
            results = [future.result() for future in futures]
        seconds = time.perf_counter() - start
        after = memory_mib(server.pid)
        healthy = get_json(f"{url}/healthz", timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=30)
    described = f"{args.checkpoint} ({model['name']}, {len(model['classes'])} classes" + (
        f", trained on {model['dataset']})" if model.get("dataset") else ")"
    ) + (f"; {args.note}" if args.note else "")
    return summarize(results, seconds=seconds, before=before, after=after, healthy=healthy, args=args, images=len(images),
                     model=described)  # fmt: skip


def summarize(results, *, seconds, before, after, healthy, args, images, model) -> dict[str, Any]:
    kinds = {}
    for kind in EXPECTED:
        mine = [(status, latency) for k, status, latency in results if k == kind]
        latencies = [latency for status, latency in mine if status > 0]
        kinds[kind] = {
            "requests": len(mine),
            "expected": EXPECTED[kind],
            "statuses": dict(sorted(Counter(str(status) for status, _ in mine).items())),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        }
    statuses = Counter(status for _, status, _ in results)
    unexpected = sum(1 for kind, status, _ in results if status != EXPECTED[kind])
    growth = after["VmRSS"] - before["VmRSS"]
    return {
        "command": "python3 benchmarks/web_load.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "machine": machine(),
        "model": model,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "requests": len(results),
        "concurrency": args.concurrency,
        "good_images": images,
        "seconds": round(seconds, 1),
        "requests_per_s": round(len(results) / seconds, 2),
        "good_per_s": round(statuses[200] / seconds, 2),
        "statuses": dict(sorted(Counter(str(s) for s in statuses.elements()).items())),
        "server_errors_5xx": sum(count for status, count in statuses.items() if status >= 500),
        "connection_errors": statuses[0],
        "not_sent_deadline": statuses[-1],
        "unexpected": unexpected,
        "kinds": kinds,
        "memory_mib": {"after_warmup": round(before["VmRSS"], 1), "after_run": round(after["VmRSS"], 1),
                       "peak": round(after["VmHWM"], 1), "growth": round(growth, 1), "bound": args.max_growth_mb},
        "healthz_after": healthy[0] == 200,
        "passed": unexpected == 0 and growth <= args.max_growth_mb and healthy[0] == 200,
    }  # fmt: skip


def machine() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} logical cores (load average {os.getloadavg()[0]:.1f} at start), Python {platform.python_version()}"


def markdown(report: dict[str, Any]) -> str:
    memory = report["memory_mib"]
    lines = [
        "# Web server load test",
        "",
        f"- date: {report['date']}",
        f"- machine: {report['machine']}",
        f"- command: `{report['command']}`",
        f"- model: {report['model']}",
        "- server: `pixelwise serve` defaults (2 predictions at once, 8 waiting, 20 MiB uploads, 16.8 MP images), "
        "loopback only; one new connection per request",
        f"- {report['requests']} requests at concurrency {report['concurrency']} in {report['seconds']} s: "
        f"{report['requests_per_s']} requests/s, {report['good_per_s']} predictions/s",
        f"- statuses: {report['statuses']}; 5xx: {report['server_errors_5xx']}; connection errors: "
        f"{report['connection_errors']}; not the expected status: {report['unexpected']}",
        f"- server memory (VmRSS): {memory['after_warmup']} MiB after warm-up, {memory['after_run']} MiB after the run "
        f"(growth {memory['growth']} MiB, bound {memory['bound']} MiB); peak {memory['peak']} MiB",
        f"- `/healthz` afterwards: {'200' if report['healthz_after'] else 'FAILED'}; verdict: "
        f"{'passed' if report['passed'] else 'FAILED'}",
        "",
        "| kind | requests | expected | statuses | p50 ms | p95 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, row in report["kinds"].items():
        statuses = ", ".join(f"{status}: {count}" for status, count in row["statuses"].items())
        lines.append(f"| {kind} | {row['requests']} | {row['expected']} | {statuses} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} |")
    lines += [
        "",
        "Kinds: `good` real photos; `oversized` 21 MiB of random bytes (limit 20 MiB); `garbage` random bytes; "
        "`truncated` the first third of a photo; `bomb` a 12000x12000 1-bit PNG (144 megapixels in a small file), "
        "refused from its header before decoding. Latency is the client's, from sending to the full answer; a good "
        "image's includes waiting for one of the two prediction slots.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="the model file to serve")
    parser.add_argument("--images", required=True, help="folder of real images for the good requests")
    parser.add_argument("--max-images", type=int, default=50, help="good images read from --images (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=500, help="requests sent in all (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="no request starts after this many seconds (default: %(default)s)")
    parser.add_argument("--max-growth-mb", type=float, default=300.0,
                        help="allowed growth of the server's resident memory (default: %(default)s)")
    parser.add_argument("--note", default="", help="a line about the model for the report (how it was trained)")
    parser.add_argument("--out", default=str(HERE / "WEB.md"), help="Markdown file (JSON beside it; default: %(default)s)")
    args = parser.parse_args()
    report = run(args)
    out = Path(args.out)
    atomic_write_text(out, markdown(report))
    atomic_write_json(out.with_suffix(".json"), report)
    print(markdown(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
