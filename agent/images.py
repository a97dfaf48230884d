"""Images for the model: recognised by their bytes, decoded once to prove they can be read, and
made small enough to send.

A file is an image when its first bytes say PNG, JPEG, GIF or WebP, whatever its name. One that
fits the caps (`MAX_SIDE` pixels a side, `MAX_ENCODED_BYTES`, one frame) goes as it is; a larger
one is downscaled and re-encoded (PNG for a lossless source, JPEG otherwise or when the PNG is
still too big); an animated one sends its first frame. What cannot be decoded (a truncated file,
a decompression bomb of more than `MAX_SOURCE_PIXELS`, a file over `MAX_SOURCE_BYTES`) is an
`ImageError` whose message says why; nothing is sent for it.

Pillow decodes and encodes. It is imported when an image is prepared, never with this module, so
nothing on the app's start-up path loads it.
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_SOURCE_BYTES = 32 * 1024 * 1024
"""A larger image file is refused without being read."""
MAX_SOURCE_PIXELS = 50_000_000
"""An image with more pixels is refused before it is decoded (a decompression bomb)."""
MAX_SIDE = 2048
"""An image with a longer side is downscaled to fit a square of this side."""
MAX_ENCODED_BYTES = 4 * 1024 * 1024
"""What is sent of one image, before base64 (a larger one is re-encoded, smaller if need be)."""
MIN_SIDE = 64
"""Shrinking to fit `MAX_ENCODED_BYTES` gives up below this side."""
SNIFF_BYTES = 16
"""Bytes enough to recognise every supported format."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
"""The names a pasted path must end with to be looked at as an image (its bytes then decide)."""
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
"""Each supported media type and Pillow's name for its format."""
SUPPORTED = "PNG, JPEG, GIF or WebP"


class ImageError(ValueError):
    """An image that cannot be sent; the message says why, in words for the user."""


class NotAnImage(ImageError):
    """The bytes are not those of a supported image format."""


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file announce (`image/png`, …), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to send."""

    media_type: str
    data: bytes
    """The encoded image that is sent."""
    width: int
    height: int
    source_width: int
    source_height: int
    animated: bool = False
    """The source has several frames (only the first is sent)."""

    @property
    def data_url(self) -> str:
        """The `data:` URL of an `input_image` part."""
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    @property
    def downscaled(self) -> bool:
        return (self.width, self.height) != (self.source_width, self.source_height)

    def describe(self) -> str:
        """In a few words: `PNG 800×600`, `JPEG 2048×1536, downscaled from 4032×3024`."""
        text = f"{FORMATS[self.media_type]} {self.width}×{self.height}"
        if self.downscaled:
            text += f", downscaled from {self.source_width}×{self.source_height}"
        if self.animated:
            text += ", the first frame of an animation"
        return text


def read_image(fd: int, size: int) -> PreparedImage:
    """The image in the open file `fd` (read from its start, `size` bytes by its fstat).

    Raises:
        NotAnImage: its first bytes are not those of a supported image (nothing more was read).
        ImageError: it is too large, cannot be decoded, or cannot be made small enough.
        OSError: reading failed.
    """
    head = os.pread(fd, SNIFF_BYTES, 0)
    if sniff(head) is None:
        raise NotAnImage(f"not a {SUPPORTED} image")
    if size > MAX_SOURCE_BYTES:
        raise ImageError(f"the image is {_mib(size)}, over the {_mib(MAX_SOURCE_BYTES)} limit")
    data = _read_from_start(fd, MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise ImageError(f"the image grew over the {_mib(MAX_SOURCE_BYTES)} limit while it was read")
    return prepare_image(data)


def prepare_image(
    data: bytes,
    *,
    max_side: int = MAX_SIDE,
    max_bytes: int = MAX_ENCODED_BYTES,
    max_pixels: int = MAX_SOURCE_PIXELS,
) -> PreparedImage:
    """`data` decoded (to prove it can be) and sent as it is, or downscaled and re-encoded to fit
    `max_side` and `max_bytes` (an animated image: its first frame).

    Raises:
        NotAnImage: `data` is not a supported image format.
        ImageError: it cannot be decoded, has more than `max_pixels`, or cannot fit `max_bytes`.
    """
    media_type = sniff(data[:SNIFF_BYTES])
    if media_type is None:
        raise NotAnImage(f"not a {SUPPORTED} image")
    from PIL import Image, UnidentifiedImageError

    kind = FORMATS[media_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(_too_many_pixels(width, height, max_pixels))
                animated = bool(getattr(image, "is_animated", False))  # frames are not counted: each costs
                if kind == "JPEG" and max(width, height) > max_side:
                    image.draft(image.mode, (max_side, max_side))  # decodes at a fraction of the size
                image.load()
                if len(data) <= max_bytes and max(width, height) <= max_side and not animated:
                    return PreparedImage(media_type, data, width, height, width, height)
                return _shrunk(image, media_type, max_side, max_bytes, animated, (width, height))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"the {kind} image has too many pixels to decode safely") from None
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"the {kind} image cannot be read (its header is damaged)") from None
    except Exception as exc:  # a decoder fed hostile bytes may raise anything; nothing is sent
        raise ImageError(f"the {kind} image cannot be read ({_reason(exc)})") from None


def _shrunk(
    image: Image, media_type: str, max_side: int, max_bytes: int, animated: bool, source: tuple[int, int]
) -> PreparedImage:
    """`image` (loaded) downscaled in place, then encoded smaller and smaller until it fits: the
    full-size pixels are held once, never copied."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    source_width, source_height = source
    if media_type == "image/jpeg":
        ImageOps.exif_transpose(image, in_place=True)
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if alpha else "RGB"
    if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palettes and the like resample poorly
        image = image.convert(mode)
    image.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS)
    base = image.convert(mode)
    lossless = media_type in ("image/png", "image/gif")
    side = max_side
    while side >= MIN_SIDE:
        scaled = base if side >= max(base.size) else base.copy()
        scaled.thumbnail((side, side), PILImage.Resampling.LANCZOS)
        candidates = ("PNG", "JPEG") if lossless else ("JPEG",)
        for kind in candidates:
            encoded = _encode(scaled, kind)
            if len(encoded) <= max_bytes:
                out_type = "image/png" if kind == "PNG" else "image/jpeg"
                width, height = scaled.size
                return PreparedImage(out_type, encoded, width, height, source_width, source_height, animated)
        side = side * 3 // 4
    raise ImageError(f"the image cannot be made smaller than {_mib(max_bytes)}")


def _encode(image: Image, kind: str) -> bytes:
    from PIL import Image as PILImage

    if kind == "JPEG" and image.mode == "RGBA":
        flat = PILImage.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    if kind == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def _read_from_start(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while offset < limit:
        chunk = os.pread(fd, min(limit - offset, 1024 * 1024), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _too_many_pixels(width: int, height: int, limit: int) -> str:
    return f"the image is {width}×{height} pixels, over the {limit // 1_000_000}-megapixel limit; it was not decoded"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return text or type(exc).__name__


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
