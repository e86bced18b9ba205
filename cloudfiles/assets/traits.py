"""File traits: functions of a local file path returning one value per file."""
from __future__ import annotations

import os


def _image(filepath: str):
    from PIL import Image

    return Image.open(filepath)


def get_image_width(filepath: str) -> int:
    with _image(filepath) as im:
        return int(im.width)


def get_image_height(filepath: str) -> int:
    with _image(filepath) as im:
        return int(im.height)


def get_num_image_channels(filepath: str) -> int:
    with _image(filepath) as im:
        return len(im.getbands())


def get_file_size(filepath: str) -> int:
    return os.path.getsize(filepath)
