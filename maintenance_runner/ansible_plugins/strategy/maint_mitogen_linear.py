"""Strategy plugin: mitogen's linear strategy, with the processes left to the kernel's scheduler.

The runner's tuned settings select this strategy (``maintenance_runner.tuning``). It is mitogen's
``mitogen_linear`` with one difference: mitogen pins its processes to CPUs. On a control node
with fewer than four CPUs that puts Ansible's strategy loop and every worker on one CPU, beside
a multiplexer pinned to the other: on the 2-CPU lab machine a cycle then kept 1.25 CPUs busy
and took 107 s, against 75 s unpinned (docs/performance.md). Here nothing is pinned.
"""

from __future__ import annotations

import ansible_mitogen.affinity
import ansible_mitogen.loaders
import ansible_mitogen.strategy

# mitogen reads this module attribute each time it places a process; the base Policy does nothing.
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):  # type: ignore[misc,valid-type]
    """Ansible's linear strategy, with mitogen's connections and one interpreter per host."""
