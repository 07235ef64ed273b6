# Sourced by the server's shell tests: starts `kvpress serve` ($bin, $model) on a free port, stops it on
# exit, and sets $base to http://HOST:PORT once it listens.
out=$(mktemp)
"$bin" serve --model "$model" --port 0 --parallel 2 --threads 2 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$out" && break
  kill -0 $pid 2>/dev/null || { echo "kvpress serve exited early"; exit 1; }
  sleep 0.1
done
base="http://$(sed -n 's/.*http:\/\/\([0-9.:]*\).*/\1/p' "$out" | head -1)"
[ "$base" != "http://" ] || { echo "kvpress serve did not print its address: $(cat "$out")"; exit 1; }
