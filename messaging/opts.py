"""oslo.messaging's ``opts`` module: the option list for oslo-config-generator.

Registered under the ``oslo.config.opts`` entry point namespace
``oslo.messaging``, so a service's existing generator configuration
(``namespace = oslo.messaging``) lists this library's options: ``[DEFAULT]``,
``[oslo_messaging_notifications]`` and every installed driver's group
(``[oslo_messaging_rabbit]``, ...).
"""

from __future__ import annotations

from typing import Any

from . import options as _options

__all__ = ["list_opts", "set_defaults"]


def list_opts() -> list[tuple[str | None, list[Any]]]:
    """``(group, [Opt, ...])`` pairs, ``None`` for ``[DEFAULT]`` as oslo.messaging returns.

    The options are copies; needs oslo.config.
    """
    return [(None if group == "DEFAULT" else group, opts)
            for group, opts in _options.list_opts()]


def set_defaults(conf: Any, executor_thread_pool_size: int | None = None) -> None:
    """Override option defaults on ``conf`` (an oslo.config ``ConfigOpts``), as oslo's."""
    if executor_thread_pool_size is not None:
        _options.register_opts(conf, ["DEFAULT"])
        conf.set_default("executor_thread_pool_size", executor_thread_pool_size)
