"""Make a tiny handwritten-digit CNN, trained here on digits drawn from a 5x7 pixel font.

Run with the API environment's own Python (torch, torchvision and Pillow are there):

    <env>/bin/python digits.py MODEL_FILE SAMPLES_DIR

MODEL_FILE gets the CNN as TorchScript (``torch.jit.script(...).save``), as the hosted digit
recogniser shipped it. SAMPLES_DIR gets ``<digit>.png`` for 0-9: 56x56 RGB PNGs, white on
black, each drawn at a place of its own, for the test to send as base64. The CNN sees 28x28
greyscale images normalised to [-1, 1], which is what the project's torchvision transforms make
of such a PNG. Prints one JSON line: training steps and accuracy on fresh drawings.
"""

import json
import os
import sys

import torch
from PIL import Image

FONT = {  # 5 columns x 7 rows per digit
    0: ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    1: ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    2: ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    3: ["11111", "00010", "00100", "00010", "00001", "10001", "01110"],
    4: ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    5: ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    6: ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    7: ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    8: ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    9: ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}
SCALE = 3  # a glyph is 15x21 pixels in the 28x28 image


def draw(digit: int, dx: int, dy: int) -> torch.Tensor:
    """A 28x28 image (values 0 or 1) of ``digit`` with its top-left corner at (dx, dy)."""
    image = torch.zeros(28, 28)
    for row, bits in enumerate(FONT[digit]):
        for col, bit in enumerate(bits):
            if bit == "1":
                y, x = dy + row * SCALE, dx + col * SCALE
                image[y : y + SCALE, x : x + SCALE] = 1.0
    return image


def random_batch(generator: torch.Generator, size: int):
    digits = torch.randint(0, 10, (size,), generator=generator)
    dx = torch.randint(0, 28 - 5 * SCALE + 1, (size,), generator=generator)
    dy = torch.randint(0, 28 - 7 * SCALE + 1, (size,), generator=generator)
    images = torch.stack(
        [draw(int(d), int(x), int(y)) for d, x, y in zip(digits, dx, dy, strict=True)]
    )
    return (images.unsqueeze(1) - 0.5) / 0.5, digits


class DigitCNN(torch.nn.Module):
    """Two small convolutions and a linear layer: 28x28x1 in, 10 logits out."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        )
        self.classify = torch.nn.Linear(16 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(torch.flatten(self.features(x), 1))


def main(model_file: str, samples_dir: str) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = DigitCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    accuracy, steps = 0.0, 0
    for steps in range(1, 1001):
        images, digits = random_batch(generator, 64)
        loss = torch.nn.functional.cross_entropy(model(images), digits)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if steps % 50 == 0:
            with torch.no_grad():
                images, digits = random_batch(generator, 200)
                accuracy = float((model(images).argmax(1) == digits).float().mean())
            if accuracy == 1.0:
                break
    if accuracy < 1.0:
        sys.exit(f"the CNN reached only {accuracy:.0%} in {steps} steps")
    model.eval()
    torch.jit.script(model).save(model_file)

    os.makedirs(samples_dir, exist_ok=True)
    for digit in range(10):
        pixels = draw(digit, dx=2 + digit % 5 * 2, dy=1 + digit % 4 * 2)
        grey = Image.fromarray((pixels * 255).to(torch.uint8).numpy(), mode="L")
        grey.resize((56, 56), Image.NEAREST).convert("RGB").save(f"{samples_dir}/{digit}.png")
    print(json.dumps({"steps": steps, "accuracy": accuracy}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
