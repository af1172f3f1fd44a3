#!/bin/sh
# Creates the broker's password file at the first start of the compose stack: one random
# password per user of mosquitto/acl, kept in the mosquitto-secrets volume (never in the
# repository). Later starts leave existing passwords alone. Read one with:
#   docker compose exec mosquitto cat /mosquitto/secrets/backend.password
set -eu
dir=/mosquitto/secrets
mkdir -p "$dir"
for user in gateway backend dashboard; do
  if [ ! -s "$dir/$user.password" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/$user.password"
    echo "created a password for MQTT user $user"
  fi
done
: > "$dir/passwd.tmp"
for user in gateway backend dashboard; do
  mosquitto_passwd -b "$dir/passwd.tmp" "$user" "$(cat "$dir/$user.password")"
done
mv "$dir/passwd.tmp" "$dir/passwd"
# Mosquitto runs as user mosquitto; the gateway only reads its own file.
chown -R mosquitto:mosquitto "$dir" 2>/dev/null || true
chmod 0644 "$dir/gateway.password"
chmod 0600 "$dir/passwd" "$dir/backend.password" "$dir/dashboard.password"
