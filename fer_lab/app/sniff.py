"""What an upload is, read from its first bytes before anything decodes it: an allow-list of formats.

Images: JPEG, PNG, BMP and WebP, with their width and height read from the header, so an image that would decode
to more pixels than allowed (a decompression bomb) is refused without decoding it. Videos: MP4/QuickTime, Matroska/
WebM and AVI containers; anything else (playlists, concat lists, image sequences) could make the decoder open other
files or URLs, and is refused.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from fer_lab.errors import FerLabError

IMAGE_FORMATS = "JPEG, PNG, BMP or WebP"
VIDEO_FORMATS = "MP4, MOV, WebM, MKV or AVI"
# FFmpeg demuxers a video job may use (OpenCV passes this to FFmpeg): a second fence behind the sniffing.
VIDEO_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi"
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip")
# ISO base media brands of videos (an `ftyp` box also starts AVIF and HEIF still images, which are refused).
_VIDEO_BRANDS = (b"iso", b"mp4", b"mp7", b"avc", b"M4V", b"M4A", b"qt  ", b"3g", b"dash", b"MSNV", b"f4v", b"mmp4")
_JPEG_FRAME_MARKER = re.compile(rb"\xff[\xc0-\xc3\xc5-\xc7\xc9-\xcb\xcd-\xcf]")
JPEG_MAX_SCANS = 100
"""Scans a JPEG may have (a progressive one has about ten): each costs a pass over the whole image."""


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def image_header(data: bytes, what: str = "upload") -> ImageHeader:
    """The format and size an encoded image declares; a FerLabError for anything not on the list or malformed."""
    try:
        header = _read_header(data)
    except (struct.error, IndexError):
        header = None
    if header is None or header.width <= 0 or header.height <= 0:
        raise FerLabError(f"the {what} is not a {IMAGE_FORMATS} image: send one of those")
    return header


def check_pixels(header: ImageHeader, limit: int, what: str = "upload") -> None:
    """Refuse an image whose declared size is over `limit` pixels."""
    if header.pixels > limit:
        raise FerLabError(
            f"the {what} is {header.width}x{header.height} pixels, over the limit of {limit / 1e6:g} megapixels: "
            "send a smaller image"
        )


def video_suffix(head: bytes) -> str:
    """The file suffix of the video container `head` (the file's first bytes) starts; a FerLabError otherwise."""
    if (head[4:8] == b"ftyp" and head[8:12].startswith(_VIDEO_BRANDS)) or head[4:8] in _QUICKTIME_ATOMS:
        return ".mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    raise FerLabError(f"the video is not an {VIDEO_FORMATS} file: send one of those")


def _read_header(data: bytes) -> ImageHeader | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return ImageHeader("PNG", width, height)
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    if data[:2] == b"BM":
        (dib,) = struct.unpack("<I", data[14:18])
        fmt = "<hh" if dib == 12 else "<ii"
        width, height = struct.unpack(fmt, data[18 : 18 + struct.calcsize(fmt)])
        return ImageHeader("BMP", width, abs(height))  # a negative height: rows stored top-down
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _jpeg(data: bytes) -> ImageHeader | None:
    """The largest frame any frame marker in the file declares: a decoder skips bytes it cannot parse until the
    next marker, so every 0xFF 0xCn sequence counts, wherever it lies. Too many scans count as malformed."""
    sizes = []
    for found in _JPEG_FRAME_MARKER.finditer(data):
        height, width = struct.unpack(">HH", data[found.start() + 5 : found.start() + 9])
        sizes.append((width * height, width, height))
    scans = data.count(b"\xff\xda")
    if scans > JPEG_MAX_SCANS:
        raise FerLabError(f"the JPEG has {scans} scans, more than {JPEG_MAX_SCANS}: save it as a baseline JPEG")
    if not sizes:
        return None
    _, width, height = max(sizes)
    return ImageHeader("JPEG", width, height)


def _webp(data: bytes) -> ImageHeader | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageHeader("WebP", width, height)
    if chunk == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return ImageHeader("WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return ImageHeader("WebP", width & 0x3FFF, height & 0x3FFF)
    return None
