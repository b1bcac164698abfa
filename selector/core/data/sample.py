"""Built-in sample data, generated offline and deterministically: one click works with no data.

Images: four shapes (circle, square, triangle, cross) drawn at random size, position, angle
and colours on a noisy background. Only the shape decides the class, so a model must look at
form, not colour; a pretrained backbone learns it in a few dozen steps.

Text: short product reviews from templates, ``positive`` or ``negative``. Only the opinion
words decide the class (the products, openings and endings are shared), so a model must pick
up words that carry sentiment.
"""

from __future__ import annotations

import math
import random

from selector.core.data.dataset import IMAGE, TEXT, LoadedDataset

SHAPES = ("circle", "square", "triangle", "cross")
IMAGE_SIZE = 96
DEFAULT_IMAGES_PER_CLASS = 64
DEFAULT_TEXTS_PER_CLASS = 120


def _colour(rng: random.Random, avoid: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    while True:
        colour = tuple(rng.randrange(256) for _ in range(3))
        if avoid is None or sum(abs(a - b) for a, b in zip(colour, avoid)) > 240:
            return colour  # type: ignore[return-value]


def _polygon(cx: float, cy: float, radius: float, angle: float, points: list[tuple[float, float]]):
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + radius * (x * cos - y * sin), cy + radius * (x * sin + y * cos)) for x, y in points]


_OUTLINES = {
    "square": [(-0.7, -0.7), (0.7, -0.7), (0.7, 0.7), (-0.7, 0.7)],
    "triangle": [(0.0, -1.0), (0.87, 0.5), (-0.87, 0.5)],
    "cross": [(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3), (0.3, 1),
              (-0.3, 1), (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)],
}


def draw_shape(shape: str, rng: random.Random, size: int = IMAGE_SIZE):
    """One RGB PIL image of ``shape``."""
    import numpy as np
    from PIL import Image, ImageDraw

    background = _colour(rng)
    noise = np.random.default_rng(rng.randrange(2**32)).integers(-25, 26, (size, size, 3))
    pixels = np.clip(np.array(background, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    radius = rng.uniform(0.18, 0.38) * size
    cx, cy = (rng.uniform(radius, size - radius) for _ in range(2))
    fill = _colour(rng, avoid=background)
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
    else:
        angle = rng.uniform(0, 2 * math.pi)
        draw.polygon(_polygon(cx, cy, radius, angle, _OUTLINES[shape]), fill=fill)
    return image


def sample_images(per_class: int | None = None, seed: int = 0) -> LoadedDataset:
    per_class = per_class or DEFAULT_IMAGES_PER_CLASS
    rng = random.Random(f"selector-shapes-{seed}")
    data = LoadedDataset(IMAGE, "sample:image", list(SHAPES), [], [])
    for _ in range(per_class):
        for label, shape in enumerate(SHAPES):
            data.items.append(draw_shape(shape, rng))
            data.labels.append(label)
    data.notes.append(f"built-in sample: {per_class} generated {IMAGE_SIZE}x{IMAGE_SIZE} images of "
                      f"each of {', '.join(SHAPES)} (seed {seed})")
    return data


_PRODUCTS = ["coffee maker", "phone case", "desk lamp", "backpack", "blender", "keyboard",
             "rain jacket", "water bottle", "headset", "office chair", "toaster", "tent"]
_OPENINGS = ["I bought this {p} last month.", "We got the {p} as a gift.", "My {p} arrived on Monday.",
             "Ordered the {p} for my brother.", "This is my second {p} from this shop.", ""]
_OPINIONS = {
    "positive": ["It is excellent and works perfectly.", "Absolutely love it, great quality.",
                 "Very happy with it, it is sturdy and reliable.", "Fantastic value, highly recommend it.",
                 "It exceeded my expectations.", "Superb build and a pleasure to use.",
                 "Works great, I would buy it again.", "Brilliant, it does exactly what I wanted."],
    "negative": ["It is terrible and broke within a week.", "Really disappointed, poor quality.",
                 "Very unhappy with it, it is flimsy and unreliable.", "Awful value, do not buy it.",
                 "It fell far short of my expectations.", "Cheap build and a pain to use.",
                 "Stopped working, I want a refund.", "Useless, it does nothing I wanted."],
}
_ENDINGS = ["", "Delivery took three days.", "The box was blue.", "It came with a manual.",
            "My neighbour has the same one.", "I use it every morning."]


def sample_texts(per_class: int | None = None, seed: int = 0) -> LoadedDataset:
    per_class = per_class or DEFAULT_TEXTS_PER_CLASS
    rng = random.Random(f"selector-reviews-{seed}")
    classes = list(_OPINIONS)
    data = LoadedDataset(TEXT, "sample:text", classes, [], [], encoding="utf-8",
                         text_column="text", label_column="label")
    for _ in range(per_class):
        for label, name in enumerate(classes):
            product = rng.choice(_PRODUCTS)
            parts = [rng.choice(_OPENINGS).format(p=product), rng.choice(_OPINIONS[name]),
                     rng.choice(_ENDINGS)]
            data.items.append(" ".join(p for p in parts if p))
            data.labels.append(label)
    data.notes.append(f"built-in sample: {per_class} templated product reviews per class "
                      f"({', '.join(classes)}; seed {seed})")
    return data
