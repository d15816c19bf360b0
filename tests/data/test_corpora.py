"""Corpora: the registry (local copy, verified download), any text file, clear errors, the split."""

from __future__ import annotations

import hashlib
import io
import urllib.error

import pytest

from rnnlab.data import corpora
from rnnlab.data.corpora import CORPORA, CorpusError, CorpusSpec, data_dir, decode_text, load_corpus, split_text

SMALL = "To be, or not to be, that is the question.\n".encode()
SMALL_SHA = hashlib.sha256(SMALL).hexdigest()


@pytest.fixture
def registry(monkeypatch, tmp_path):
    """A registry entry for a small made-up corpus, its data dir and its 'remote' file."""
    remote = tmp_path / "remote" / "hamlet.txt"
    remote.parent.mkdir()
    remote.write_bytes(SMALL)
    spec = CorpusSpec("hamlet", "a line", filename="hamlet.txt", url=remote.as_uri(), sha256=SMALL_SHA)
    monkeypatch.setitem(CORPORA, "hamlet", spec)
    home = tmp_path / "data"
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(home))
    return spec, home


def test_the_tinyshakespeare_entry_names_its_url_and_sha256():
    spec = CORPORA["tinyshakespeare"]
    assert spec.url == "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    assert spec.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    assert spec.filename == "tinyshakespeare.txt"


def test_data_dir_comes_from_the_environment_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "a"))
    assert data_dir() == tmp_path / "a"
    monkeypatch.delenv("RNNLAB_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "rnnlab"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "rnnlab"


def test_a_local_copy_in_the_data_dir_is_used_without_downloading(registry):
    spec, home = registry
    home.mkdir()
    (home / "hamlet.txt").write_bytes(SMALL)

    def no_network(*a, **k):
        raise AssertionError("must not download")

    corpus = corpora.load_corpus("hamlet", opener=no_network)
    assert corpus.text == SMALL.decode() and corpus.sha256 == SMALL_SHA and corpus.name == "hamlet"


def test_a_local_copy_with_the_wrong_sha256_is_an_error_that_says_so(registry):
    _, home = registry
    home.mkdir()
    (home / "hamlet.txt").write_bytes(SMALL + b"extra")
    with pytest.raises(CorpusError, match="sha256 .* does not match"):
        load_corpus("hamlet")


def test_a_missing_corpus_is_downloaded_verified_and_kept_with_progress(registry):
    _, home = registry
    calls = []
    corpus = load_corpus("hamlet", progress=lambda done, total: calls.append(done))
    assert corpus.text == SMALL.decode()
    assert (home / "hamlet.txt").read_bytes() == SMALL
    assert calls and calls[-1] == len(SMALL)
    assert [p.name for p in home.iterdir()] == ["hamlet.txt"]  # no temporary files left


def test_a_download_with_the_wrong_sha256_is_rejected_and_nothing_is_saved(registry, monkeypatch):
    spec, home = registry
    monkeypatch.setitem(CORPORA, "hamlet", CorpusSpec("hamlet", "", "hamlet.txt", spec.url, "0" * 64))
    with pytest.raises(CorpusError, match="corrupt: sha256"):
        load_corpus("hamlet")
    assert not (home / "hamlet.txt").exists()
    assert list(home.iterdir()) == []


def test_a_download_uses_a_timeout_and_the_network_failure_is_explained(registry):
    seen = {}

    def failing_opener(url, timeout):
        seen["timeout"] = timeout
        raise urllib.error.URLError("network unreachable")

    with pytest.raises(CorpusError, match="could not download .*network unreachable.*local copy"):
        load_corpus("hamlet", opener=failing_opener)
    assert seen["timeout"] > 0


def test_a_monkeypatched_opener_streams_the_bytes(registry):
    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(SMALL))}

    totals = []
    corpus = load_corpus("hamlet", opener=lambda url, timeout: Response(SMALL),
                         progress=lambda done, total: totals.append(total))
    assert corpus.sha256 == SMALL_SHA and totals[-1] == len(SMALL)


