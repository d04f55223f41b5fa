"""RunConfig is the one place defaults are written: every other front reads them from it.
And a run learns which strings to keep out of files from the clients themselves."""

import dataclasses

from rlm_engine import RLM, ClientOptions, ReplSession, RunConfig
from rlm_engine.clients.openai_client import OpenAICompatClient
from rlm_engine.clients.client_set import ClientSet
from rlm_tui.cli_args import build_parser, resolve_model_args
from rlm_tui.session import settings_from_args


def test_every_front_takes_its_defaults_from_run_config():
    defaults = RunConfig()
    assert RLM(model="m").config == defaults.with_(model="m")
    assert ClientOptions() == ClientOptions.from_config(defaults)
    repl = ReplSession()
    assert (repl.memory_mb, repl.block_timeout) == (defaults.memory_mb, defaults.block_timeout)
    # the command line with no flags gives the default config, for ask and for the app
    for argv in ([], ["ask", "q"]):
        args = resolve_model_args(build_parser().parse_args(argv))
        assert settings_from_args(args) == defaults


def test_a_config_is_frozen_and_clamps_what_the_loop_needs():
    config = RunConfig(max_iterations=0, max_depth=-3)
    assert (config.max_iterations, config.max_depth) == (1, 1)
    try:
        config.model = "x"  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("RunConfig should be frozen")
    assert config.with_(temperature=0.0).temperature == 0.0
    assert config.temperature == RunConfig.temperature


def test_the_client_set_collects_secrets_from_the_clients_not_their_insides():
    key = "sk-explicit-0123456789"  # given in code, in no environment variable
    cloud = OpenAICompatClient("gpt", provider="openai", api_key=key, base_url=None)
    clients = ClientSet(RunConfig(model="local-model"), recursive=cloud)
    assert clients.root.secrets() == ()  # an Ollama client holds no key
    assert clients.secrets() == [key]
    assert clients.for_spec(cloud.label) is cloud and clients.all() == [clients.root, cloud]
