"""`rlm-tui ask`, run as a real command against an Ollama-protocol server at OLLAMA_HOST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_llm_server import Reply

RLM_TUI = str(Path(sys.executable).with_name("rlm-tui"))


def ask(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([RLM_TUI, "ask", *args], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def server_env(ollama):
    return {"OLLAMA_HOST": ollama.fake.url}


def test_ask_with_context_file(ollama, server_env, tmp_path):
    ctx = tmp_path / "doc.txt"
    ctx.write_text("alpha\nbeta\ngamma\n")
    ollama.fake.script("qwen3:4b", [
        Reply(text="```repl\nprint(context.splitlines()[1])\n```\n"),
        Reply(text="FINAL(beta)"),
    ])
    p = ask("Which is the second line?", "--context", str(ctx), "--model", "qwen3:4b",
            env_extra=server_env)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "beta\n"
    assert "beta" in ollama.fake.requests[1]["body"]["messages"][-1]["content"]


def test_ask_without_context_json(ollama, server_env):
    ollama.fake.script("m", [Reply(text="```repl\nprint(17 * 23)\n```\n"),
                             Reply(text="FINAL(391)")])
    ollama.fake.script("s", ["unused"])
    p = ask("What is 17 * 23?", "-m", "m", "-r", "s", "--max-iterations", "4", "--json",
            env_extra=server_env)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["answer"] == "391"
    assert data["status"] == "completed"
    assert data["iterations"] == 2
    assert data["usage"]["total_prompt_tokens"] > 0
    assert data["iteration_log"][0]["code_blocks"][0]["output"] == "391\n"
    assert "None" in ollama.fake.requests[0]["body"]["messages"][0]["content"]


def test_ask_unknown_model_fails_with_one_line(ollama, server_env):
    p = ask("q", "-m", "ghost-model", env_extra=server_env)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr.count("\n") == 1 and "ghost-model" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("args,message", [
    (["--context", "/no/such/file.txt"], "no such file"),
    (["--context", sys.executable], "looks binary"),
    (["-m", "openai:gpt-4o-mini"], "OPENAI_API_KEY is not set"),
])
def test_ask_bad_settings_exit_2(args, message):
    p = ask("q", *args, env_extra={"OPENAI_API_KEY": ""})
    assert p.returncode == 2
    assert message in p.stderr and "Traceback" not in p.stderr


def run_cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([RLM_TUI, *args], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_a_model_flag_before_ask_means_the_same_as_after(ollama, server_env):
    ollama.fake.script("qwen3:4b", [Reply(text="FINAL(from qwen)"), Reply(text="FINAL(again)")])
    before = run_cli("-m", "qwen3:4b", "ask", "q", env_extra=server_env)
    after = run_cli("ask", "q", "-m", "qwen3:4b", env_extra=server_env)
    assert (before.returncode, before.stdout) == (0, "from qwen\n"), before.stderr
    assert (after.returncode, after.stdout) == (0, "again\n"), after.stderr
    assert [r["model"] for r in ollama.fake.requests] == ["qwen3:4b", "qwen3:4b"]


@pytest.mark.parametrize("argv", [["-m", "qwen3:4b", "bench", "--no-tui"], ["-m", "x", "history"],
                                  ["--max-iterations", "3", "bench"], ["-c", "f", "export", "f"]])
def test_model_flags_where_they_mean_nothing_are_refused(argv):
    p = run_cli(*argv)
    assert p.returncode == 2
    assert "does not apply to" in p.stderr and p.stderr.count("\n") == 1
    assert "Traceback" not in p.stderr


def test_version():
    p = run_cli("--version")
    assert p.returncode == 0 and p.stdout.startswith("rlm-tui ") and p.stdout.strip()[-1].isdigit()


def test_a_closed_pipe_ends_quietly(ollama, server_env, tmp_path):
    ollama.fake.script("m", [Reply(text="```repl\nFINAL('y' * 300000)\n```\n")])
    err = tmp_path / "err.txt"
    p = subprocess.run(["bash", "-c", f'"{RLM_TUI}" ask q -m m 2>"{err}" | head -c 1 >/dev/null; '
                                      'echo "${PIPESTATUS[0]}"'],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env={**os.environ, **server_env})
    assert p.stdout.strip() == "141"
    assert err.read_text() == ""


def test_demo_headless_finds_the_number_and_says_so(ollama, server_env):
    """The model reads the haystack with code; the verdict compares with the hidden number."""
    def model(msgs):
        if not any(m["role"] == "assistant" for m in msgs):
            return Reply(text="```repl\nimport re\nhits = re.findall(r'\\b\\d{7}\\b', "
                              "context)\nprint(hits)\n```\n")
        return Reply(text="FINAL(" + msgs[-1]["content"].split("'")[1] + ")")

    ollama.fake.script("qwen3:0.6b", model)
    p = run_cli("demo", "--no-tui", "-m", "qwen3:0.6b", "--seed", "7", env_extra=server_env)
    from rlm_engine.bench.tasks import make_task
    expected = make_task("niah", 10_000, 7, 0).expected
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("✓ found it") and expected in p.stdout
    assert "10,000 lines" in p.stderr


def test_demo_headless_says_when_the_model_missed(ollama, server_env):
    ollama.fake.script("m", [Reply(text="FINAL(1234567)")])
    p = run_cli("demo", "--no-tui", "-m", "m", "--seed", "7", env_extra=server_env)
    assert p.returncode == 1 and p.stdout.startswith("✗ not found")


@pytest.mark.parametrize("args,says", [
    (["--max-iterations", "0"], "--max-iterations: takes a whole number of at least 1, not 0"),
    (["--max-iterations", "-5"], "--max-iterations: takes a whole number of at least 1, not -5"),
    (["--max-tokens", "0"], "--max-tokens: takes a whole number of at least 1, not 0"),
    (["--max-timeout", "0"], "--max-timeout: takes a number of seconds above 0"),
    (["--max-timeout", "nan"], "--max-timeout: takes a number of seconds above 0"),
    (["--temperature", "-1"], "--temperature: takes a number of at least 0, not -1"),
    (["--memory-mb", "10"], "--memory-mb: takes a whole number of megabytes, at least 256"),
    (["--block-timeout", "-2"], "--block-timeout: takes a number of seconds above 0"),
    (["--max-depth", "0"], "--max-depth: takes a whole number of at least 1, not 0"),
    (["--max-concurrent-subcalls", "many"], "--max-concurrent-subcalls: takes a whole number"),
])
def test_bad_numbers_stop_at_parse_time_with_one_line(args, says):
    p = ask("q", *args)
    assert p.returncode == 2 and p.stdout == ""
    assert says in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_a_question_that_is_not_utf8_gets_one_line():
    p = subprocess.run([RLM_TUI.encode(), b"ask", b"caf\xe9?"], capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    err = p.stderr.decode()
    assert p.returncode == 2 and "is not valid UTF-8 (byte e9 at character 3)" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bench_numbers_are_checked_too():
    p = subprocess.run([RLM_TUI, "bench", "--no-tui", "--trials", "0"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "--trials: takes a whole number of at least 1" in p.stderr


def test_run_limits_reach_the_engine_from_flags_and_config(ollama, server_env, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        "[run]\nblock_timeout = 1.5\nmemory_mb = 1024\nmax_depth = 0\n"
        "max_concurrent_subcalls = 3\n")
    ollama.fake.script("m", [Reply(text="```repl\nimport time\ntime.sleep(30)\n```\n"),
                             Reply(text="FINAL(stopped)")])
    p = ask("q", "-m", "m", "--json", "--max-depth", "2", "--max-timeout", "50",
            env_extra={**server_env, "RLM_TUI_CONFIG_DIR": str(config)})
    assert p.returncode == 0, p.stderr
    # the bad config value is one warning, and the default stands
    assert "config.toml: [run] max_depth takes a whole number of at least 1, not 0" in p.stderr
    data = json.loads(p.stdout)
    block = data["iteration_log"][0]["code_blocks"][0]
    assert block["error"].startswith("TimeoutError: the block ran longer than 1.5 s")
    first = json.loads(Path(data["trajectory"]).read_text().splitlines()[1])
    settings = first["settings"]
    assert (settings["block_timeout"], settings["memory_mb"], settings["max_depth"],
            settings["max_concurrent_subcalls"], settings["max_timeout"]) == (1.5, 1024, 2, 3, 50)


def test_bench_hands_its_run_limits_to_every_trial():
    from rlm_tui.bench_cli import make_runner
    from rlm_tui.cli_args import build_parser

    args = build_parser().parse_args([
        "bench", "--no-local", "--no-cloud-auto", "--ollama", "m", "--memory-mb", "512",
        "--block-timeout", "5", "--max-depth", "2", "--max-timeout", "30",
        "--max-concurrent-subcalls", "2"])
    options = make_runner(args).rlm_options
    assert {k: options[k] for k in ("memory_mb", "block_timeout", "max_depth", "max_timeout",
                                    "max_concurrent_subcalls")} == {
        "memory_mb": 512, "block_timeout": 5.0, "max_depth": 2, "max_timeout": 30.0,
        "max_concurrent_subcalls": 2}


def test_an_unwritable_data_directory_costs_the_file_not_the_answer(ollama, server_env,
                                                                      tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    ollama.fake.script("m", ["FINAL(still answered)"])
    p = ask("q", "-m", "m", env_extra={**server_env, "RLM_TUI_DATA_DIR": str(blocker)})
    assert p.returncode == 0 and p.stdout == "still answered\n"
    assert p.stderr.startswith("rlm-tui: warning: the trajectory could not be written")
    assert p.stderr.count("\n") == 1
