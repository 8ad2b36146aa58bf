"""Strategy plugin: mitogen's linear strategy, with less work on the control node.

The runner's tuned settings select this strategy (``maintenance_runner.ansible.tuning``).
It is mitogen's ``mitogen_linear`` with three differences, each measured in docs/performance.md:

* nothing is pinned to a CPU. mitogen pins its processes: on a control node with fewer than
  four CPUs that puts Ansible's strategy loop and every worker on one CPU, beside a multiplexer
  pinned to the other; on the 2-CPU lab machine a cycle then kept 1.25 CPUs busy and took
  107 s, against 75 s unpinned.
* the installed collections are listed once per run, not once per task. For every module that
  lives in a collection, mitogen's planner lists every installed collection directory (and reads
  each one's metadata) in the worker process that runs the task; a worker is forked per task
  and host, so nothing it learns is kept. With the ``ansible`` package that is some 90
  collections, about 0.1 s of CPU each time. Here the strategy lists them once, before the
  first worker is forked, and every worker inherits the list.
* waiting for a free worker blocks. When every worker is busy (more hosts than forks), Ansible's
  strategy loop polls the workers every 0.1 ms until one exits, which keeps a CPU busy for as
  long as the hosts' tasks take; here it sleeps until a worker process ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from multiprocessing.connection import wait
from typing import Any

import ansible_mitogen.affinity
import ansible_mitogen.loaders
import ansible_mitogen.planner
import ansible_mitogen.strategy
from ansible.collections.list import list_collection_dirs

# mitogen reads this module attribute each time it places a process; the base Policy does nothing.
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)

WORKER_WAIT_SECONDS = 1.0  # longest sleep between two looks at the run's state


class CollectionDirs:
    """The installed collections' directories, listed once and then reused (mitogen's planner
    asks for them in the forked worker of every task that runs a collection's module)."""

    def __init__(self) -> None:
        self.dirs: tuple[str, ...] | None = None

    def load(self) -> tuple[str, ...]:
        if self.dirs is None:
            self.dirs = tuple(path.decode("utf-8") for path in list_collection_dirs())
        return self.dirs

    def add_to(self, invocation: Any) -> None:
        """Drop-in for ``ansible_mitogen.planner._load_collections``."""
        invocation._extra_sys_paths.update(self.load())


COLLECTION_DIRS = CollectionDirs()
ansible_mitogen.planner._load_collections = COLLECTION_DIRS.add_to


def wait_for_free_worker(workers: list[Any], stopped: Any, timeout: float) -> None:
    """Return once a slot of ``workers`` (multiprocessing processes, or None) is free, or
    ``stopped()`` says the run is over; sleeps on the workers' exit, never polls."""
    while not stopped():
        busy = [worker for worker in workers if worker is not None and worker.is_alive()]
        if len(busy) < len(workers):
            return
        try:
            wait(_sentinels(busy), timeout=timeout)
        except ValueError:  # a worker was closed meanwhile: let Ansible's loop look
            return


def _sentinels(workers: Iterable[Any]) -> list[int]:
    return [worker.sentinel for worker in workers]


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):  # type: ignore[misc,valid-type]
    """Ansible's linear strategy, with mitogen's connections and one interpreter per host."""

    def run(self, iterator: Any, play_context: Any, result: int = 0) -> Any:
        COLLECTION_DIRS.load()  # before any worker is forked, so that all of them inherit it
        return super().run(iterator, play_context, result)

    def _queue_task(self, host: Any, task: Any, task_vars: Any, play_context: Any) -> Any:
        wait_for_free_worker(self._workers, lambda: self._tqm._terminated, WORKER_WAIT_SECONDS)
        return super()._queue_task(host, task, task_vars, play_context)
