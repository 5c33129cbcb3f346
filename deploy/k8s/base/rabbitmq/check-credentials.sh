#!/bin/sh
# Init container of the RabbitMQ pod: refuses to start the broker with a missing, placeholder
# or short password. The admin user is created on the very first boot only, so a placeholder
# accepted once would stay in the broker's database after the Secret is fixed.
set -eu
for name in RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS MATCHFLOW_RABBITMQ_USER MATCHFLOW_RABBITMQ_PASS; do
  eval "value=\${$name:-}"
  case "$value" in
    "" | *SET_ME*) echo "check-credentials: $name is empty or still a placeholder: edit the overlay's secrets/rabbitmq.env" >&2; exit 1 ;;
  esac
done
if [ "${#RABBITMQ_DEFAULT_PASS}" -lt 16 ] || [ "${#MATCHFLOW_RABBITMQ_PASS}" -lt 16 ]; then
  echo "check-credentials: passwords must have at least 16 characters (openssl rand -base64 24)" >&2
  exit 1
fi
echo "check-credentials: ok"
