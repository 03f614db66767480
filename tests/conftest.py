"""Root of the test tree: puts ``tests/`` on the path for ``rabbitmq_local``."""
