"""A large video through the media library: multipart upload, then confirm.

What the file is, honestly: a real 2-second MP4 clip (PyAV, MPEG-4 Part 2, 320x240) followed by a
single top-level `free` box padding it to `--size-mib` (1024 by default). Players and PyAV skip
`free` boxes, so the file is a valid MP4 of the clip's length that weighs what a long video would;
its bytes are mostly zeros, not pictures, which costs the confirm step nothing it would otherwise
skip (confirm hashes every byte and decodes only the first frame either way).

Real processes: moto's S3 server (`python -m moto.server`, its own process on 127.0.0.1) for the S3
store; for the embedded store, the app's own upload route served by uvicorn inside this process.
This process plays the web process: it starts the upload (`library.start_upload`), then a separate
"browser" process streams the file part by part to the presigned URLs (as the page's uploader
does), then this process confirms it (`library.confirm_upload`: join the parts, copy the object
down, hash it, probe it). The database is a throw-away SQLite file.

Figures: upload throughput (browser to store), confirm time and throughput, and the peak resident
memory of this web process during each phase (Linux VmHWM, reset between phases), against the
file size — the point being that no phase holds the file in memory.

    .venv/bin/python bench/media.py [--size-mib 1024] [--part-mib 16] [--store s3|local|both]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict

from sqlmodel import Session

from postforge.models import Role
from postforge.services.media import library, storage
from postforge.settings import Settings
from tests.support.db import make_test_engine, migrate
from tests.support.factories import make_membership, make_user, make_workspace
from tests.support.media_files import video_bytes
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY

MIB = 1024 * 1024
# The browser's side: stream each part from disk to its URL, 1 MiB at a time; print the ETags.
BROWSER = r"""
import json, sys, httpx
plan, path = json.loads(sys.stdin.read()), sys.argv[1]
def chunks(stream, length):
    while length > 0:
        piece = stream.read(min(1024 * 1024, length))
        if not piece:
            break
        length -= len(piece)
        yield piece
