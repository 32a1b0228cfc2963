import io

import numpy as np
import pytest
import torch
from PIL import Image

from core import ImageError, InputSpec, prepare_image

SPEC = InputSpec(size=(28, 28), channels=1, invert=True)


def _dark_cross(mode: str, size=(64, 64)) -> Image.Image:
    img = Image.new("L", size, 255)
    for i in range(size[0]):
        img.putpixel((i, size[1] // 2), 0)
        img.putpixel((size[0] // 2, i % size[1]), 0)
    return img.convert(mode)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I", "I;16", "F"])
def test_every_mode_becomes_uint8_at_spec_size(mode):
    out = prepare_image(_dark_cross(mode), SPEC)
    assert out.dtype == torch.uint8 and out.shape == (1, 28, 28)
    # dark ink on white paper: after inversion ink is bright and the paper dark
    assert out[0, 14, :].float().mean() > out[0, 2, 2:6].float().mean()
    assert out[0, 2, 2] < 30


def test_transparent_background_is_paper_not_ink():
    img = Image.new("RGBA", (50, 50), (0, 0, 0, 0))  # fully transparent black
    for i in range(50):
        img.putpixel((i, 25), (0, 0, 0, 255))
    out = prepare_image(img, SPEC)
    assert out[0, 3, 3] < 20 and out[0, 14].max() > 60


def test_sixteen_bit_png_and_rgb_output(tmp_path):
    arr = (np.linspace(0, 65535, 40 * 40).reshape(40, 40)).astype(np.uint16)
    p = tmp_path / "deep.png"
    Image.fromarray(arr).save(p)
    out = prepare_image(p, InputSpec(size=(20, 20), channels=3, invert=False))
    assert out.shape == (3, 20, 20) and out.dtype == torch.uint8
    assert out[:, 0, 0].float().mean() < out[:, -1, -1].float().mean()  # the ramp survives


def test_huge_image_is_downscaled_fast(tmp_path):
    p = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 6000), "white").save(p, quality=50)
    out = prepare_image(p, SPEC)
    assert out.shape == (1, 28, 28)


def test_numpy_arrays_chw_hwc_float():
    hwc = np.zeros((30, 30, 3), np.uint8)
    chw = np.zeros((3, 30, 30), np.float32)
    assert prepare_image(hwc, SPEC).shape == (1, 28, 28)
    assert prepare_image(chw, SPEC).shape == (1, 28, 28)


def test_bytes_and_errors(tmp_path):
    buf = io.BytesIO()
    _dark_cross("L").save(buf, format="PNG")
    assert prepare_image(buf.getvalue(), SPEC).shape == (1, 28, 28)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    for bad, words in ((empty, "empty"), (text, "not a readable image"), (truncated, "not a readable image"), (tmp_path / "missing.png", "no such file")):
        with pytest.raises(ImageError, match=words) as info:
            prepare_image(bad, SPEC)
        assert str(bad) in str(info.value)


def test_spec_round_trip_and_normalisation():
    spec = InputSpec(size=(32, 30), channels=3, invert=False, mean=0.5, std=0.25)
    assert InputSpec.from_dict(spec.to_dict()) == spec
    x = spec.to_model(torch.full((1, 3, 32, 30), 255, dtype=torch.uint8))
    assert torch.allclose(x, torch.full_like(x, 2.0))
