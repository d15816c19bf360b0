"""``rnnlab generate`` and ``rnnlab eval``: output, exit codes and the one-line error messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.tiny_charlm import CYCLE, trained_cycle_model

from rnnlab.cli.main import main
from rnnlab.tasks import charlm


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "cycle.safetensors"
    trained_cycle_model().save(path)
    return str(path)


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- generate --------------------------------------------------------------------------------------
def test_generate_prints_the_prompt_then_the_generated_text(capsys, model_path):
    code, out, err = run_cli(capsys, "generate", model_path, "--prompt", "ab", "--length", 13, "--greedy")
    assert code == 0 and err == ""
    assert out == "ab" + "cd\nabcd\nabcd\n"


def test_generate_and_eval_take_a_run_folder_for_its_model(capsys, model_path, tmp_path):
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_path, run / "model.safetensors")  # as `rnnlab train` leaves it
    code, out, err = run_cli(capsys, "generate", run, "--prompt", "ab", "--length", 13, "--greedy")
    assert code == 0 and err == "" and out == "ab" + "cd\nabcd\nabcd\n"
    (tmp_path / "t.txt").write_text(CYCLE * 20)
    assert run_cli(capsys, "eval", run, tmp_path / "t.txt")[0] == 0
    code, _, err = run_cli(capsys, "generate", tmp_path, "--length", 3)  # a folder without a model
    assert code == 2 and "is a folder, not a checkpoint file" in err


def test_generate_adds_a_final_newline_only_when_missing(capsys, model_path):
    _, out, _ = run_cli(capsys, "generate", model_path, "--prompt", "ab", "--length", 4, "--greedy")
    assert out == "abcd\na\n"
    _, out, _ = run_cli(capsys, "generate", model_path, "--prompt", "ab", "--length", 3, "--greedy")
    assert out == "abcd\n"


def test_generate_with_a_seed_is_reproducible_and_matches_the_python_api(capsys, model_path):
    args = ("generate", model_path, "-p", "abcd\n", "-n", 60, "-t", 3.0, "--seed", 5, "--top-k", 4, "--top-p", 0.99)
    _, first, _ = run_cli(capsys, *args)
    _, second, _ = run_cli(capsys, *args)
    assert first == second
    api = trained_cycle_model().generate("abcd\n", 60, temperature=3.0, seed=5, top_k=4, top_p=0.99)
    assert first.rstrip("\n") == ("abcd\n" + api).rstrip("\n")


def test_generate_without_model_uses_the_bundled_default(capsys, model_path, monkeypatch, tmp_path):
    monkeypatch.setattr(charlm, "DEFAULT_MODEL_PATH", __import__("pathlib").Path(model_path))
    code, out, _ = run_cli(capsys, "generate", "-p", "ab", "-n", 3, "--greedy")
    assert code == 0 and out == "abcd\n"


def test_generate_without_model_and_without_a_bundled_one_says_so(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(charlm, "DEFAULT_MODEL_PATH", tmp_path / "default.safetensors")
    code, out, err = run_cli(capsys, "generate", "-n", 3)
    assert code == 2 and out == ""
    assert "no bundled default model" in err and "rnnlab train" in err and len(err.strip().splitlines()) == 1


def test_generate_names_prompt_characters_outside_the_vocabulary(capsys, model_path):
    code, out, err = run_cli(capsys, "generate", model_path, "--prompt", "abXcYX")
    assert code == 2 and out == ""
    assert "'X'" in err and "'Y'" in err and "vocabulary" in err


@pytest.mark.parametrize("temperature", ["0", "-1", "nan", "inf"])
def test_generate_rejects_a_temperature_that_is_not_positive(capsys, model_path, temperature):
    code, out, err = run_cli(capsys, "generate", model_path, f"--temperature={temperature}")
    assert code == 2 and out == ""
    assert "--temperature must be a number > 0" in err and "--greedy" in err


@pytest.mark.parametrize("option,value", [("--top-k", "0"), ("--top-p", "0"), ("--top-p", "1.5"), ("--length", "-3")])
def test_generate_rejects_bad_options(capsys, model_path, option, value):
    code, _, err = run_cli(capsys, "generate", model_path, f"{option}={value}")
    assert code == 2 and option in err


def test_generate_with_a_missing_or_broken_model_file_is_a_clear_error(capsys, tmp_path):
    code, _, err = run_cli(capsys, "generate", tmp_path / "nope.safetensors")
    assert code == 2 and "no such file" in err
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint at all")
    code, _, err = run_cli(capsys, "generate", broken)
    assert code == 2 and "broken.safetensors" in err


def test_generate_show_probs_prints_one_line_per_character(capsys, model_path):
    code, out, _ = run_cli(capsys, "generate", model_path, "-p", "ab", "-n", 6, "--greedy", "--show-probs")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 6
    position, char, prob = lines[0].split()[:3]
    assert (position, char) == ("0", "c") and float(prob.removeprefix("p=")) > 0.9
    assert "bits" in lines[0] and "'\\n'" in lines[2]


def test_generate_runs_as_a_real_process(model_path, tmp_path):
    """The real command in a subprocess: text on stdout while it runs, exit 0, nothing on stderr."""
    script = "import sys; from rnnlab.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", script, "generate", model_path, "-p", "ab", "-n", "8", "--greedy"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "abcd\nabcd\n" and proc.stderr == ""


# ---- eval ------------------------------------------------------------------------------------------
@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "cycle.txt"
    path.write_text(CYCLE * 50, encoding="utf-8")
    return path


def eval_json(capsys, *argv):
    code, out, err = run_cli(capsys, "eval", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_eval_prints_nats_and_bits_per_character_equal_to_the_python_api(capsys, model_path, text_file):
    want = trained_cycle_model().evaluate(text_file.read_text(encoding="utf-8"))
    code, out, _ = run_cli(capsys, "eval", model_path, text_file)
    assert code == 0
    assert f"{want.nats_per_char:.4f} nats/char" in out and f"{want.bits_per_char:.4f} bits/char" in out
    assert f"{want.num_chars:,} characters predicted" in out
    result = eval_json(capsys, model_path, text_file)
    assert result["nats_per_char"] == pytest.approx(want.nats_per_char, rel=1e-12)
    assert result["num_chars"] == len(CYCLE * 50) - 1


def test_eval_window_size_does_not_change_the_result(capsys, model_path, text_file):
    a = eval_json(capsys, model_path, text_file, "--window", 1)
    b = eval_json(capsys, model_path, text_file, "--window", 37)
    assert abs(a["nats_per_char"] - b["nats_per_char"]) <= 1e-9


def test_eval_names_unknown_characters_or_skips_them(capsys, model_path, tmp_path):
    path = tmp_path / "dirty.txt"
    path.write_text("abcd\nabZcd\nQab", encoding="utf-8")
    code, out, err = run_cli(capsys, "eval", model_path, path)
    assert code == 2 and out == ""
    assert "'Z'" in err and "'Q'" in err and "--skip-unknown" in err
    result = eval_json(capsys, model_path, path, "--skip-unknown")
    clean = trained_cycle_model().evaluate("abcd\nabcd\nab")
    assert result["skipped"] == 2 and result["nats_per_char"] == pytest.approx(clean.nats_per_char, rel=1e-12)


def test_eval_rejects_a_file_that_is_not_utf8_and_accepts_it_with_encoding(capsys, model_path, tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("abcd\nab\xe9cd\n".encode("latin-1"))
    code, _, err = run_cli(capsys, "eval", model_path, path)
    assert code == 2 and "not valid utf-8" in err and "--encoding" in err
    code, _, err = run_cli(capsys, "eval", model_path, path, "--encoding", "latin-1", "--skip-unknown")
    assert code == 0, err


@pytest.mark.parametrize("content,message", [(b"", "empty"), (b"\x00\x01\x02abc", "binary"), (b"a", "at least 2")])
def test_eval_rejects_empty_binary_and_too_short_files(capsys, model_path, tmp_path, content, message):
    path = tmp_path / "f.txt"
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "eval", model_path, path)
    assert code == 2 and out == "" and message in err


def test_eval_with_missing_files_or_a_bad_window_is_a_clear_error(capsys, model_path, text_file, tmp_path):
    code, _, err = run_cli(capsys, "eval", model_path, tmp_path / "missing.txt")
    assert code == 2 and "missing.txt" in err
    code, _, err = run_cli(capsys, "eval", tmp_path / "missing.safetensors", text_file)
    assert code == 2 and "no such file" in err
    code, _, err = run_cli(capsys, "eval", model_path, text_file, "--window", 0)
    assert code == 2 and "--window" in err


def test_eval_of_a_long_file_keeps_the_progress_bar_off_stdout(capsys, model_path, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(CYCLE * 5000, encoding="utf-8")
    result = eval_json(capsys, model_path, path, "--window", 4096)
    assert result["num_chars"] == 25_000 - 1
