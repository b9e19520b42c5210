"""What a file really is, decided from its own bytes — never from its name or declared type.

`sniff` reads the first bytes (magic numbers): JPEG, PNG, WebP, GIF, HEIC, MP4 and MOV. `inspect_file`
then opens the whole file with the library that knows the format — Pillow for images (a pixel
limit against decompression bombs, a full decode so a truncated file is caught), PyAV for video
(duration, codecs, size, frame rate, and a first frame decoded) — and `clean_image` applies the
EXIF orientation and strips location data. Every refusal is a `ValidationFailed` whose message
says what is wrong with the file.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from postforge.services.kernel.errors import ValidationFailed

HEAD_BYTES = 64

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
GIF = "image/gif"
HEIC = "image/heic"
MP4 = "video/mp4"
MOV = "video/quicktime"
IMAGE_TYPES = (JPEG, PNG, WEBP, GIF, HEIC)
VIDEO_TYPES = (MP4, MOV)
EXTENSIONS = {JPEG: "jpg", PNG: "png", WEBP: "webp", GIF: "gif", HEIC: "heic", MP4: "mp4", MOV: "mov"}
# What the upload button offers; a declared type is only a hint for the size cap.
ACCEPTED_TYPES = (*IMAGE_TYPES, "image/heif", *VIDEO_TYPES)

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_MOV_BRANDS = {b"qt  "}
# Top-level atoms a QuickTime file may start with when it has no `ftyp`.
_MOV_FIRST_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

UNKNOWN_TYPE = (
    "This file is not a JPEG, PNG, WebP, GIF or HEIC image, nor an MP4 or MOV video "
    "(its contents say so, whatever its name)."
)
TRUNCATED = "This file is incomplete or damaged ({detail}); export or upload it again."
BOMB = (
    "This image is {width:,} x {height:,} pixels, more than the {limit:,} pixels allowed "
    "(a file that small unpacking that big is how decompression bombs work)."
)


@dataclass(frozen=True)
class FileFacts:
    """What a checked file is."""

    mime_type: str
    kind: str  # image | video
    width: int
    height: int
    duration_seconds: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None


def kind_of(mime_type: str) -> str:
    return "video" if mime_type.startswith("video/") else "image"


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes of a file prove, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return HEIC
        if brand in _MOV_BRANDS:
            return MOV
        if brand[:2] in (b"is", b"mp", b"av", b"M4", b"da", b"f4", b"3g", b"MS") or brand == b"mmp4":
            return MP4
        return None
    if head[4:8] in _MOV_FIRST_ATOMS and len(head) >= 8:
        return MOV
    return None


def check_boxes(path: Path) -> None:
    """An ISO media file (MP4, MOV, HEIC) is a chain of boxes whose sizes must add up to the
    file: a box running past the end means the file was cut short (or lies about itself)."""
    total = path.stat().st_size
    offset = 0
    with path.open("rb") as stream:
        while offset < total:
            stream.seek(offset)
            header = stream.read(16)
            if len(header) < 8:
                raise ValidationFailed(TRUNCATED.format(detail="it ends inside a box header"))
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1:
                if len(header) < 16:
                    raise ValidationFailed(TRUNCATED.format(detail="it ends inside a box header"))
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = total - offset  # the last box runs to the end of the file
            if size < 8:
                raise ValidationFailed(TRUNCATED.format(detail=f"box {kind!r} has an impossible size"))
            if offset + size > total:
                missing = offset + size - total
                raise ValidationFailed(
                    TRUNCATED.format(
                        detail=f"{missing:,} bytes of its {kind.decode('latin-1')!r} box are missing"
                    )
                )
            offset += size


def inspect_file(path: Path, mime_type: str, *, max_image_pixels: int) -> FileFacts:
    """Open the file as the type its bytes claim; FileFacts, or ValidationFailed saying why not."""
    if mime_type in (MP4, MOV, HEIC):
        check_boxes(path)
    if mime_type in VIDEO_TYPES:
        return _inspect_video(path, mime_type)
    return _inspect_image(path, mime_type, max_image_pixels=max_image_pixels)


def _register_heif() -> None:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover — a dependency; without it HEIC is refused as unknown
        raise ValidationFailed("HEIC photos are not supported on this server; export it as JPEG.") from None
    pillow_heif.register_heif_opener()


def _open_image(path: Path, mime_type: str, max_image_pixels: int):
    from PIL import Image

    if mime_type == HEIC:
        _register_heif()
    try:
        with warnings.catch_warnings():
            # The pixel limit below is ours (MEDIA_MAX_IMAGE_PIXELS); Pillow's own warning adds nothing.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError:
        raise ValidationFailed(
            "This image has far too many pixels to unpack safely (that is how decompression bombs work)."
        ) from None
    except Exception as error:
        raise ValidationFailed(TRUNCATED.format(detail=_reason(error))) from None
    width, height = image.size
    if width * height > max_image_pixels:
        image.close()
        raise ValidationFailed(BOMB.format(width=width, height=height, limit=max_image_pixels))
    return image


def _inspect_image(path: Path, mime_type: str, *, max_image_pixels: int) -> FileFacts:
    from PIL import Image, ImageFile

    image = _open_image(path, mime_type, max_image_pixels)
    with image, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit was checked
        previous, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
        try:
            frames = getattr(image, "n_frames", 1)
            for index in range(min(frames, 500)):  # every frame of an animation decodes
                image.seek(index)
                image.load()
        except Exception as error:
            raise ValidationFailed(TRUNCATED.format(detail=_reason(error))) from None
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous
        width, height = _upright_size(image)
    return FileFacts(mime_type=mime_type, kind="image", width=width, height=height)


def _upright_size(image) -> tuple[int, int]:
    """Width and height as the photo is meant to be seen (EXIF orientations 5 to 8 swap them)."""
    orientation = image.getexif().get(0x0112, 1)
    width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _inspect_video(path: Path, mime_type: str) -> FileFacts:
    import av

    try:
        container = av.open(str(path))
    except Exception as error:
        raise ValidationFailed(TRUNCATED.format(detail=_reason(error))) from None
    with container:
        if not container.streams.video:
            raise ValidationFailed("This video file has no picture track.")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        try:
            frame = next(container.decode(video=0))
        except Exception as error:
            raise ValidationFailed(
                TRUNCATED.format(detail=f"no picture could be decoded: {_reason(error)}")
            ) from None
        duration = (
            float(container.duration) / 1_000_000
            if container.duration
            else float(video.duration * video.time_base)
            if video.duration and video.time_base
            else None
        )
        rate = video.average_rate or video.base_rate
        return FileFacts(
            mime_type=mime_type,
            kind="video",
            width=int(video.codec_context.width or frame.width),
            height=int(video.codec_context.height or frame.height),
            duration_seconds=round(duration, 3) if duration else None,
            frame_rate=round(float(rate), 3) if rate else None,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio else None,
        )


def clean_image(source: Path, mime_type: str, target: Path, *, max_image_pixels: int) -> str | None:
    """Write the photo upright and without location data to `target` when it needs it.

    Returns the MIME type written (HEIC becomes JPEG, the format every platform takes), or None
    when the file is fine as it is (no rotation, no GPS: re-encoding would only lose quality).
    """
    from PIL import ImageOps

    image = _open_image(source, mime_type, max_image_pixels)
    with image:
        exif = image.getexif()
        has_gps = 0x8825 in exif
        rotated = exif.get(0x0112, 1) not in (None, 1)
        if mime_type != HEIC and not has_gps and not rotated:
            return None
        if getattr(image, "n_frames", 1) > 1:
            return None  # an animation keeps its frames; GIF and WebP animations carry no GPS block
        upright = ImageOps.exif_transpose(image)
        exif = upright.getexif()
        exif.pop(0x8825, None)  # GPS
        exif.pop(0x0112, None)  # orientation: the pixels are upright now
        out_type = JPEG if mime_type in (HEIC, JPEG) else mime_type
        out_format = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}[out_type]
        if out_format == "JPEG" and upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        options = {"quality": 92} if out_format in ("JPEG", "WEBP") else {}
        upright.save(target, format=out_format, exif=exif.tobytes(), **options)
        return out_type


def _reason(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text[:200]
