"""The pty ansible-runner runs a playbook in: closed without ptyprocess's 0.1 s sleep."""

import ansible_runner.runner
import pexpect

from maintenance_runner.ansible import execution


def test_ansible_runner_spawns_through_the_spawn_without_the_close_delay():
    assert ansible_runner.runner.pexpect.spawn is execution._Spawn


def test_a_finished_child_is_reaped_with_its_status_at_close():
    child = ansible_runner.runner.pexpect.spawn("sh", ["-c", "exit 3"], encoding="utf-8")
    child.expect(pexpect.EOF)
    assert child.ptyproc.delayafterclose == 0.0
    child.close()
    assert (child.isalive(), child.exitstatus) == (False, 3)


def test_a_child_still_running_at_close_is_terminated():
    child = ansible_runner.runner.pexpect.spawn("sleep", ["30"], encoding="utf-8")
    child.close()
    assert not child.isalive()
    assert child.signalstatus is not None
