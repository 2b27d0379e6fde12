"""A bounded write storm over real HTTP: appends, history reads and racing get-or-creates, every answer tallied."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

API = "/api/v1"


@dataclass
class Tally:
    """What the clients sent and what the servers answered."""

    sent: int = 0
    acknowledged: dict[int, tuple[str, str]] = field(default_factory=dict)  # message id -> (session, content)
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # "status body" of every 5xx
    transport_errors: Counter = field(default_factory=Counter)
    created: Counter = field(default_factory=Counter)  # racing id -> how many 201 answers
    misordered_pages: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self) -> dict:
        """The tally as plain numbers for the report."""
        return {
            "requests_sent": self.sent,
            "acknowledged_messages": len(self.acknowledged),
            "status_counts": dict(sorted((str(k), v) for k, v in self.statuses.items())),
            "responses_5xx": len(self.server_errors),
            "transport_errors": sum(self.transport_errors.values()),
        }


class Storm:
    """`clients` threads hitting `base_urls` (round robin) for `duration_s`; stop() ends it early."""

    def __init__(
        self,
        base_urls: list[str],
        *,
        clients: int = 16,
        duration_s: float = 8.0,
        shared: str = "shared",
        own_sessions: int = 4,
        tag: str = "load",
        request_timeout_s: float = 15.0,
    ):
        self.base_urls = base_urls
        self.clients = clients
        self.duration_s = duration_s
        self.shared = shared
        self.own_sessions = own_sessions
        self.tag = tag
        self.request_timeout_s = request_timeout_s
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = 0.0

    def sessions(self) -> list[str]:
        """Ids of the sessions the clients write to (shared and own; the racing ones come from the tally)."""
        own = [f"{self.tag}-c{c}-s{s}" for c in range(self.clients) for s in range(self.own_sessions)]
        return [self.shared, *own]

    def start(self) -> Storm:
        """Create the sessions, then start the client threads."""
        base = self.base_urls[0]
        for sid in self.sessions():
            assert requests.post(f"{base}{API}/sessions", json={"session_id": sid}, timeout=15).status_code in (
                200,
                201,
            )
        self._started = time.monotonic()
        self._threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Ask the clients to stop; returns when the last has finished its request."""
        self._stop.set()
        self.join()

    def join(self) -> None:
        """Wait for the clients (each stops at the deadline; bounded by the request timeout)."""
        for thread in self._threads:
            thread.join(self.duration_s + self.request_timeout_s + 5)
            assert not thread.is_alive(), "a load client did not stop"

    def run(self) -> Tally:
        """Start, wait for the deadline, return the tally."""
        self.start().join()
        return self.tally

    def _racing_id(self) -> str:
        # All clients move to a new id every 250 ms, so each id is get-or-created by several at once.
        return f"{self.tag}-race-{int((time.monotonic() - self._started) * 4)}"

    def _client(self, number: int) -> None:
        rng = random.Random(number)
        http = requests.Session()
        own = [f"{self.tag}-c{number}-s{s}" for s in range(self.own_sessions)]
        deadline = self._started + self.duration_s
        seq = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            base = self.base_urls[seq % len(self.base_urls)]
            seq += 1
            content = f"{self.tag} c{number} n{seq} ✓"
            pick = rng.random()
            if pick < 0.3:
                self._append(http, base, self.shared, content)
            elif pick < 0.6:
                self._append(http, base, rng.choice(own), content)
            elif pick < 0.8:
                self._read(http, base, rng.choice([self.shared, *own]))
            else:
                sid = self._racing_id()
                response = self._send(http, "POST", f"{base}{API}/sessions", json={"session_id": sid})
                if response is not None and response.status_code == 201:
                    with self.tally.lock:
                        self.tally.created[sid] += 1
                if response is not None and response.status_code in (200, 201):
                    self._append(http, base, sid, content)
        http.close()

    def _append(self, http, base: str, sid: str, content: str) -> None:
        body = {"role": "user", "content": content, "metadata": {"client": "storm"}}
        response = self._send(http, "POST", f"{base}{API}/sessions/{sid}/messages", json=body)
        if response is not None and response.status_code == 201:
            message = response.json()
            assert message["session_id"] == sid and message["content"] == content, message
            with self.tally.lock:
                self.tally.acknowledged[message["id"]] = (sid, content)

    def _read(self, http, base: str, sid: str) -> None:
        response = self._send(http, "GET", f"{base}{API}/sessions/{sid}/messages", params={"limit": 50})
        if response is not None and response.status_code == 200:
            ids = [m["id"] for m in response.json()["messages"]]
            if ids != sorted(ids) or len(set(ids)) != len(ids):
                with self.tally.lock:
                    self.tally.misordered_pages += 1

    def _send(self, http, method: str, url: str, **kwargs) -> requests.Response | None:
        with self.tally.lock:
            self.tally.sent += 1
        try:
            response = http.request(method, url, timeout=self.request_timeout_s, **kwargs)
        except requests.RequestException as exc:
            with self.tally.lock:
                self.tally.transport_errors[type(exc).__name__] += 1
            time.sleep(0.05)  # the server is down: do not spin
            return None
        with self.tally.lock:
            self.tally.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.tally.server_errors.append(f"{response.status_code} {response.text[:300]}")
        return response
