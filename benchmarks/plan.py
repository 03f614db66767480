"""What ``tox -e bench`` measures: the implementations, and the rows of the table.

An :class:`Impl` is one contender on one bus: this library (``ours``), the
raw client library doing the same job with no framework (``raw``), or
oslo.messaging 18.x where it has the driver (``oslo``). A :class:`Row` is a
line of the final table: a scenario on one driver, the (implementation,
shape) measured in each column, the raw one its ratio is taken against, and
the goal of issue 13 where it sets one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DRIVERS", "GROUPS", "IMPLS", "ROWS", "SCENARIOS", "Goal", "Impl", "Row",
           "tracing_available"]

#: The drivers a run can select, and the group (bus set-up) each belongs to.
DRIVERS = {"fake": "fake", "rabbit": "amqp091", "pika": "amqp091", "amqp": "amqp1",
           "zmq": "zmq"}
#: Bus groups in run order; ``n_scale`` multiplies ``-n`` for fast in-memory rows.
GROUPS = {"fake": {"n_scale": 5}, "amqp091": {"n_scale": 1}, "amqp1": {"n_scale": 1},
          "zmq": {"n_scale": 2}}


@dataclass(frozen=True)
class Impl:
    """One contender: its client role, its server role (None: in the client's process)."""

    key: str
    side: str  # "ours", "raw" or "oslo"
    label: str
    group: str
    scheme: str | None  # the group URL's scheme is replaced by this one (pika://)
    client: tuple[str, str]
    server: tuple[str, str] | None
    params: dict[str, Any] = field(default_factory=dict)
    #: shapes whose server is a notification listener (the others use the RPC server)
    notify_server: bool = False
    #: at most this many messages per measurement of a shape (oslo's fake driver polls)
    max_n: dict[str, int] = field(default_factory=dict)
    requires: tuple[str, ...] = ()


def _ours(driver: str, group: str, scheme: str | None = None, local: bool = False,
          suffix: str = "", conf: dict[str, Any] | None = None) -> Impl:
    params: dict[str, Any] = {"api": "messaging"}
    if conf:
        params["conf"] = conf
    if local:
        params["local"] = True
    return Impl(f"ours-{driver}{suffix}", "ours", f"{driver}://", group, scheme,
                ("roles_api", "ApiClient"), None if local else ("roles_api", "ApiServer"),
                params, notify_server=True)


def _oslo(driver: str, group: str, local: bool = False,
          max_n: dict[str, int] | None = None) -> Impl:
    params: dict[str, Any] = {"api": "oslo_messaging"}
    if local:
        params["local"] = True
    return Impl(f"oslo-{driver}", "oslo", "oslo.messaging", group, None,
                ("roles_api", "ApiClient"), None if local else ("roles_api", "ApiServer"),
                params, notify_server=True, max_n=max_n or {}, requires=("oslo_messaging",))


#: ``[oslo_messaging_tracing] tracing_enabled``: the hook for issue 15's cost of tracing.
TRACING_ON = {"oslo_messaging_tracing": {"tracing_enabled": True}}

IMPLS = {impl.key: impl for impl in (
    _ours("fake", "fake", local=True),
    _ours("fake", "fake", local=True, suffix="-traced", conf=TRACING_ON),
    Impl("raw-queue", "raw", "queue.Queue", "fake", None, ("roles_fake", "QueueClient"),
         None),
    # oslo.messaging's fake driver polls every 50 ms: a call takes 50 ms.
    _oslo("fake", "fake", local=True, max_n={"call": 60, "call-threads": 200}),
    _ours("rabbit", "amqp091"),
    _ours("rabbit", "amqp091", suffix="-traced", conf=TRACING_ON),
    _ours("pika", "amqp091", scheme="pika"),
    Impl("raw-pika", "raw", "raw pika", "amqp091", None, ("roles_amqp091", "RawPikaClient"),
         ("roles_amqp091", "RawPikaServer"), requires=("pika",)),
    Impl("raw-kombu", "raw", "raw kombu", "amqp091", None,
         ("roles_amqp091", "RawKombuClient"), ("roles_amqp091", "RawKombuServer"),
         requires=("kombu",)),
    _oslo("rabbit", "amqp091"),
    _ours("amqp", "amqp1"),
    Impl("raw-proton", "raw", "raw proton", "amqp1", None, ("roles_amqp1", "RawProtonClient"),
         ("roles_amqp1", "RawProtonServer"), requires=("proton",)),
    _ours("zmq", "zmq"),
    Impl("raw-pyzmq", "raw", "raw pyzmq", "zmq", None, ("roles_zmq", "RawZmqClient"),
         ("roles_zmq", "RawZmqServer"), requires=("zmq",)),
)}


@dataclass(frozen=True)
class Goal:
    """A figure to reach: ``ratio`` (ours/ref >= value), ``rate`` (ours >= value per
    second) or ``cpu`` (ours/ref CPU per message <= value)."""

    kind: str
    value: float
    text: str

    def fraction(self, ours: float | None, ratio: float | None) -> float | None:
        """How far the measured figure is towards the goal (1.0 or more: reached)."""
        if self.kind == "rate":
            return None if ours is None else ours / self.value
        if ratio is None or ratio <= 0:
            return None
        return ratio / self.value if self.kind == "ratio" else self.value / ratio


Cell = tuple[str, str]  # (impl key, shape)


@dataclass(frozen=True)
class Row:
    """One line of the table; ``raws[0]`` is what the ratio is taken against."""

    scenario: str  # the --scenarios key
    driver: str
    label: str
    ours: Cell
    raws: tuple[Cell, ...] = ()
    oslo: Cell | None = None
    goal: Goal | None = None
    metric: str = "rate"  # or "cpu": CPU per message, client + server + broker
    optional: str | None = None  # why the row is not measured when it cannot be


def _rabbit_rows(driver: str) -> list[Row]:
    ours = f"ours-{driver}"
    pika_call, kombu_call = ("raw-pika", "call"), ("raw-kombu", "call")
    pika_cast, kombu_cast = ("raw-pika", "cast"), ("raw-kombu", "cast")
    return [
        Row("call", driver, f"sequential call, {driver}", (ours, "call"),
            (pika_call, kombu_call), ("oslo-rabbit", "call"),
            Goal("ratio", 0.8, ">= 0.8x raw pika")),
        Row("cpu", driver, f"CPU per call, client + server + broker, {driver}", (ours, "call"),
            (kombu_call, pika_call), ("oslo-rabbit", "call"),
            Goal("cpu", 1.5, "<= 1.5x raw kombu"), metric="cpu"),
        Row("call-threads", driver, f"{8} threads calling, {driver}", (ours, "call-threads"),
            (("raw-pika", "call-threads"), ("raw-kombu", "call-threads")),
            ("oslo-rabbit", "call-threads"), Goal("rate", 2500, ">= 2,500/s")),
        Row("call-async", driver, f"100 async calls in flight (AsyncRPCClient), {driver}",
            (ours, "call-async"), (("raw-pika", "call-async"),)),
        Row("cast", driver, f"sequential confirmed cast, until handled, {driver}",
            (ours, "cast"), (pika_cast, kombu_cast), ("oslo-rabbit", "cast"),
            Goal("ratio", 0.9, ">= 0.9x raw pika confirm-each")),
        Row("notify", driver, f"sequential confirmed notify, until handled, {driver}",
            (ours, "notify"), (pika_cast, kombu_cast), ("oslo-rabbit", "notify"),
            Goal("ratio", 0.9, ">= 0.9x raw pika confirm-each")),
        Row("cast-threads", driver, f"8 threads casting, confirmed, until handled, {driver}",
            (ours, "cast-threads"), (("raw-pika", "cast-threads"),),
            ("oslo-rabbit", "cast-threads"), Goal("rate", 8000, ">= 8,000/s")),
        Row("cast-async", driver, f"100 async casts in flight, confirmed, {driver}",
            (ours, "cast-async"), (("raw-pika", "cast-async"),), None,
            Goal("rate", 8000, ">= 8,000/s")),
        Row("notify-threads", driver, f"8 threads notifying, confirmed, {driver}",
            (ours, "notify-threads"), (("raw-pika", "cast-threads"),),
            ("oslo-rabbit", "notify-threads"), Goal("rate", 8000, ">= 8,000/s")),
        Row("notify-async", driver, f"100 async notifications in flight, confirmed, {driver}",
            (ours, "notify-async"), (("raw-pika", "cast-async"),), None,
            Goal("rate", 8000, ">= 8,000/s")),
    ]


def _simple_rows(driver: str, raw: str, call_goal: Goal | None) -> list[Row]:
    ours = f"ours-{driver}"
    return [
        Row("call", driver, f"sequential call, {driver}", (ours, "call"), ((raw, "call"),),
            goal=call_goal),
        Row("cpu", driver, f"CPU per call, client + server + broker, {driver}", (ours, "call"),
            ((raw, "call"),), metric="cpu"),
        Row("cast", driver, f"sequential cast, until handled, {driver}", (ours, "cast"),
            ((raw, "cast"),)),
        Row("notify", driver, f"sequential notify, until handled, {driver}", (ours, "notify"),
            ((raw, "cast"),)),
    ]


_NO_TRACING = "this build has no [oslo_messaging_tracing] options (issue 15)"

ROWS: list[Row] = [
    Row("call", "fake", "sequential call, fake", ("ours-fake", "call"), (("raw-queue", "call"),),
        ("oslo-fake", "call"), Goal("rate", 15000, ">= 15,000/s")),
    Row("cpu", "fake", "CPU per call (one process), fake", ("ours-fake", "call"),
        (("raw-queue", "call"),), ("oslo-fake", "call"), metric="cpu"),
    Row("call-threads", "fake", "8 threads calling, fake", ("ours-fake", "call-threads"),
        (("raw-queue", "call-threads"),), ("oslo-fake", "call-threads")),
    Row("call-async", "fake", "100 async calls in flight (AsyncRPCClient), fake",
        ("ours-fake", "call-async"), (("raw-queue", "call-async"),)),
    Row("cast", "fake", "sequential cast, until handled, fake", ("ours-fake", "cast"),
        (("raw-queue", "cast"),), ("oslo-fake", "cast")),
    Row("notify", "fake", "notify to a listener, until handled, fake", ("ours-fake", "notify"),
        (("raw-queue", "cast"),), ("oslo-fake", "notify"), Goal("rate", 50000, ">= 50,000/s")),
    Row("cast-async", "fake", "100 async casts in flight, fake", ("ours-fake", "cast-async"),
        (("raw-queue", "cast"),)),
    Row("notify-async", "fake", "100 async notifications in flight, fake",
        ("ours-fake", "notify-async"), (("raw-queue", "cast"),)),
    Row("tracing", "fake", "sequential call, tracing enabled, fake (ratio: to tracing off)",
        ("ours-fake-traced", "call"), (("ours-fake", "call"),), optional=_NO_TRACING),
    *_rabbit_rows("rabbit"),
    Row("tracing", "rabbit", "sequential call, tracing enabled, rabbit (ratio: to tracing off)",
        ("ours-rabbit-traced", "call"), (("ours-rabbit", "call"),), optional=_NO_TRACING),
    *_rabbit_rows("pika"),
    *_simple_rows("amqp", "raw-proton", Goal("ratio", 0.8, ">= 0.8x raw proton")),
    *_simple_rows("zmq", "raw-pyzmq", Goal("ratio", 0.5, ">= 0.5x raw pyzmq")),
]

SCENARIOS = tuple(dict.fromkeys(row.scenario for row in ROWS))


def tracing_available() -> bool:
    """True when this library reads ``[oslo_messaging_tracing]`` (issue 15 landed)."""
    from messaging.options import all_option_groups

    return "oslo_messaging_tracing" in all_option_groups()
