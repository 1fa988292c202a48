#!/bin/sh
# Claim+ack throughput, plain vs partitioned: refills 150k available jobs before each 8 s run.
# Usage (as postgres): sh run-cycle.sh HOSTDIR PORT
H=$1; P=$2; B=/usr/lib/postgresql/15/bin; D=$(dirname "$0")
for round in 1 2; do
  for pair in plain:cycle.sql part:cycle-pruned-both.sql part:cycle.sql; do
    db=${pair%%:*}; f=${pair#*:}
    $B/psql -q -h $H -p $P $db -c "update docket.jobs set state='completed', completed_at=now() where state in ('executing','available')" \
      -c "insert into docket.jobs (state, queue, worker) select 'available','q','w' from generate_series(1,150000)" -c "vacuum analyze docket.jobs"
    echo "$db $f: $($B/pgbench -h $H -p $P -n -T 8 -c 10 -j 2 -M prepared --failures-detailed -f $D/$f $db 2>&1 | grep -E '^tps|serialization failures' | tr '\n' ' ')"
  done
done
