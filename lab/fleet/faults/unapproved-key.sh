#!/bin/sh
# Fault unapproved-key: an SSH key nobody approved in root's authorized_keys
# (access_review: unapproved_key). Only the public half exists: nobody can log in with it.
set -eu
key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICX68mDprRiyo56Ymx8YGiA53p9UFQVy6OIfIuDdhCv2 rogue@lab.invalid'
install -d -m 0700 /root/.ssh
touch /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
grep -qxF "$key" /root/.ssh/authorized_keys || printf '%s\n' "$key" >>/root/.ssh/authorized_keys
