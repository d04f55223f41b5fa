"""rlm_engine: the headless Recursive Language Model engine behind rlm-tui.

It never imports a UI toolkit; everything a UI shows arrives as typed events (events.py).
"""

from .clients import ChatClient, ClientOptions, make_client
from .config import RunConfig
from .context import ContextError, check_context_path
from .errors import BackendError, ConfigError, ReplError, RLMError, WorkerDied
from .events import Event
from .loop import Run
from .repl.sandbox import SandboxConfig, SandboxState
from .repl.session import ContextSource, ReplSession
from .rlm import RLM
from .specs import ModelSpec, parse_spec
from .state import RLMResult, RunState
from .trajectory import TrajectoryWriter, load_trajectory
from .usage import ModelUsage, Usage, UsageSummary

__all__ = [
    "RLM", "RLMResult", "Run", "RunConfig", "RunState", "Event", "ChatClient", "ClientOptions",
    "make_client", "ModelSpec", "parse_spec", "ReplSession", "ContextSource",
    "ContextError", "check_context_path", "RLMError", "BackendError", "ConfigError",
    "ReplError", "TrajectoryWriter", "load_trajectory", "Usage", "ModelUsage", "UsageSummary",
    "WorkerDied", "SandboxConfig", "SandboxState",
]
__version__ = "0.1.0"
