#!/bin/sh
# Container entrypoint: initialise the node on first start, then `portal serve`.
#
# Environment:
#   PORTAL_DATA        data directory (default /data, a volume)
#   PORTAL_LISTEN      listen address (default 0.0.0.0:8080)
#   PORTAL_ID, PORTAL_NAME, PORTAL_NAME_EN, PORTAL_URL   for `portal init` (first start only)
#   PORTAL_ALLOW_PRIVATE=1   private container networks: sets [aggregator]
#                      allow_private_members and [websub] allow_private_callbacks
#   PORTAL_POLL_SECONDS      [aggregator] poll_seconds (default 60)
#   PORTAL_MEMBERS     central node only: space-separated member base URLs, added with
#                      `portal member add` once the node answers (the key found is pinned:
#                      compare the key ids printed in this log with the ministries')
set -eu
data="${PORTAL_DATA:-/data}"
listen="${PORTAL_LISTEN:-0.0.0.0:8080}"

if [ ! -f "$data/config.toml" ]; then
    : "${PORTAL_ID:?set PORTAL_ID for the first start}"
    : "${PORTAL_NAME:?set PORTAL_NAME for the first start}"
    : "${PORTAL_URL:?set PORTAL_URL for the first start}"
    echo "portal: first start, initialising $PORTAL_ID in $data"
    if [ -n "${PORTAL_NAME_EN:-}" ]; then
        portal init --data "$data" --id "$PORTAL_ID" --name "$PORTAL_NAME" \
            --name-en "$PORTAL_NAME_EN" --url "$PORTAL_URL"
    else
        portal init --data "$data" --id "$PORTAL_ID" --name "$PORTAL_NAME" --url "$PORTAL_URL"
    fi
    config="$data/config.toml"
    if [ "${PORTAL_ALLOW_PRIVATE:-0}" = 1 ]; then
        sed -i -e 's/^allow_private_members = false/allow_private_members = true/' \
            -e 's/^allow_private_callbacks = false/allow_private_callbacks = true/' "$config"
    fi
    if [ -n "${PORTAL_POLL_SECONDS:-}" ]; then
        sed -i "s/^poll_seconds = .*/poll_seconds = $PORTAL_POLL_SECONDS/" "$config"
    fi
fi

if [ -z "${PORTAL_MEMBERS:-}" ]; then
    exec portal serve --data "$data" --listen "$listen"
fi

# A central node: serve, then add the members that are not in the roster yet.
portal serve --data "$data" --listen "$listen" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT
until curl -fsS "http://127.0.0.1:${listen##*:}/healthz" >/dev/null 2>&1; do
    if ! kill -0 "$server" 2>/dev/null; then
        status=0
        wait "$server" || status=$?
        echo "portal: the server stopped before answering (status $status)" >&2
        exit "$status"
    fi
    sleep 1
done
for url in $PORTAL_MEMBERS; do
    if portal member list --data "$data" | grep -q " $url "; then
        continue
    fi
    tries=0
    until portal member add --data "$data" "$url"; do
        tries=$((tries + 1))
        [ "$tries" -ge 30 ] && { echo "portal: could not add $url" >&2; break; }
        sleep 2
    done
done
wait "$server"
