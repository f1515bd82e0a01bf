"""Prometheus text exposition (format 0.0.4) without a client library: a few counters and
one latency histogram, updated from the event loop and read by GET /metrics."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    esc = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in pairs)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(pairs, esc)) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple, int] = defaultdict(int)  # (route, method, status)
        self.latency_buckets: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.messages: dict[str, int] = defaultdict(int)  # role
        self.flags: dict[str, int] = defaultdict(int)  # label -> new flags raised
        self.feedback: dict[tuple[str, str], int] = defaultdict(int)  # (label, verdict)
        self.priority: dict[str, int] = defaultdict(int)  # priority of each analysed message's conversation

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, str(status))] += 1
            buckets = self.latency_buckets.setdefault(route, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self.latency_sum[route] += seconds
            self.latency_count[route] += 1

    def message(self, role: str, new_labels: list[str], priority: str) -> None:
        with self._lock:
            self.messages[role] += 1
            self.priority[priority] += 1
            for label in new_labels:
                self.flags[label] += 1

    def verdict(self, label: str, verdict: str) -> None:
        with self._lock:
            self.feedback[(label, verdict)] += 1

    def render(self, extra: dict[str, float] | None = None) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        with self._lock:
            family("signaal_http_requests_total", "counter", "HTTP requests by route template, method and status.")
            for (route, method, status), n in sorted(self.requests.items()):
                out.append(f"signaal_http_requests_total"
                           f"{_labels((('route', route), ('method', method), ('status', status)))} {n}")
            family("signaal_http_request_duration_seconds", "histogram", "Request latency by route template.")
            for route, buckets in sorted(self.latency_buckets.items()):
                for bound, n in zip(BUCKETS, buckets):
                    out.append(f"signaal_http_request_duration_seconds_bucket"
                               f"{_labels((('route', route), ('le', repr(bound))))} {n}")
                out.append(f"signaal_http_request_duration_seconds_bucket"
                           f"{_labels((('route', route), ('le', '+Inf')))} {self.latency_count[route]}")
                out.append(f"signaal_http_request_duration_seconds_sum{_labels((('route', route),))} "
                           f"{self.latency_sum[route]:.6f}")
                out.append(f"signaal_http_request_duration_seconds_count{_labels((('route', route),))} "
                           f"{self.latency_count[route]}")
            family("signaal_messages_total", "counter", "Messages analysed by platform role.")
            for role, n in sorted(self.messages.items()):
                out.append(f"signaal_messages_total{_labels((('role', role),))} {n}")
            family("signaal_conversation_priority_total", "counter",
                   "Conversation priority after each analysed message.")
            for prio, n in sorted(self.priority.items()):
                out.append(f"signaal_conversation_priority_total{_labels((('priority', prio),))} {n}")
            family("signaal_flags_total", "counter", "Flags newly raised in a conversation, by label.")
            for label, n in sorted(self.flags.items()):
                out.append(f"signaal_flags_total{_labels((('label', label),))} {n}")
            family("signaal_feedback_total", "counter", "Counselor verdicts by label and verdict.")
            for (label, verdict), n in sorted(self.feedback.items()):
                out.append(f"signaal_feedback_total{_labels((('label', label), ('verdict', verdict)))} {n}")
            family("signaal_feedback_agreement_ratio", "gauge",
                   "Share of confirm among confirm+reject verdicts per label (since start).")
            for label in sorted({label for label, _ in self.feedback}):
                yes = self.feedback.get((label, "confirm"), 0)
                no = self.feedback.get((label, "reject"), 0)
                if yes + no:
                    out.append(f"signaal_feedback_agreement_ratio{_labels((('label', label),))} "
                               f"{yes / (yes + no):.4f}")
        for name, value in sorted((extra or {}).items()):
            family(name, "counter" if name.endswith("_total") else "gauge",
                   name.replace("_", " ") + ".")
            out.append(f"{name} {value}")
        return "\n".join(out) + "\n"
