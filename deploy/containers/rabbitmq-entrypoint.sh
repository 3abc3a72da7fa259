#!/bin/bash
# Writes the node's configuration, then runs the server in the foreground (its script stops the
# node on SIGTERM and exits 0). RABBITMQ_DEFAULT_USER with RABBITMQ_DEFAULT_PASS_FILE (a Docker
# secret) or RABBITMQ_DEFAULT_PASS: the user the broker creates on its first start (guest may
# only log in from the container itself).
set -euo pipefail
user=${RABBITMQ_DEFAULT_USER:-guest}
pass=${RABBITMQ_DEFAULT_PASS:-guest}
if [ -n "${RABBITMQ_DEFAULT_PASS_FILE:-}" ]; then
  [ -r "$RABBITMQ_DEFAULT_PASS_FILE" ] ||
    { echo "rabbitmq: cannot read RABBITMQ_DEFAULT_PASS_FILE=$RABBITMQ_DEFAULT_PASS_FILE; mount the secret there" >&2; exit 1; }
  pass=$(cat "$RABBITMQ_DEFAULT_PASS_FILE")
fi
umask 077
cat >"$RABBITMQ_CONFIG_FILE" <<CONF
default_user = $user
default_pass = $pass
default_vhost = /
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
default_user_tags.administrator = true
listeners.tcp.default = 5672
management.tcp.port = 15672
prometheus.tcp.port = 15692
vm_memory_high_watermark.absolute = ${RABBITMQ_MEMORY_LIMIT:-512MB}
disk_free_limit.absolute = 50MB
CONF
exec /usr/lib/rabbitmq/bin/rabbitmq-server
