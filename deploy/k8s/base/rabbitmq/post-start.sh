#!/bin/sh
# Runs in the RabbitMQ container right after it starts (lifecycle postStart).
# 1. Imports the matchflow topology (definitions.json). It is NOT loaded at boot on purpose:
#    a node that imports definitions at boot skips creating its default (admin) user, and the
#    admin credentials must come from the Secret, never from a file in git.
# 2. Creates or updates the application user that matchflow connects as (least privilege:
#    the "/" vhost only and the "management" tag for `matchflow queue status`; not an administrator,
#    and not "monitoring", which would show it every vhost's queues and every user's connections).
# Idempotent: safe on every restart. A failure here restarts the container (visible in events).
set -eu
rabbitmqctl await_startup --timeout 240
rabbitmqctl import_definitions /etc/rabbitmq/matchflow/definitions.json
if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$MATCHFLOW_RABBITMQ_USER"; then
  printf '%s' "$MATCHFLOW_RABBITMQ_PASS" | rabbitmqctl change_password "$MATCHFLOW_RABBITMQ_USER" >/dev/null
else
  printf '%s' "$MATCHFLOW_RABBITMQ_PASS" | rabbitmqctl add_user "$MATCHFLOW_RABBITMQ_USER" >/dev/null
fi
rabbitmqctl set_user_tags "$MATCHFLOW_RABBITMQ_USER" management
rabbitmqctl set_permissions -p / "$MATCHFLOW_RABBITMQ_USER" '.*' '.*' '.*'
