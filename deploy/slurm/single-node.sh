#!/bin/bash
# Starts and stops a private single-node Slurm cluster on this machine, for
# the job array's test and benchmark (deploy/slurm/slurm_test.go) and for
# trying dataman-array.sbatch by hand:
#
#   deploy/slurm/single-node.sh start DIR     # prints: export SLURM_CONF=DIR/slurm.conf
#   export SLURM_CONF=DIR/slurm.conf; sbatch …; squeue …
#   deploy/slurm/single-node.sh stop DIR
#
# Everything lives in DIR: configuration, munge key and socket, state, spool,
# logs and pid files, so that nothing of the machine's own Slurm or munge
# (/etc/slurm, /run/munge, ports 6817-6818) is read or changed. It needs
# root (slurmd runs jobs as their users) and Debian's packages slurmctld
# slurmd slurm-client munge (22.05 on Debian 12).
#
# Environment: SLURMCTLD_PORT and SLURMD_PORT (default 16817, 16818), CPUS
# (default: the machine's; more may be advertised), PARTITION (default
# dataman), WATCH_PID (stop when that process ends).
set -euo pipefail

die() {
	echo "single-node.sh: error: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: single-node.sh start|stop DIR"
cmd=$1
dir=$(realpath -m -- "$2")
conf=$dir/slurm.conf

# stop_pid PIDFILE: TERM, then KILL after 10 s; only the process named in
# the file, which this script started.
stop_pid() {
	local pid
	[ -s "$1" ] || return 0
	pid=$(cat -- "$1")
	if kill -TERM "$pid" 2>/dev/null; then
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f -- "$1"
}

case $cmd in
stop)
	stop_pid "$dir/slurmd.pid"
	stop_pid "$dir/slurmctld.pid"
	stop_pid "$dir/munge/munged.pid"
	# The watcher below runs this stop itself once what it watched ended.
	if [ -s "$dir/watch.pid" ] && [ "$(cat -- "$dir/watch.pid")" != $$ ]; then
		stop_pid "$dir/watch.pid"
	fi
	rm -f -- "$dir/watch.pid"
	exit 0
	;;
start) mkdir -p -- "$dir" ;;
*) die "usage: single-node.sh start|stop DIR" ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root (slurmd starts jobs as their users)"
for tool in munged mungekey slurmctld slurmd sinfo; do
	command -v "$tool" >/dev/null || die "$tool is missing: apt-get install slurmctld slurmd slurm-client munge"
done

host=$(hostname -s)
cpus=${CPUS:-$(nproc)}
partition=${PARTITION:-dataman}

# munge authenticates slurmctld, slurmd and the clients to each other. The
# socket's folder must be reachable by every user who submits.
mkdir -p -m 0755 "$dir/munge"
[ -s "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key"
chmod 0600 "$dir/munge/munge.key"
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
	--pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

mkdir -p "$dir/state" "$dir/spool" "$dir/log"
# select/cons_tres with CR_CPU gives each array task one CPU, so tasks run
# side by side (select/linear would give each the whole node).
# batch_sched_delay=0 starts a batch job as soon as a CPU is free, instead
# of up to 3 s later; the scheduler still runs about once a second.
cat >"$conf" <<CONF
ClusterName=dataman-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=$partition Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

# With WATCH_PID, the cluster is stopped when that process ends, even if it
# never says stop (a test killed by its timeout).
if [ -n "${WATCH_PID:-}" ]; then
	self=$(realpath -- "$0")
	setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
		watch "$WATCH_PID" "$self" "$dir" </dev/null >"$dir/log/watch.log" 2>&1 &
	echo $! >"$dir/watch.pid"
fi

export SLURM_CONF=$conf
slurmctld -c -f "$conf"
slurmd -f "$conf"
# The node registers within a few seconds; mpi/pmix errors in slurmd.log are
# harmless.
for _ in $(seq 300); do
	if [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; then
		echo "export SLURM_CONF=$conf"
		exit 0
	fi
	sleep 0.1
done
die "the node did not come up within 30 s: see $dir/log/"
