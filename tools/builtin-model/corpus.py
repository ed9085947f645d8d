"""The training corpus: English prose, source code and a little Portuguese, read
from Debian packages and from the repository's npm dependencies, all under public
domain or permissive licences (see MODEL_CARD.md for the full list).

Every choice is deterministic: files are read in sorted order, sampled with a
seeded generator up to a byte budget per source, and held out by a hash of the
document name, so the same installed packages always give the same corpus.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000
MAX_DOC_BYTES = 200_000  # longer files are cut at a line end so none dominates
HELDOUT_PER_MILLE = 20


@dataclass(frozen=True)
class Source:
    name: str
    group: str  # "prose" or "code"
    licence: str
    origin: str  # Debian package or npm packages it comes from
    budget: int  # bytes; 0 means everything
    documents: Callable[[], Iterator[tuple[str, str]]]


def _read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (UnicodeDecodeError, OSError, EOFError):
        return None


def _files(root: Path, patterns: list[str], exclude: Callable[[Path], bool] = lambda p: False) -> Iterator[tuple[str, str]]:
    if not root.is_dir():
        raise FileNotFoundError(f"corpus source folder {root} is missing: install the package named in MODEL_CARD.md")
    paths = sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()})
    for path in paths:
        rel = path.relative_to(root)
        if exclude(rel):
            continue
        text = _read_text(path)
        if text and text.strip():
            yield str(path), text


def _minified(text: str) -> bool:
    return any(len(line) > 1000 for line in text.splitlines())


# ---- prose -----------------------------------------------------------------

def python_docs() -> Iterator[tuple[str, str]]:
    root = Path("/usr/share/doc/python3.11/html/_sources")
    yield from _files(root, ["**/*.rst.txt"], lambda p: p.name.startswith("changelog"))


def node_docs() -> Iterator[tuple[str, str]]:
    root = Path("/usr/share/doc/nodejs/api")
    yield from _files(root, ["*.md", "*.md.gz"], lambda p: p.name.startswith("all."))


RUST_BOOKS = ["book/src", "reference/src", "nomicon/src", "rust-by-example/src", "edition-guide/src",
              "embedded-book/src", "rustc/src", "rustc-dev-guide/src"]


def rust_docs() -> Iterator[tuple[str, str]]:
    root = Path("/usr/src/rustc-1.63.0/src/doc")
    for book in RUST_BOOKS:
        yield from _files(root / book, ["**/*.md"], lambda p: p.name == "SUMMARY.md")


_OSIS_NOTE = re.compile(r"<note\b.*?</note>", re.S)
_OSIS_BREAK = re.compile(r"<(?:div [^>]*sID=[^>]*type=\"x-p\"|chapter [^>]*sID|title|l\b|lg\b)[^>]*>")
_TAG = re.compile(r"<[^>]+>")


def world_english_bible() -> Iterator[tuple[str, str]]:
    """Books of the World English Bible, from the SWORD zText module: each zlib
    block is one book in OSIS XML; notes and markup are dropped."""
    root = Path("/usr/share/sword/modules/texts/ztext/engWEB2015eb")
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is missing: apt-get install sword-text-web")
    for testament in ("ot", "nt"):
        index = (root / f"{testament}.bzs").read_bytes()
        blocks = (root / f"{testament}.bzz").read_bytes()
        for k in range(len(index) // 12):
            offset, size, _ = struct.unpack_from("<III", index, 12 * k)
            xml = zlib.decompress(blocks[offset:offset + size]).decode("utf-8")
            text = _OSIS_NOTE.sub("", xml)
            text = _OSIS_BREAK.sub("\n\n", text)
            text = _TAG.sub("", text)
            text = re.sub(r"[ \t]+", " ", text)
            text = re.sub(r" *\n[\n ]*", "\n\n", text).strip()
            if len(text) > 1000:
                yield f"{root}/{testament}/{k:03d}", text + "\n"


def wordnet_glosses() -> Iterator[tuple[str, str]]:
    """WordNet definitions and examples as 'word (part of speech): gloss' lines."""
    root = Path("/usr/share/wordnet")
    names = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}
    for pos, label in names.items():
        path = root / f"data.{pos}"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: apt-get install wordnet-base")
        lines: list[str] = []
        chunk = 0
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # licence header
            fields, gloss = line.split("|", 1)
            parts = fields.split()
            word = parts[4].replace("_", " ")
            word = re.sub(r"\(\w+\)$", "", word)
            lines.append(f"{word} ({label}): {gloss.strip()}")
            if len(lines) == 400:
                yield f"{path}#{chunk}", "\n".join(lines) + "\n"
                lines, chunk = [], chunk + 1
        if lines:
            yield f"{path}#{chunk}", "\n".join(lines) + "\n"


def django_portuguese() -> Iterator[tuple[str, str]]:
    root = Path("/usr/lib/python3/dist-packages/django")
    yield from _files(root, ["**/locale/pt/LC_MESSAGES/*.po", "**/locale/pt_BR/LC_MESSAGES/*.po"])


# ---- npm packages in the repository ------------------------------------------

ALLOWED_NPM_LICENCES = {"MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "BlueOak-1.0.0", "Unlicense", "CC0-1.0"}


def _npm_licence(package_json: dict) -> str | None:
    lic = package_json.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if not lic and isinstance(package_json.get("licenses"), list) and package_json["licenses"]:
        lic = package_json["licenses"][0].get("type")
    return lic if isinstance(lic, str) else None


def _npm_licence_allowed(lic: str | None) -> bool:
    if not lic:
        return False
    if " AND " in lic:
        return all(_npm_licence_allowed(part) for part in lic.strip("()").split(" AND "))
    return any(part.strip("() ") in ALLOWED_NPM_LICENCES for part in lic.split(" OR "))


def npm_packages() -> list[tuple[Path, str, str, str]]:
    """(folder, name, version, licence) of every installed npm package whose
    licence is permissive, in sorted order."""
    modules = REPO_ROOT / "node_modules"
    if not modules.is_dir():
        raise FileNotFoundError(f"{modules} is missing: run `npm ci` in the repository first")
    found = []
    for pj in sorted(modules.glob("**/package.json")):
        folder = pj.parent
        parent = folder.parent
        is_package = parent.name == "node_modules" or (parent.name.startswith("@") and parent.parent.name == "node_modules")
        if not is_package:
            continue  # a package.json inside a package (e.g. esm/package.json)
        try:
            meta = json.loads(pj.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        name, version = meta.get("name"), meta.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        lic = _npm_licence(meta)
        if _npm_licence_allowed(lic):
            found.append((folder, name, version, lic or ""))
    return found


NPM_CODE_PER_PACKAGE = 1_000_000


def _npm_files(patterns: list[str], per_package: int) -> Iterator[tuple[str, str]]:
    for folder, name, _version, _lic in npm_packages():
        used = 0
        for path in sorted({p for pat in patterns for p in folder.glob(pat) if p.is_file()}):
            rel = path.relative_to(folder)
            if "node_modules" in rel.parts or path.name.endswith((".min.js", ".map")):
                continue
            text = _read_text(path)
            if not text or _minified(text):
                continue
            if used + len(text) > per_package:
                break
            used += len(text)
            yield str(path), text


def npm_code() -> Iterator[tuple[str, str]]:
    yield from _npm_files(["**/*.ts", "**/*.js", "**/*.mjs", "**/*.cjs"], NPM_CODE_PER_PACKAGE)


def npm_prose() -> Iterator[tuple[str, str]]:
    yield from _npm_files(["*.md", "docs/**/*.md"], 200_000)


# ---- code from Debian ----------------------------------------------------------

def python_stdlib() -> Iterator[tuple[str, str]]:
    root = Path("/usr/lib/python3.11")
    skip = ("site-packages", "dist-packages", "__pycache__", "pydoc_data", "lib2to3/tests/data")
    yield from _files(root, ["**/*.py"], lambda p: any(s in str(p) for s in skip))


def go_stdlib() -> Iterator[tuple[str, str]]:
    root = Path("/usr/share/go-1.19/src")
    yield from _files(root, ["**/*.go"], lambda p: p.parts[0] in ("cmd", "vendor") or "testdata" in p.parts)


def rust_library() -> Iterator[tuple[str, str]]:
    root = Path("/usr/src/rustc-1.63.0/library")
    for crate in ("core", "alloc", "std"):
        yield from _files(root / crate / "src", ["**/*.rs"])


def c_headers() -> Iterator[tuple[str, str]]:
    yield from _files(Path("/usr/include"), ["sqlite3.h", "python3.11/**/*.h"])


SOURCES = [
    Source("python-docs", "prose", "PSF-2.0", "Debian python3.11-doc 3.11.2 (reST sources of the Python documentation)", 10 * MB, python_docs),
    Source("node-docs", "prose", "MIT", "Debian nodejs-doc 18.20.4 (Node.js API documentation, Markdown)", 0, node_docs),
    Source("rust-docs", "prose", "MIT OR Apache-2.0", "Debian rust-src 1.63.0 (The Rust Book, Reference, Nomicon, Rust by Example, ... Markdown)", 8 * MB, rust_docs),
    Source("world-english-bible", "prose", "public domain", "Debian sword-text-web (World English Bible)", 0, world_english_bible),
    Source("wordnet", "prose", "WordNet 3.0 licence (permissive, attribution)", "Debian wordnet-base 3.0 (definitions and examples)", 3 * MB, wordnet_glosses),
    Source("npm-docs", "prose", "MIT / ISC / Apache-2.0 / BSD (per package)", "README and docs Markdown of the repository's permissively licensed npm dependencies", 2_500_000, npm_prose),
    Source("django-pt", "prose", "BSD-3-Clause", "Debian python3-django 3.2 (Portuguese and Brazilian Portuguese translation catalogues)", 0, django_portuguese),
    Source("python-stdlib", "code", "PSF-2.0", "Debian libpython3.11-stdlib 3.11.2 (Python standard library)", 18 * MB, python_stdlib),
    Source("npm-code", "code", "MIT / ISC / Apache-2.0 / BSD (per package)", "JavaScript/TypeScript of the repository's permissively licensed npm dependencies", 14 * MB, npm_code),
    Source("go-stdlib", "code", "BSD-3-Clause", "Debian golang-1.19-src (Go standard library, without cmd/ and vendor/)", 7 * MB, go_stdlib),
    Source("rust-library", "code", "MIT OR Apache-2.0", "Debian rust-src 1.63.0 (core, alloc and std)", 7 * MB, rust_library),
    Source("c-headers", "code", "public domain (SQLite) and PSF-2.0 (CPython)", "Debian libsqlite3-dev (sqlite3.h) and libpython3.11-dev (Python C API headers)", 0, c_headers),
]


def _cap(text: str) -> str:
    if len(text) <= MAX_DOC_BYTES:
        return text
    cut = text.rfind("\n", 0, MAX_DOC_BYTES)
    return text[: cut + 1 if cut > 0 else MAX_DOC_BYTES]


def is_heldout(doc_name: str) -> bool:
    digest = hashlib.sha1(doc_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") % 1000 < HELDOUT_PER_MILLE


@dataclass
class Document:
    source: str
    group: str
    name: str
    text: str
    heldout: bool


def load_corpus(seed: int) -> list[Document]:
    docs: list[Document] = []
    for source in SOURCES:
        items = [(name, _cap(text)) for name, text in source.documents()]
        if not items:
            raise RuntimeError(f"corpus source {source.name} produced no text: check {source.origin}")
        random.Random(f"{seed}:{source.name}").shuffle(items)
        used = 0
        for name, text in items:
            size = len(text.encode("utf-8"))
            if source.budget and used + size > source.budget:
                continue
            used += size
            docs.append(Document(source.name, source.group, name, text, is_heldout(name)))
    return docs
