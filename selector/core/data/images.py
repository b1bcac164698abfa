"""Image folders: one sub-folder per class, like torchvision's ``ImageFolder``.

Scanning opens every candidate file's header (cheap: PIL reads no pixels) so files that are
not images, or are broken at the start, are skipped and counted before the probe starts.
Files that turn out corrupt when decoded (truncated data) are skipped and counted during the
probe by ``load_image``'s callers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from selector.core.data.dataset import IMAGE, DataError, LoadedDataset

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                  ".pgm", ".pbm"}


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("__")


def scan_image_folder(root: Path) -> LoadedDataset:
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted((p for p in root.iterdir() if p.is_dir() and not _hidden(p.name)),
                        key=lambda p: p.name)
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not class_dirs:
        hint = f" (it holds {len(loose)} images directly)" if loose else ""
        raise DataError(
            f"{root} has no class sub-folders{hint}: put the images of each class in a folder "
            "named after the class, e.g. data/cat/1.jpg, data/dog/2.jpg"
        )
    data = LoadedDataset(IMAGE, str(root), [], [], [])
    if loose:
        data.notes.append(f"{len(loose)} image(s) directly in {root.name}/ ignored: "
                          "only images inside class sub-folders count")
    empty: list[str] = []
    for class_dir in class_dirs:
        label = len(data.classes)
        found = 0
        for path in sorted(class_dir.rglob("*")):
            if not path.is_file() or any(_hidden(part) for part in path.relative_to(root).parts):
                continue
            shown = str(path.relative_to(root))
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                data.skip("not an image file", shown)
                continue
            try:
                with Image.open(path) as image:
                    image.size  # noqa: B018 - the header must parse
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
                data.skip("unreadable image", f"{shown} ({type(err).__name__})")
                continue
            data.items.append(str(path))
            data.labels.append(label)
            found += 1
        if found:
            data.classes.append(class_dir.name)
        else:
            empty.append(class_dir.name)
    if empty:
        data.notes.append("class folders without usable images ignored: " + ", ".join(empty))
    return data


def load_image(item) -> Image.Image:  # noqa: ANN001 - path or in-memory PIL image
    """The item as an RGB PIL image; raises ``OSError``/``ValueError`` when it cannot be decoded."""
    from PIL import Image

    if isinstance(item, Image.Image):
        return item.convert("RGB")
    with Image.open(item) as image:
        image.load()
        return image.convert("RGB")
