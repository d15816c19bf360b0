"""``rnnlab train``: it trains from a file, resumes, and turns bad input into exit code 2 and one clear line."""

from __future__ import annotations

import json

import pytest

from rnnlab.cli.main import main

TEXT = "Now is the winter of our discontent made glorious summer by this sun of York.\n" * 30
FAST = ["--preset", "tiny", "--hidden", "8", "--batch", "4", "--seq-len", "8", "--eval-every", "5", "--quiet"]


def test_train_on_a_text_file_writes_a_model(tmp_path, capsys):
    (tmp_path / "york.txt").write_text(TEXT)
    code = main(["train", str(tmp_path / "york.txt"), *FAST, "--steps", "6", "--out", str(tmp_path / "run")])
    assert code == 0
    out = capsys.readouterr().out
    assert "validation" in out and "done" in out
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_resume_continues_a_run_from_its_folder(tmp_path):
    (tmp_path / "york.txt").write_text(TEXT)
    assert main(["train", str(tmp_path / "york.txt"), *FAST, "--steps", "5", "--out", str(tmp_path / "r")]) == 0
    assert main(["train", str(tmp_path / "york.txt"), "--resume", str(tmp_path / "r"), "--steps", "8", "--quiet"]) == 0
    steps = [json.loads(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
             if json.loads(x)["kind"] == "step"]
    assert steps == list(range(1, 9))


def test_resume_without_a_budget_flag_keeps_the_runs_own_budget(tmp_path):
    (tmp_path / "york.txt").write_text(TEXT)

    def steps():
        return [json.loads(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
                if json.loads(x)["kind"] == "step"]

    assert main(["train", str(tmp_path / "york.txt"), *FAST, "--steps", "4", "--out", str(tmp_path / "r")]) == 0
    # the text is found from the run's record of its corpus
    assert main(["train", "--resume", str(tmp_path / "r" / "last.resume.safetensors"), "--quiet"]) == 0
    assert steps() == [1, 2, 3, 4]  # the small preset's 5 minutes did not replace the saved 4 steps


def test_a_recipe_file_sets_the_configuration_and_unknown_keys_are_errors(tmp_path, capsys):
    (tmp_path / "york.txt").write_text(TEXT)
    (tmp_path / "r.toml").write_text(f'corpus = "{tmp_path / "york.txt"}"\n[train]\nhidden_size = 8\nbatch_size = 4\n'
                                     'seq_len = 8\nsteps = 3\neval_every = 3\nsample_length = 0\n')
    assert main(["train", "--config", str(tmp_path / "r.toml"), "--quiet", "--out", str(tmp_path / "o")]) == 0
    (tmp_path / "bad.toml").write_text("[train]\nhidden = 8\n")
    assert main(["train", "york.txt", "--config", str(tmp_path / "bad.toml")]) == 2
    assert "unknown configuration keys: ['hidden']" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary file (a NUL byte at byte offset 7)"),
    (b"hello \xff world", "not valid utf-8 text: byte 0xff at byte offset 6"),
    (b"too short", "too short"),
])
def test_bad_files_exit_with_code_2_and_one_clear_line(tmp_path, capsys, content, message):
    (tmp_path / "bad.txt").write_bytes(content)
    code = main(["train", str(tmp_path / "bad.txt"), *FAST, "--steps", "2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.startswith("rnnlab train: error:") and err.count("\n") == 1


def test_a_missing_file_and_a_bad_setting_exit_with_code_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "york.txt").write_text(TEXT)
    assert main(["train", str(tmp_path / "york.txt"), "--set", "dropout=2"]) == 2
    assert "dropout must be in" in capsys.readouterr().err


def test_encoding_option_reads_other_encodings(tmp_path):
    (tmp_path / "latin.txt").write_bytes(("Café crème, ça va. " * 40).encode("latin-1"))
    assert main(["train", str(tmp_path / "latin.txt"), "--encoding", "latin-1", *FAST, "--steps", "2",
                 "--out", str(tmp_path / "o")]) == 0


def test_without_numba_training_says_how_to_get_the_faster_kernels(tmp_path, capsys, monkeypatch):
    from rnnlab.engine import jit

    (tmp_path / "york.txt").write_text(TEXT, encoding="utf-8")
    # big enough for the kernels: T * B * H = 32 * 32 * 64 = jit.MIN_WORK
    chatty = ["--preset", "tiny", "--hidden", "64", "--batch", "32", "--seq-len", "32", "--eval-every", "5"]
    assert 32 * 32 * 64 >= jit.MIN_WORK
    monkeypatch.delenv("RNNLAB_JIT", raising=False)
    monkeypatch.setattr(jit, "available", lambda: False)
    assert main(["train", str(tmp_path / "york.txt"), *chatty, "--steps", "2", "--out", str(tmp_path / "a")]) == 0
    assert "pip install 'rnnlab[fast]'" in capsys.readouterr().out
    monkeypatch.setattr(jit, "available", lambda: True)
    assert main(["train", str(tmp_path / "york.txt"), *chatty, "--steps", "2", "--out", str(tmp_path / "b")]) == 0
    assert "rnnlab[fast]" not in capsys.readouterr().out


def test_a_run_too_small_for_the_kernels_does_not_load_them(tmp_path, capsys, monkeypatch):
    """Loading numba costs ~1 s (~6 s on a fresh install); a run of T * B * H < jit.MIN_WORK never uses it."""
    from rnnlab.engine import jit

    (tmp_path / "york.txt").write_text(TEXT, encoding="utf-8")
    chatty = [a for a in FAST if a != "--quiet"]  # 8 * 4 * 8
    monkeypatch.delenv("RNNLAB_JIT", raising=False)
    asked = []
    monkeypatch.setattr(jit, "available", lambda: asked.append(1) or False)
    assert main(["train", str(tmp_path / "york.txt"), *chatty, "--steps", "2", "--out", str(tmp_path / "a")]) == 0
    assert asked == []
    assert "rnnlab[fast]" not in capsys.readouterr().out


def test_paths_with_square_brackets_are_printed_as_they_are(tmp_path, capsys):
    """rich reads [x] as markup: a run folder named "[exp]" printed as "" before (and "[/x]" crashed)."""
    (tmp_path / "[york].txt").write_text(TEXT, encoding="utf-8")
    out_dir = tmp_path / "runs" / "[exp 1]"
    chatty = [a for a in FAST if a != "--quiet"]
    assert main(["train", str(tmp_path / "[york].txt"), *chatty, "--steps", "2", "--out", str(out_dir)]) == 0
    printed = "".join(capsys.readouterr().out.split())  # rich wraps long paths anywhere
    assert "[york].txt" in printed
    assert (out_dir / "model.safetensors").exists()
    assert "runs/[exp1]/model.safetensors" in printed  # the folder's space removed with the wrapping


@pytest.mark.parametrize("cell,words", [("lstm", "training an LSTM 1x8"), ("gru", "training a GRU 1x8"),
                                        ("rnn", "training an RNN 1x8")])
def test_the_first_line_names_the_model_with_its_article(tmp_path, capsys, cell, words):
    (tmp_path / "york.txt").write_text(TEXT)
    code = main(["train", str(tmp_path / "york.txt"), *FAST, "--cell", cell, "--steps", "2", "--out", str(tmp_path / "run")])
    assert code == 0
    assert words in " ".join(capsys.readouterr().out.split())