def test_allow_download_false_names_the_missing_file(registry):
    with pytest.raises(CorpusError, match="hamlet.txt does not exist"):
        load_corpus("hamlet", allow_download=False)


# ---- any text file ------------------------------------------------------------------------------
def test_any_utf8_text_file_loads_with_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "notes.txt"
    data = "Grüße, 世界 — naïve café ☕\n".encode()
    path.write_bytes(data)
    corpus = load_corpus(path)
    assert corpus.text == data.decode() and corpus.sha256 == hashlib.sha256(data).hexdigest()


def test_an_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match="empty.txt: the file is empty"):
        load_corpus(tmp_path / "empty.txt")


def test_a_binary_file_is_an_error_naming_the_nul_byte_offset(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"PK\x03\x04abc\x00\x00\x01")
    with pytest.raises(CorpusError, match=r"binary file \(a NUL byte at byte offset 7\)"):
        load_corpus(tmp_path / "x.bin")


def test_non_utf8_text_names_the_byte_offset_and_suggests_encoding(tmp_path):
    (tmp_path / "latin.txt").write_bytes("caf".encode() + b"\xe9 au lait")
    with pytest.raises(CorpusError, match=r"byte 0xe9 at byte offset 3.*--encoding"):
        load_corpus(tmp_path / "latin.txt")
    assert load_corpus(tmp_path / "latin.txt", encoding="latin-1").text == "café au lait"


def test_an_unknown_encoding_is_a_clear_error(tmp_path):
    (tmp_path / "a.txt").write_text("abc")
    with pytest.raises(CorpusError, match="unknown encoding 'klingon'"):
        load_corpus(tmp_path / "a.txt", encoding="klingon")


def test_utf16_files_with_nul_bytes_load_with_their_encoding(tmp_path):
    (tmp_path / "u16.txt").write_bytes("hello".encode("utf-16"))
    assert load_corpus(tmp_path / "u16.txt", encoding="utf-16").text == "hello"


def test_a_byte_order_mark_is_not_part_of_the_text():
    assert decode_text("\ufeffabc".encode(), "x") == "abc"


def test_a_missing_file_lists_the_corpus_names(tmp_path):
    with pytest.raises(CorpusError, match="no such file.*tinyshakespeare"):
        load_corpus(tmp_path / "nope.txt")


def test_a_folder_is_not_a_text_file(tmp_path):
    with pytest.raises(CorpusError, match="is a folder"):
        load_corpus(tmp_path)


# ---- corpora that ship with Python ---------------------------------------------------------------
def test_pydoc_topics_are_joined_in_sorted_key_order_and_deterministic():
    from pydoc_data import topics

    a, b = load_corpus("pydoc"), load_corpus("pydoc")
    assert a.text == b.text and a.sha256 == b.sha256
    keys = sorted(topics.topics)
    assert a.text.startswith(topics.topics[keys[0]].strip("\n")[:50])
    assert len(a.text) > 100_000


def test_stdlib_sources_are_sorted_capped_and_exclude_tests():
    text = corpora._stdlib_sources(max_chars=300_000)
    assert text == corpora._stdlib_sources(max_chars=300_000)
    assert 50_000 < len(text) <= 300_000  # a prefix of the sorted files that fits
    headers = [line[7:-5] for line in text.splitlines() if line.startswith("# ---- ") and line.endswith(" ----")]
    assert headers == sorted(headers) and len(headers) > 3
    assert not any("/test/" in h or "/tests/" in h or h.split("/")[-1].startswith("test_") for h in headers)


# ---- the split ----------------------------------------------------------------------------------
def test_the_last_ten_percent_is_validation():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    train, val = split_text(text)
    assert train + val == text and len(val) == 100 and val == text[-100:]
    assert split_text(text, 0.25)[1] == text[-250:]
    with pytest.raises(ValueError):
        split_text(text, 1.0)
