#!/bin/sh
# The image's entrypoint (Dockerfile: /usr/local/bin/budbringer-entrypoint), then the command.
#
# 1. Refuse a configuration that cannot work for real, one line per problem: no secret key
#    (BUDBRINGER_SERVICE__SECRET_KEY or BUDBRINGER_SERVICE__SECRET_KEY_FILE), or a
#    BUDBRINGER_SERVICE__BASE_URL left on this machine (wrong links in every mail).
# 2. Unless BUDBRINGER_MIGRATE=no (the role containers of compose.yaml, where one
#    `migrate` service does it): migrate the database, and when BUDBRINGER_ADMIN_EMAIL is
#    set and there is no staff user yet, add that admin with the password in
#    BUDBRINGER_ADMIN_PASSWORD_FILE (default /run/secrets/admin_password, first line).
# 3. exec the command (default `budbringer run`), so it gets SIGTERM from `docker stop`.
# A test runs this script itself (tests/integration/test_image.py).
set -eu

budbringer check-config --production

if [ "${BUDBRINGER_MIGRATE:-yes}" != "no" ]; then
    budbringer db upgrade
    if [ -n "${BUDBRINGER_ADMIN_EMAIL:-}" ]; then
        budbringer user add "$BUDBRINGER_ADMIN_EMAIL" --role admin --if-no-users \
            --password-file "${BUDBRINGER_ADMIN_PASSWORD_FILE:-/run/secrets/admin_password}"
    fi
fi

exec "$@"