etags, offset = [], 0
with httpx.Client(timeout=300) as client, open(path, "rb") as stream:
    for part in plan["parts"]:
        stream.seek(offset)
        answer = client.put(part["url"], content=chunks(stream, part["size_bytes"]),
                            headers={"Content-Length": str(part["size_bytes"])})
        answer.raise_for_status()
        etags.append([part["number"], answer.headers["ETag"]])
        offset += part["size_bytes"]
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(json.dumps({"parts": etags, "peak_kib": int(peak)}))
"""


def peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def reset_peak() -> None:
    # Writing 5 resets the peak resident set size (Linux ≥ 4.0).
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_video(path: Path, size_bytes: int) -> None:
    """The clip, then a `free` box up to `size_bytes`, written 16 MiB at a time."""
    clip = video_bytes(2.0, (320, 240), fps=25)
    padding = size_bytes - len(clip)
    with path.open("wb") as out:
        out.write(clip)
        header = (1).to_bytes(4, "big") + b"free" + padding.to_bytes(8, "big")
        out.write(header)
        left, zeros = padding - len(header), bytes(16 * MIB)
        while left > 0:
            out.write(zeros[: min(left, len(zeros))])
            left -= min(left, len(zeros))


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


def start_route(store: storage.LocalStorage, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette

    from postforge.api.media_files import media_file_routes

    storage.use_storage(store)
    config = uvicorn.Config(
        Starlette(routes=media_file_routes()), host="127.0.0.1", port=port, log_level="error"
    )
    threading.Thread(target=uvicorn.Server(config).run, daemon=True).start()
    wait_for_port(port)


def run(store_kind: str, video: Path, size: int, part_mib: int, work: Path) -> dict:
    database = f"sqlite:///{work / f'{store_kind}.db'}"
    migrate(database)
    engine = make_test_engine(database)
    with Session(engine, expire_on_commit=False) as session:
        editor = make_user(session)
        workspace = make_workspace(session, owner=editor)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        session.commit()
    caps = {"media_max_video_bytes": 64 * 1024 * MIB}
    moto = None
    if store_kind == "s3":
        moto, endpoint = start_moto()
        settings = Settings(
            data_dir=work,
            media_s3_bucket="bench-media",
            media_s3_endpoint_url=endpoint,
            media_s3_region=REGION,
            media_s3_access_key_id=ACCESS_KEY,
            media_s3_secret_access_key=SECRET_KEY,
            **caps,
        )
        s3 = storage.S3Storage.from_settings(settings)
        s3.client.create_bucket(Bucket="bench-media")
        storage.use_storage(s3)
    else:
        port = free_port()
        settings = Settings(data_dir=work, **caps)
        start_route(
            storage.LocalStorage(work / "media-files", secret="bench", base_url=f"http://127.0.0.1:{port}"),
            port,
        )
    original_part_size = library.part_size_for
    library.part_size_for = lambda total: original_part_size(total, part_mib * MIB)
    try:
        figures = {"store": store_kind}
        reset_peak()
        with Session(engine) as session:
            plan = library.start_upload(
                session,
                actor_id=editor.id,
                workspace_id=workspace.id,
                filename="long-video.mp4",
                content_type="video/mp4",
                size_bytes=size,
                settings=settings,
            )
            session.commit()
        started = time.perf_counter()
        browser = subprocess.run(
            [sys.executable, "-c", BROWSER, str(video)],
            input=json.dumps(asdict(plan)),
            capture_output=True,
            text=True,
            check=True,
        )
        figures["upload_s"] = time.perf_counter() - started
        sent = json.loads(browser.stdout)
        figures["parts"] = len(sent["parts"])
        figures["browser_peak_mib"] = sent["peak_kib"] / 1024
        figures["web_peak_upload_mib"] = peak_rss_mib()  # the route's streaming, for the local store
        reset_peak()
        store = storage.get_storage(settings)
        join = store.complete_multipart

        def timed_join(*join_args, **join_kwargs):
            began = time.perf_counter()
            try:
                return join(*join_args, **join_kwargs)
            finally:
                figures["join_s"] = time.perf_counter() - began

        store.complete_multipart = timed_join
        started = time.perf_counter()
        with Session(engine) as session:
            view = library.confirm_upload(
                session,
                actor_id=editor.id,
                workspace_id=workspace.id,
                media_id=plan.media_id,
                parts=[tuple(part) for part in sent["parts"]],
                settings=settings,
            )
        figures["confirm_s"] = time.perf_counter() - started
        figures["web_peak_confirm_mib"] = peak_rss_mib()
        assert view.status == "ready" and view.size_bytes == size and view.kind == "video", view
        figures["duration"] = view.duration_seconds
        return figures
    finally:
        library.part_size_for = original_part_size
        storage.use_storage(None)
        engine.dispose()
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=16)
    parser.add_argument("--store", choices=["s3", "local", "both"], default="both")
    args = parser.parse_args()
    size = args.size_mib * MIB
    library.register_enqueuer(lambda media_id: None)  # thumbnails are the worker's, not measured here
    with tempfile.TemporaryDirectory(prefix="postforge-bench-media-") as directory:
        work = Path(directory)
        video = work / "long-video.mp4"
        started = time.perf_counter()
        make_video(video, size)
        print(
            f"file: {size / MIB:,.0f} MiB (a 2 s clip + a `free` box), written in {time.perf_counter() - started:.1f} s"
        )
        print(f"web process before any upload: peak RSS {peak_rss_mib():.0f} MiB (imports, the clip made)")
        for store_kind in ("s3", "local") if args.store == "both" else (args.store,):
            figures = run(store_kind, video, size, args.part_mib, work)
            mib = size / MIB
            print(
                f"\n[{store_kind}] {figures['parts']} parts of {args.part_mib} MiB, video of {figures['duration']} s\n"
                f"  upload  {figures['upload_s']:6.1f} s  {mib / figures['upload_s']:7.1f} MiB/s   "
                f"browser peak RSS {figures['browser_peak_mib']:.0f} MiB, web peak RSS {figures['web_peak_upload_mib']:.0f} MiB\n"
                f"  confirm {figures['confirm_s']:6.1f} s  {mib / figures['confirm_s']:7.1f} MiB/s   "
                f"web peak RSS {figures['web_peak_confirm_mib']:.0f} MiB\n"
                f"    of which joining the parts (the store's work) {figures['join_s']:.1f} s, "
                f"copy + hash + probe {figures['confirm_s'] - figures['join_s']:.1f} s"
            )
            for leftover in work.glob("*.db"):
                leftover.unlink()
            if (work / "media-files").exists():
                import shutil

                shutil.rmtree(work / "media-files")


if __name__ == "__main__":
    main()
