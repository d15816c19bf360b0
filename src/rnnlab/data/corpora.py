"""Text corpora: a small registry of named corpora, any local text file, and a train/validation split.

    corpus = load_corpus("tinyshakespeare")        # or "pydoc", "stdlib", or a path to any text file
    train, val = split_text(corpus.text)           # the last 10% is validation

Named corpora (``CORPORA``):

- ``tinyshakespeare``: char-rnn's 1.1 MB of Shakespeare.  The file ``tinyshakespeare.txt`` is read
  from the data directory when present, else downloaded from its URL; either way its sha256 must
  match the registry's, so a corrupt or different file is an error, never a silent change of data.
- ``pydoc``: Python's documentation topics (``pydoc_data.topics``), every topic in sorted key order,
  joined by blank lines.  Exists wherever Python does; no download.
- ``stdlib``: the standard library's ``.py`` sources, in sorted path order, tests and site-packages
  excluded, capped at ``STDLIB_MAX_CHARS``.  No download; its content depends on the Python version.

The data directory is ``$RNNLAB_DATA_DIR``, else ``$XDG_DATA_HOME/rnnlab``, else
``~/.local/share/rnnlab``.

Every failure is a ``CorpusError`` whose message says what is wrong and what to do: a missing file,
an empty file, a binary file (it names the offset of the first NUL byte), text that is not valid in
the chosen encoding (it names the byte offset and the byte), a failed or corrupt download.
Proved by ``tests/data/test_corpora.py``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "RNNLAB_DATA_DIR"
STDLIB_MAX_CHARS = 4_000_000
DOWNLOAD_TIMEOUT_SECONDS = 30.0
_CHUNK = 64 * 1024
_BINARY_SNIFF_BYTES = 8192

ProgressFn = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


class CorpusError(ValueError):
    """A corpus could not be loaded: the message names the source and says why."""


@dataclass(frozen=True)
class Corpus:
    name: str  # registry name, or the file path as given
    text: str
    sha256: str  # of the file's bytes (files, downloads) or of the UTF-8 text (built corpora)

    def __len__(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    description: str
    filename: str | None = None  # file in the data directory (downloadable corpora)
    url: str | None = None
    sha256: str | None = None
    build: Callable[[], str] | None = None  # corpora made from what Python ships


def data_dir() -> Path:
    """Where corpora live: $RNNLAB_DATA_DIR, else $XDG_DATA_HOME/rnnlab, else ~/.local/share/rnnlab."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]).expanduser() / "rnnlab"
    return Path.home() / ".local" / "share" / "rnnlab"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- turning bytes into text, with clear errors -------------------------------------------------
def decode_text(data: bytes, source: str, encoding: str = "utf-8") -> str:
    """Decode a file's bytes; CorpusError for empty, binary, or wrongly encoded input."""
    if not data:
        raise CorpusError(f"{source}: the file is empty")
    utf16_or_32 = encoding.lower().replace("-", "").replace("_", "").startswith(("utf16", "utf32"))
    nul = data.find(b"\x00", 0, _BINARY_SNIFF_BYTES)
    if nul >= 0 and not utf16_or_32:
        raise CorpusError(f"{source}: looks like a binary file (a NUL byte at byte offset {nul}), not text")
    try:
        text = data.decode(encoding)
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as e:
        bad = data[e.start : e.start + 1].hex()
        hint = " (pass --encoding, e.g. --encoding latin-1)" if encoding.lower() in ("utf-8", "utf8") else ""
        raise CorpusError(f"{source}: not valid {encoding} text: byte 0x{bad} at byte offset {e.start}{hint}") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not part of the text
    if not text:
        raise CorpusError(f"{source}: the file is empty")
    return text


