"""The engine's exceptions. Each message is one line a person can act on."""

from typing import Literal

# What went wrong with a backend, for code (the message is for people):
#   unreachable  no connection        timeout     no answer in time
#   auth         key rejected         not_found   no such model
#   rate_limit   429                  status      another HTTP error status
#   dropped      the stream broke mid-reply       other       anything else
BackendErrorKind = Literal["unreachable", "timeout", "auth", "not_found", "rate_limit",
                           "status", "dropped", "other"]


class RLMError(Exception):
    """Base class for errors the engine reports to users."""


class ConfigError(RLMError):
    """A bad setting: unknown provider, missing API key, malformed spec."""


class BackendError(RLMError):
    """A model backend failed: unreachable, unknown model, auth, or died mid-reply.

    ``partial`` holds whatever text had streamed before the failure; ``kind`` says what
    went wrong (the benchmark skips a model that is unreachable, unknown or not allowed).
    """

    def __init__(self, message: str, *, partial: str = "", model: str = "",
                 kind: BackendErrorKind = "other") -> None:
        super().__init__(message)
        self.partial = partial
        self.model = model
        self.kind: BackendErrorKind = kind


class ReplError(RLMError):
    """The REPL worker could not be started or talked to."""


class WorkerDied(ReplError):
    """The REPL worker process ended while the engine was talking to it (a crash, a kill,
    out of memory). Callers may retry: the session restarts the worker on its next use."""

    def __init__(self, message: str = "the REPL worker died; it is restarted on next use") -> None:
        super().__init__(message)
