"""Helpers for common chores of an inference API: base64 images in, base64 images out.

Clients cannot send raw bytes in a JSON body, so images travel as base64 strings. These helpers
turn such a string into an image (a NumPy array or a Pillow image) and back, as the hosted
service's utils.py did. Every API environment has NumPy and Pillow (unless hub_config.json says
``"base_packages": false``); they are imported inside the functions, so this file also loads
without them.

Add your own helpers here and import them in main.py: ``from utils import my_helper``.
"""

import base64
import binascii
import io


def decode_base64(b64_string):
    """Return the bytes of a base64 string; a data URL ("data:image/png;base64,...") works too."""
    if isinstance(b64_string, bytes):
        b64_string = b64_string.decode("ascii")
    if b64_string.startswith("data:") and "," in b64_string:
        b64_string = b64_string.split(",", 1)[1]  # drop the "data:image/png;base64," prefix
    b64_string = "".join(b64_string.split())  # tolerate line breaks
    b64_string += "=" * (-len(b64_string) % 4)  # tolerate missing padding
    try:
        return base64.b64decode(b64_string, validate=True)
    except binascii.Error as err:
        raise ValueError(f"the input is not valid base64 ({err})") from None


def encode_base64(data):
    """Return ``data`` (bytes) as a base64 string, ready to put in a JSON response."""
    return base64.b64encode(data).decode("ascii")


def convert_base64_to_image(b64_string, return_type="numpy"):
    """Decode a base64 image into RGB: a NumPy array of shape (height, width, 3), the default,
    or a Pillow image (``return_type='pillow'``).

    Grey, palette and transparent images are converted to RGB, so a model always gets three
    channels whatever the client sent.
    """
    from PIL import Image  # imported here so that utils.py loads without Pillow installed

    image = Image.open(io.BytesIO(decode_base64(b64_string)))
    image = image.convert("RGB")
    kind = str(return_type).lower()
    if kind in ("pillow", "pil"):
        return image
    if kind == "numpy":
        import numpy as np

        return np.asarray(image)
    raise ValueError("return_type must be 'numpy' or 'pillow'")


def convert_image_to_base64(image, format="PNG"):
    """Encode a Pillow image or a NumPy array (uint8, HxW or HxWxC) as a base64 string."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)  # a NumPy array
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return encode_base64(buffer.getvalue())


def convert_base64_to_numpy(b64_string):
    """Decode a base64 image straight into a NumPy array (shortcut of the function above)."""
    return convert_base64_to_image(b64_string, return_type="numpy")


def convert_numpy_to_base64(array, format="PNG"):
    """Encode a NumPy image array as a base64 string (shortcut of convert_image_to_base64)."""
    return convert_image_to_base64(array, format=format)
