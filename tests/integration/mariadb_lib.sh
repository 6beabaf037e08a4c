# mariadb_lib.sh - a private MariaDB server for the integration tests that
# need one (mysql_connect_storm.sh, ruby_mysql2_storm.sh); sourced, not run.
#
# The server listens on 127.0.0.1 only, at a random unprivileged port
# (retried when taken), with a private datadir and unix socket in $TMP, TLS
# from a throwaway CA ($TMP/ca.pem), max_connect_errors=10 and the host
# cache on.  It is started and stopped by pid; every wait is bounded.
#
# The caller defines skip, die and bounded (SECONDS COMMAND...), sets TMP
# (a private directory) before mariadb_setup, and calls mariadb_stop from
# its EXIT trap.  After mariadb_start, SOCK, PORT and server_pid describe
# the running server.

server_pid=
as_root=
[ "$(id -u)" -eq 0 ] && as_root=--user=root

# mariadb_need_tools: skip (77) unless the server, its tools and openssl
# are installed.
mariadb_need_tools() {
	for tool in mariadbd mariadb-install-db mariadb openssl timeout; do
		command -v "$tool" >/dev/null 2>&1 ||
			skip "$tool not installed (Debian: mariadb-server," \
			     "mariadb-client, openssl)"
	done
}

# sql STATEMENTS: run them as root over the unix socket; tab-separated
# output without column names.
sql() {
	bounded 30 mariadb --no-defaults --socket="$SOCK" --user=root \
		--batch --skip-column-names -e "$1"
}

# mariadb_stop: SIGTERM, up to 30 s for a clean exit, then SIGKILL.
mariadb_stop() {
	[ -n "$server_pid" ] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null
		i=0
		while kill -0 "$server_pid" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 1
			i=$((i + 1))
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			echo "NOTE: mariadbd $server_pid ignored SIGTERM;" \
			     "SIGKILL"
			kill -KILL "$server_pid" 2>/dev/null
		fi
	fi
	wait "$server_pid" 2>/dev/null
	server_pid=
}

# mariadb_setup: a fresh datadir, a throwaway CA and a server certificate
# signed by it, all in $TMP.
mariadb_setup() {
	SOCK=$TMP/mariadbd.sock
	bounded 120 mariadb-install-db --no-defaults $as_root \
		--datadir="$TMP/data" --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve >"$TMP/install.log" 2>&1 || {
		tail -20 "$TMP/install.log"
		die "mariadb-install-db failed"
	}
	(
		cd "$TMP" &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
			-subj /CN=stillprof-test-ca -keyout ca-key.pem \
			-out ca.pem &&
		openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
			-keyout server-key.pem -out server.csr &&
		openssl x509 -req -in server.csr -CA ca.pem \
			-CAkey ca-key.pem -CAcreateserial -days 2 \
			-out server-cert.pem
	) >"$TMP/openssl.log" 2>&1 || {
		cat "$TMP/openssl.log"
		die "openssl could not make the test certificates"
	}
}

# mariadb_start_at PORT: start mariadbd and wait (bounded) until it
# answers.  Returns 0 when ready, 2 when the port was taken, 1 on other
# failures.
mariadb_start_at() {
	: >"$TMP/error.log"
	# Name resolution stays on (the host cache and host blocking need
	# it); RES_OPTIONS bounds a reverse lookup of the client address.
	RES_OPTIONS="timeout:1 attempts:1" mariadbd --no-defaults $as_root \
		--datadir="$TMP/data" --socket="$SOCK" \
		--pid-file="$TMP/mariadbd.pid" --tmpdir="$TMP" \
		--log-error="$TMP/error.log" \
		--port="$1" --bind-address=127.0.0.1 \
		--performance-schema=ON --max-connect-errors=10 \
		--host-cache-size=128 --max-connections=200 \
		--connect-timeout=10 \
		--ssl-ca="$TMP/ca.pem" --ssl-cert="$TMP/server-cert.pem" \
		--ssl-key="$TMP/server-key.pem" \
		>"$TMP/mariadbd.out" 2>&1 &
	server_pid=$!
	i=0
	while [ $i -lt 30 ]; do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			wait "$server_pid" 2>/dev/null
			server_pid=
			grep -q 'already in use' "$TMP/error.log" && return 2
			return 1
		fi
		if [ -S "$SOCK" ] && sql "SELECT 1" >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# mariadb_start: the server on a random unprivileged port (sets PORT),
# up to 5 tries when the port is taken; dies when it does not start.
mariadb_start() {
	attempt=0
	while :; do
		attempt=$((attempt + 1))
		rnd=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		PORT=$((20000 + rnd % 40000))
		mariadb_start_at "$PORT"
		rc=$?
		[ $rc -eq 0 ] && break
		if [ $rc -ne 2 ] || [ $attempt -ge 5 ]; then
			tail -30 "$TMP/error.log"
			mariadb_stop
			die "mariadbd did not start (port $PORT)"
		fi
	done
	echo "mariadbd pid $server_pid on 127.0.0.1:$PORT" \
	     "($(sql 'SELECT VERSION()'))"
}

# mariadb_storm_user PASSWORD: the TLS-only user 'storm' the clients use.
mariadb_storm_user() {
	sql "CREATE USER 'storm'@'%' IDENTIFIED VIA mysql_native_password
		USING PASSWORD('$1') REQUIRE SSL" ||
		die "could not create the test user"
}

# host_errors IP: the host cache's error counts for a client address:
# connect (the sum), handshake, TLS, host blocked; -1s if the query fails.
host_errors() {
	sql "SELECT IFNULL(SUM(SUM_CONNECT_ERRORS), 0),
		IFNULL(SUM(COUNT_HANDSHAKE_ERRORS), 0),
		IFNULL(SUM(COUNT_SSL_ERRORS), 0),
		IFNULL(SUM(COUNT_HOST_BLOCKED_ERRORS), 0)
	     FROM performance_schema.host_cache WHERE IP = '$1'" ||
		echo "-1 -1 -1 -1"
}
