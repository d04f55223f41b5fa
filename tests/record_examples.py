"""Record the example runs shipped with rlm-tui (rlm_tui/examples/) from the loopback fake
server. They are labelled as examples: the models are called "example-root" and
"example-sub", and the question says so. Run: python tests/record_examples.py"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fake_llm_server import FakeLLMServer, Reply  # noqa: E402

from rlm_engine import RLM  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "rlm_tui" / "examples"

LOG = "\n".join(
    f"2026-03-0{1 + i % 9} 10:{i % 60:02d}:00 {lvl} {svc}: {msg}"
    for i, (lvl, svc, msg) in enumerate(
        [("INFO", "api", "request served in 12 ms"), ("WARN", "db", "slow query 840 ms"),
         ("ERROR", "api", "timeout talking to payments"), ("INFO", "worker", "job 17 done"),
         ("ERROR", "db", "connection reset by peer"), ("INFO", "api", "request served in 9 ms")]
        * 400))

NEEDLE = [
    Reply(text="The log is big, so I will look at its shape first.\n```repl\n"
               "lines = context.splitlines()\nprint(len(lines), 'lines')\nprint(lines[:3])\n```\n",
          thinking="I should not read 2,400 lines myself. Let me check the structure.",
          chunk_size=6, delay=0.03, prompt_tokens=812, completion_tokens=61),
    Reply(text="Now count the errors per service with plain Python, and ask the sub-model to "
               "explain the most common one.\n```repl\nfrom collections import Counter\n"
               "errors = Counter(l.split()[3].rstrip(':') for l in lines if ' ERROR ' in l)\n"
               "print(errors.most_common())\nworst = errors.most_common(1)[0][0]\n"
               "sample = next(l for l in lines if f'ERROR {worst}:' in l)\n"
               "why = llm_query('In one sentence, what does this log line suggest? ' + sample)\n"
               "print(why)\n```\n",
          chunk_size=6, delay=0.03, prompt_tokens=1033, completion_tokens=118),
    Reply(text="FINAL(There are 800 errors: 400 from the api service (timeouts talking to "
               "payments) and 400 from db (connections reset by peer).)",
          chunk_size=6, delay=0.03, prompt_tokens=1290, completion_tokens=44),
]

RECOVER = [
    Reply(text="```repl\ntotal = sum(int(x) for x in context.split(','))\nprint(totl)\n```\n",
          chunk_size=6, delay=0.03, prompt_tokens=640, completion_tokens=30),
    Reply(text="A typo: `totl`. Fixing it.\n```repl\nprint(total)\n```\n",
          chunk_size=6, delay=0.03, prompt_tokens=760, completion_tokens=25),
    Reply(text="FINAL(The numbers add up to 5050.)", chunk_size=6, delay=0.03,
          prompt_tokens=820, completion_tokens=12),
]


async def record(name: str, prompt: str, context: str, script: list, sub: list) -> None:
    server = FakeLLMServer({"example-root": script, "example-sub": sub}).start()
    os.environ["OLLAMA_HOST"] = server.url
    tmp = Path(tempfile.mkdtemp())
    rlm = RLM(model="example-root", recursive_model="example-sub", trajectory_dir=tmp)
    result = await rlm.acompletion(prompt, context)
    await rlm.aclose()
    server.stop()
    assert result.ok, result.error
    (src,) = tmp.glob("*.jsonl")
    shutil.copyfile(src, OUT / name)
    print(f"{OUT / name}: {result.iterations} iterations, answer {result.answer!r}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(
        "example-1-log-errors.jsonl",
        "[example run] Which services log errors, and how many? (a 2,400-line log)", LOG,
        NEEDLE, [Reply(text="The api service times out when it calls the payments service.",
                       chunk_size=8, delay=0.03, prompt_tokens=40, completion_tokens=14)]))
    asyncio.run(record(
        "example-2-fix-an-error.jsonl",
        "[example run] What do these numbers add up to?", ",".join(map(str, range(1, 101))),
        RECOVER, []))


if __name__ == "__main__":
    main()
