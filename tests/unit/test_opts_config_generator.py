"""``messaging.opts.list_opts`` under oslo-config-generator's namespace ``oslo.messaging``.

Services keep ``namespace = oslo.messaging`` in their generator configs; the
sample they generate must list this library's options.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("oslo_config")


def test_list_opts_groups_and_names_as_oslo():
    from messaging import opts

    groups = dict(opts.list_opts())
    assert None in groups  # [DEFAULT], as oslo.messaging returns it
    default = {o.name for o in groups[None]}
    assert {"transport_url", "control_exchange", "rpc_response_timeout",
            "executor_thread_pool_size"} <= default
    assert {"driver", "transport_url", "topics", "retry", "routing_config"} <= {
        o.name for o in groups["oslo_messaging_notifications"]}
    assert "heartbeat_timeout_threshold" in {o.name for o in groups["oslo_messaging_rabbit"]}


def test_list_opts_returns_copies():
    from messaging import opts

    first = dict(opts.list_opts())[None]
    first[0].default = "changed"
    assert dict(opts.list_opts())[None][0].default != "changed"


def test_the_generator_namespace_lists_the_options(tmp_path: Path):
    generator = shutil.which("oslo-config-generator", path=str(Path(sys.executable).parent))
    if generator is None:
        pytest.skip("oslo-config-generator is not installed next to this interpreter")
    out = tmp_path / "sample.conf"
    subprocess.run([generator, "--namespace", "oslo.messaging", "--output-file", str(out)],
                   check=True, capture_output=True, text=True, timeout=60)
    text = out.read_text()
    for expected in ("[DEFAULT]", "#transport_url = rabbit://", "#rpc_response_timeout = 60",
                     "[oslo_messaging_notifications]", "#topics = notifications",
                     "[oslo_messaging_rabbit]", "#heartbeat_timeout_threshold = 60"):
        assert expected in text, expected


def test_set_defaults_overrides_the_pool_size():
    from oslo_config import cfg

    from messaging import opts

    conf = cfg.ConfigOpts()
    conf([])
    opts.set_defaults(conf, executor_thread_pool_size=8)
    assert conf.executor_thread_pool_size == 8
