"""The engine's exceptions. Each message is one line a person can act on."""


class RLMError(Exception):
    """Base class for errors the engine reports to users."""


class ConfigError(RLMError):
    """A bad setting: unknown provider, missing API key, malformed spec."""


class BackendError(RLMError):
    """A model backend failed: unreachable, unknown model, auth, or died mid-reply.

    ``partial`` holds whatever text had streamed before the failure.
    """

    def __init__(self, message: str, *, partial: str = "", model: str = "") -> None:
        super().__init__(message)
        self.partial = partial
        self.model = model


class ReplError(RLMError):
    """The REPL worker could not be started or talked to."""
