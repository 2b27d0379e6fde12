"""The server CPU a streamed turn costs, and each delta it relays: `python -m bench.relay DATABASE_URL [TURNS]`
(a figure to follow, with no bound, so not part of `make bench`: docs/performance.md has its figures).

Concurrent streamed turns against real gunicorn (2 workers) and the loopback streaming agent, twice: with short
replies and with long ones (the same turns, SHORT and LONG chunks each). The CPU time (utime + stime, /proc) the
workers spend meanwhile is read before and after. What the long replies cost more, over the deltas they relay more,
is the CPU of one relayed delta (the agent's chunk read, the event kept, the journal's write, the SSE frame sent);
the short replies' CPU over their turns is a turn's own cost with SHORT deltas in it. Rounds alternate the two,
figures are medians.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from urllib.parse import urlsplit

from bench.aclient import events, request
from bench.peer_cpu import cpu_seconds, worker_pids
from bench.turns import agent_process, serving

SHORT, LONG = 10, 110  # chunks of the agent's reply
GAP_S = 0.02  # between the agent's chunks


async def _new_sessions(host: str, port: int, count: int) -> list[str]:
    created = await asyncio.gather(*(request(host, port, "POST", "/api/v1/sessions", {}) for _ in range(count)))
    return [json.loads(body)["session_id"] for _, _, body in created]


async def _deltas_of_a_turn(host: str, port: int, session_id: str) -> int:
    stream = events(host, port, "POST", "/api/v1/chat", {"session_id": session_id, "message": "hi"})
    return sum([name == "delta" async for name, _, _ in stream])


def _round(database_url: str, chunks: int, turns: int) -> tuple[int, float]:
    """`turns` streamed turns of `chunks` deltas at once: (deltas received in all, the workers' CPU seconds)."""
    with (
        agent_process(str(chunks), str(GAP_S)) as agent_url,
        serving(database_url, CHAT_AGENT_URL=f"{agent_url}/stream") as server,
    ):
        host, port = urlsplit(server.base_url).hostname, urlsplit(server.base_url).port

        async def run() -> tuple[int, float]:
            sessions = await _new_sessions(host, port, turns)
            pids = worker_pids(server)
            before = cpu_seconds(pids)
            deltas = await asyncio.gather(*(_deltas_of_a_turn(host, port, session_id) for session_id in sessions))
            await asyncio.sleep(0.5)  # the journal's last writes and the turns' endings
            return sum(deltas), cpu_seconds(pids) - before

        return asyncio.run(run())


def relay_cpu(database_url: str, turns: int = 50, rounds: int = 3) -> dict:
    """CPU ms per relayed delta and per turn (median of `rounds`), and the deltas each round relayed."""
    per_delta, per_turn, relayed = [], [], []
    for _ in range(rounds):
        short_deltas, short_cpu = _round(database_url, SHORT, turns)
        long_deltas, long_cpu = _round(database_url, LONG, turns)
        relayed.append((short_deltas, long_deltas))
        per_delta.append((long_cpu - short_cpu) / (long_deltas - short_deltas) * 1000)
        per_turn.append(short_cpu / turns * 1000)
    return {
        "cpu_ms_per_delta": round(statistics.median(per_delta), 4),
        "cpu_ms_per_turn_of_10_deltas": round(statistics.median(per_turn), 3),
        "rounds_ms_per_delta": [round(value, 4) for value in per_delta],
        "deltas": relayed,
        "expected_deltas": (turns * SHORT, turns * LONG),
    }


if __name__ == "__main__":
    print(json.dumps(relay_cpu(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50)))
