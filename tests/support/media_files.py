"""Small real media files made on the spot, and broken ones made from them."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

from PIL import Image

ORIENTATION = 0x0112
GPS_IFD = 0x8825


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (64, 48), *, orientation: int = 1, gps: bool = False
) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    for x in range(size[0] // 2):  # a left half of another colour, so rotation is visible
        for y in range(size[1]):
            image.putpixel((x, y), (20, 20, 220))
    exif = Image.Exif()
    if orientation != 1:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
    out = io.BytesIO()
    options = {"exif": exif.tobytes()} if fmt in ("JPEG", "PNG", "WEBP") and len(exif) else {}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def heic_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 10)).save(out, format="HEIF", quality=80)
    return out.getvalue()


def video_bytes(
    seconds: float = 1.0, size: tuple[int, int] = (64, 48), fps: int = 10, *, fmt: str = "mp4"
) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for index in range(int(seconds * fps)):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (index * 20 % 255, 80, 160)))
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def bomb_png(width: int = 12_000, height: int = 12_000) -> bytes:
    """A PNG of `width` x `height` black pixels: a few kilobytes that unpack to ~150 MB."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def upload_bytes(storage, url: str, data: bytes, *, chunk: int = 64 * 1024) -> str:
    """Send `data` to a LocalStorage signed upload link as the app's route would; its ETag."""
    import asyncio

    async def chunks():
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    return asyncio.run(storage.receive(url.rsplit("/", 1)[1], chunks()))


def padded_mp4(clip: bytes, total_bytes: int) -> bytes:
    """A real clip followed by one top-level `free` box filling it up to `total_bytes`.

    Players and PyAV skip `free` boxes, so the result is a valid MP4 of the clip's length that
    weighs what a long video would: a stand-in for large uploads (its bytes are not pictures).
    """
    padding = total_bytes - len(clip)
    assert padding >= 16, "total_bytes must leave room for the box header"
    import struct

    if padding < 2**32:
        return clip + struct.pack(">I4s", padding, b"free") + bytes(padding - 8)
    return clip + struct.pack(">I4sQ", 1, b"free", padding) + bytes(padding - 16)
