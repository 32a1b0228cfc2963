"""How a raw image becomes model input.

An `InputSpec` is saved with every checkpoint, so a drawing made in the app is prepared exactly
like the images the model was meta-trained on. `prepare_image` is the one function that turns any
image (path, bytes, PIL image, numpy array) into the compact uint8 form the sources cache;
`InputSpec.to_model` turns a uint8 batch into normalised floats on the model's device.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import ImageError

# A decompression-bomb guard that still admits big scans: we downscale immediately anyway.
Image.MAX_IMAGE_PIXELS = 40_000 * 40_000
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class InputSpec:
    size: tuple[int, int] = (28, 28)  # (height, width) the model sees
    channels: int = 1  # 1 = grayscale, 3 = RGB
    invert: bool = True  # make ink bright on a dark background (Omniglot and drawings are dark-on-light)
    mean: float = 0.0  # normalisation applied after scaling to [0, 1]
    std: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InputSpec":
        d = dict(d)
        d["size"] = tuple(int(v) for v in d.get("size", (28, 28)))
        return cls(**d)

    def to_model(self, images_uint8: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """uint8 [..., C, H, W] -> float32 normalised, on `device`."""
        x = images_uint8.to(device=device) if device is not None else images_uint8
        x = x.float().div_(255.0)
        if self.mean != 0.0 or self.std != 1.0:
            x = x.sub_(self.mean).div_(self.std)
        return x


def _open(image: Any) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, (bytes, bytearray)):
        if len(image) == 0:
            raise ImageError("empty image data (0 bytes)")
        source, name = io.BytesIO(image), "image data"
    else:
        path = Path(image)
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes), expected an image")
        source, name = path, str(path)
    try:
        img = Image.open(source)
        # draft() lets JPEG decode straight at a reduced scale: a 40-megapixel photo decodes fast.
        img.draft("RGB", (512, 512))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: not a readable image ({exc.__class__.__name__}: {exc})") from exc
    return img


def _from_array(arr: np.ndarray) -> Image.Image:
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # CHW -> HWC
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = a.astype(np.float64)
        hi = float(a.max()) if a.size else 1.0
        # floats in [0, 1] are intensities; anything larger is scaled down by its own range
        scale = 255.0 if hi <= 1.0 else 255.0 / (65535.0 if hi > 255 else 255.0)
        a = np.clip(a * scale, 0, 255).astype(np.uint8)
    if a.ndim not in (2, 3):
        raise ImageError(f"array of shape {arr.shape}: expected HxW, HxWxC or CxHxW")
    return Image.fromarray(a)


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> 'L' or 'RGB'. Transparent pixels become white paper, not black."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img, dtype=np.float64)
        hi = a.max() if a.size else 1.0
        img = Image.fromarray((a * (255.0 / (65535.0 if hi > 255 else 255.0))).clip(0, 255).astype(np.uint8))
    elif img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        img = Image.fromarray((a * 255.0 if a.max() <= 1.0 else a).clip(0, 255).astype(np.uint8))
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode in ("RGB", "L") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    target = "L" if channels == 1 else "RGB"
    return img.convert(target)  # CMYK, YCbCr, 1-bit, ... all convert here


def prepare_image(image: Any, spec: InputSpec) -> torch.Tensor:
    """Any image (path, bytes, PIL, numpy) -> uint8 tensor [C, H, W] at spec.size, inverted if asked.

    Raises ImageError naming the file when it cannot be decoded.
    """
    img = _to_mode(_open(image), spec.channels)
    h, w = spec.size
    # Shrink huge images in cheap integer steps first, then one antialiased resample.
    if img.width > 4 * w and img.height > 4 * h:
        img = img.reduce(max(1, min(img.width // (2 * w), img.height // (2 * h))))
    img = img.resize((w, h), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.uint8)
    if spec.invert:
        arr = 255 - arr
    t = torch.from_numpy(arr.copy())
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()
