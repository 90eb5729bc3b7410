# Sourced by ci/loadgen-proxy and ci/conformance-proxy: nginx (Debian's
# package) as a gRPC proxy in front of a release joblet-mock, on loopback.
# Needs TMP (a temp dir, removed by nginx_grpc_cleanup) and MOCK_BIN.
#   start_plain_mock                 the mock on an ephemeral port: MOCK_PID, MOCK_ADDR
#   start_nginx_grpc UPSTREAM KEEPALIVE_REQUESTS
#                                    nginx (grpc_pass, keepalive_requests as given,
#                                    client_max_body_size left at 1 MiB): NGINX_PID, PORT
#   nginx_grpc_cleanup               stops both and removes TMP (an EXIT trap)
# nginx is installed when missing (apt-get install -y nginx, as root).

NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z "$NGINX" ]]; then
  echo "nginx is missing: installing Debian's package" >&2
  if ! apt-get install -y nginx >/dev/null; then
    apt-get update >/dev/null
    apt-get install -y nginx >/dev/null
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
[[ -x "$NGINX" ]] || { echo "nginx could not be installed" >&2; exit 1; }
"$NGINX" -v

MOCK_PID=""
NGINX_PID=""
nginx_grpc_cleanup() {
  if [[ -n "$NGINX_PID" ]]; then
    kill "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  if [[ -n "$MOCK_PID" ]]; then
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}

start_plain_mock() {
  "$MOCK_BIN" --listen 127.0.0.1:0 >"$TMP/mock.out" 2>"$TMP/mock.err" &
  MOCK_PID=$!
  for _ in $(seq 1 200); do
    grep -q '^joblet-mock listening on' "$TMP/mock.out" && break
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$TMP/mock.err" >&2; exit 1; }
    sleep 0.1
  done
  MOCK_ADDR=$(sed -n 's/^joblet-mock listening on \([0-9.:]*\)$/\1/p' "$TMP/mock.out")
  [[ -n "$MOCK_ADDR" ]] || { echo "the mock did not start" >&2; cat "$TMP/mock.err" >&2; exit 1; }
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$1" 2>/dev/null; }

# nginx on a free port (another process may take it first: try again).
start_nginx_grpc() {
  local upstream=$1 keepalive_requests=$2
  for attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    mkdir -p "$TMP/nginx"
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  upstream mock {
    server $upstream;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$PORT http2;
    keepalive_requests $keepalive_requests;
    location / {
      grpc_pass grpc://mock;
      grpc_read_timeout 300s;
      grpc_send_timeout 300s;
    }
  }
}
EOF
    "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx/stderr" &
    NGINX_PID=$!
    for _ in $(seq 1 100); do
      listening "$PORT" && break
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$NGINX_PID" 2>/dev/null && listening "$PORT"; then
      return 0
    fi
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
    if grep -q 'Address already in use' "$TMP/nginx/stderr" "$TMP/nginx/error.log" 2>/dev/null && [[ $attempt -lt 5 ]]; then
      echo "port $PORT was taken: trying another" >&2
      continue
    fi
    cat "$TMP/nginx/stderr" "$TMP/nginx/error.log" >&2 2>/dev/null || true
    echo "nginx did not start" >&2
    exit 1
  done
}
