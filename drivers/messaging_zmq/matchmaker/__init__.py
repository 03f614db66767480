"""Matchmakers: where servers publish the addresses they listen on, and clients find them.

A matchmaker is loaded by stevedore from the entry point group
``messaging.zmq.matchmakers`` (see :data:`NAMESPACE`), so a third party can
add one. Built in: ``local`` (files in a per-user directory; one host, no
service needed) and ``redis`` (``zmq+redis://host:port``).
"""

from __future__ import annotations

from .base import NAMESPACE, Matchmaker, MatchmakerError, load_matchmaker, purge_namespace

__all__ = ["NAMESPACE", "Matchmaker", "MatchmakerError", "load_matchmaker", "purge_namespace"]
