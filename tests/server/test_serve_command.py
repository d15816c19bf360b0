"""``rnnlab serve``: starts, answers on 127.0.0.1, and refuses bad options with one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rnnlab.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"


def test_serve_is_a_subcommand_with_help(capsys):
    try:
        main(["serve", "--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "127.0.0.1" in out and "--model" in out and "--open" in out


def test_a_missing_model_file_is_a_user_error(capsys):
    assert main(["serve", "--model", "/nonexistent/model.safetensors"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_port_in_use_is_a_user_error(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port), "--no-default-model"]) == 2
    assert "try another --port" in capsys.readouterr().err


def test_serve_starts_on_loopback_and_answers(tiny_model_path):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab.cli.main", "serve", "--port", "0", "--model", str(tiny_model_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and "http://" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError(proc.stderr.read())
        assert line.startswith("rnnlab serve: http://127.0.0.1:"), line
        url = line.split()[2]
        health = httpx.get(url + "api/health", timeout=10).json()
        ids = [m["id"] for m in httpx.get(url + "api/models", timeout=10).json()["models"]]
        assert health["status"] == "ok" and "tiny" in ids  # --model is listed beside the bundled default
        assert health["models_available"] == len(ids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