def read_text_file(path: str | os.PathLike, encoding: str = "utf-8") -> Corpus:
    """Any local text file as a Corpus (sha256 of its bytes)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file (and not a corpus name: {', '.join(CORPORA)})") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a folder, not a text file") from None
    except OSError as e:
        raise CorpusError(f"{path}: cannot read ({e.strerror})") from None
    return Corpus(str(path), decode_text(data, str(path), encoding), sha256_bytes(data))


# ---- downloads ----------------------------------------------------------------------------------
def download(url: str, dest: str | os.PathLike, sha256: str, *, timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
             progress: ProgressFn | None = None, opener: Callable | None = None) -> bytes:
    """Fetch url into dest, verified against sha256 before it is moved into place; returns the bytes.

    The bytes go to a temporary file beside dest; on a sha256 mismatch or any failure nothing is left
    behind.  ``opener`` defaults to ``urllib.request.urlopen`` (replaceable in tests).
    """
    import urllib.error
    import urllib.request

    opener = urllib.request.urlopen if opener is None else opener
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    try:
        with opener(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            total = int(length) if length and length.isdigit() else None
            done = 0
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                chunks.append(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise CorpusError(f"could not download {url}: {reason}. Put the file at {dest} to use a local copy") from None
    got = digest.hexdigest()
    if got != sha256:
        raise CorpusError(f"download of {url} is corrupt: sha256 {got}, expected {sha256}; nothing was saved")
    data = b"".join(chunks)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data


# ---- the registry -------------------------------------------------------------------------------
def _pydoc_topics() -> str:
    from pydoc_data import topics

    return "\n\n".join(topics.topics[key].strip("\n") for key in sorted(topics.topics)) + "\n"


_STDLIB_SKIP = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


def _stdlib_sources(max_chars: int = STDLIB_MAX_CHARS) -> str:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        (p for p in root.rglob("*.py") if not _STDLIB_SKIP.intersection(p.relative_to(root).parts[:-1])
         and not p.name.startswith("test_")),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    parts, size = [], 0
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        block = f"# ---- {path.relative_to(root).as_posix()} ----\n{source.rstrip()}\n\n"
        if size + len(block) > max_chars:
            break
        parts.append(block)
        size += len(block)
    return "".join(parts)


CORPORA: dict[str, CorpusSpec] = {
    "tinyshakespeare": CorpusSpec(
        "tinyshakespeare",
        "Tiny Shakespeare (char-rnn): 1.1 MB of plays, 65 distinct characters",
        filename="tinyshakespeare.txt",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
    "pydoc": CorpusSpec("pydoc", "Python's documentation topics (pydoc_data.topics), about 0.5 MB",
                        build=_pydoc_topics),
    "stdlib": CorpusSpec("stdlib", f"the Python {sys.version_info.major}.{sys.version_info.minor} standard library's "
                         f"sources, tests excluded, at most {STDLIB_MAX_CHARS:,} characters", build=_stdlib_sources),
}


def load_named(spec: CorpusSpec, *, progress: ProgressFn | None = None, opener: Callable | None = None,
               allow_download: bool = True) -> Corpus:
    if spec.build is not None:
        text = spec.build()
        return Corpus(spec.name, text, sha256_bytes(text.encode("utf-8")))
    path = data_dir() / spec.filename
    if path.is_file():
        data = path.read_bytes()
        got = sha256_bytes(data)
        if got != spec.sha256:
            raise CorpusError(f"{path}: sha256 {got} does not match the {spec.name} corpus ({spec.sha256}); "
                              "delete the file to download it again")
    elif not allow_download:
        raise CorpusError(f"{spec.name}: {path} does not exist (download it from {spec.url})")
    else:
        data = download(spec.url, path, spec.sha256, progress=progress, opener=opener)
    return Corpus(spec.name, decode_text(data, str(path)), spec.sha256)


def load_corpus(name_or_path: str | os.PathLike, encoding: str = "utf-8", *, progress: ProgressFn | None = None,
                opener: Callable | None = None, allow_download: bool = True) -> Corpus:
    """A registry name (``CORPORA``) or the path of any text file -> Corpus.  Names win over paths;
    write ``./tinyshakespeare`` for a file of that name."""
    key = str(name_or_path)
    if key in CORPORA:
        return load_named(CORPORA[key], progress=progress, opener=opener, allow_download=allow_download)
    return read_text_file(name_or_path, encoding)


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """(train, validation): the last ``val_fraction`` of the characters is validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    cut = len(text) - int(round(len(text) * val_fraction))
    return text[:cut], text[cut:]
