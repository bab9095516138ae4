#!/usr/bin/env bash
# Start a single-node Son of Grid Engine (Debian's gridengine 8.1.9 packages) with its DRMAA
# 1.0 library, for the DRMAA executor tests. As root, no systemd needed. Idempotent: installs
# only what is missing, starts only the daemons that are down, rewrites the configuration.
# Progress goes to stderr; stdout is only `export` lines, so
#
#   eval "$(bash .ci/sge-up.sh | grep '^export ')"
#
# sets SGE_ROOT, SGE_CELL, DRMAA_LIBRARY_PATH and GLIBC_TUNABLES for the tests.
#   FF_SGE_SLOTS    slots of all.q (default: 4; more than the cores, so tests overlap)
#   FF_SGE_TIMEOUT  seconds to wait for the execution host (default 60)
set -euo pipefail
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default DEBIAN_FRONTEND=noninteractive
SLOTS=${FF_SGE_SLOTS:-4}
TIMEOUT=${FF_SGE_TIMEOUT:-60}
COMMON=$SGE_ROOT/$SGE_CELL/common
QSPOOL=/var/spool/gridengine/qmaster
DRMAA_LIB=/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0

log() { echo "sge-up: $*" >&2; }
alive() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
quiet() { local out; out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }; }

# SGE clients look their own host name up: it must resolve.
getent hosts "$(hostname)" >/dev/null 2>&1 || echo "127.0.0.1 $(hostname)" >>/etc/hosts

# 1. Install. The packages' postinst would start daemons through invoke-rc.d; with no init
#    system that fails the install, so a temporary policy-rc.d forbids it.
missing=()
for p in gridengine-master gridengine-exec gridengine-client gridengine-drmaa1.0; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $(hostname)
EOF
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    log "installing ${missing[*]}"
    apt-cache show gridengine-master >/dev/null 2>&1 || apt-get update -qq -o DPkg::Lock::Timeout=300 >&2
    if ! apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends "${missing[@]}" >&2; then
        log "install failed; refreshing package lists and retrying"
        apt-get update -qq -o DPkg::Lock::Timeout=300 >&2
        apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
    if [ -n "$(trap -p EXIT)" ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
fi

# 2. The cell's spool (gridengine-master's postinst makes it; redo if it was skipped).
if [ ! -e /var/spool/gridengine/spooldb/sge ]; then
    install -d -o sgeadmin -g sgeadmin $SGE_ROOT $SGE_ROOT/$SGE_CELL $COMMON $QSPOOL \
        $QSPOOL/job_scripts /var/spool/gridengine/spooldb
    [ -e $COMMON/bootstrap ] || install -m0644 -o sgeadmin -g sgeadmin \
        /usr/share/gridengine/default-bootstrap $COMMON/bootstrap
    su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL /var/spool/gridengine/spooldb sgeadmin" sgeadmin >&2
fi
install -d -o sgeadmin -g sgeadmin /var/spool/gridengine/execd

# 3. Host names. The master reverse-resolves 127.0.0.1 to "localhost" and then refuses a
#    client that calls itself by the machine's name; host_aliases makes them one host.
SGEHOST=$($SGE_ROOT/utilbin/lx-amd64/gethostname -aname 2>/dev/null || hostname)
echo "$SGEHOST" >$COMMON/act_qmaster
aliases="$SGEHOST localhost"
for n in $(hostname) $(hostname -f 2>/dev/null || true) $(hostname -s); do
    case " $aliases " in *" $n "*) ;; *) aliases="$aliases $n" ;; esac
done
echo "$aliases" >$COMMON/host_aliases
chown sgeadmin:sgeadmin $COMMON/act_qmaster $COMMON/host_aliases

# 4. The master.
pid=$(cat $QSPOOL/qmaster.pid 2>/dev/null || true)
if ! alive "$pid"; then
    log "starting sge_qmaster"
    rm -f $QSPOOL/qmaster.pid $QSPOOL/lock
    /usr/sbin/sge_qmaster
fi
for _ in $(seq 1 150); do qstat >/dev/null 2>&1 && break; sleep 0.2; done
qstat >/dev/null || { log "sge_qmaster does not answer"; tail -5 $QSPOOL/messages >&2; exit 1; }

# 5. Configuration: root may run jobs (Debian's min_uid/min_gid is 1000), the scheduler runs
#    every second and right after submits and ends (default: every 15 s), accounting is
#    flushed every second.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
qconf -sconf global >$work/global
sed -i -e 's/^min_uid .*/min_uid                      0/' \
       -e 's/^min_gid .*/min_gid                      0/' \
       -e 's/^load_report_time .*/load_report_time             00:00:05/' \
       -e 's/flush_time=[0-9:]*/flush_time=00:00:01/' $work/global
(cd $work && quiet qconf -Mconf global)   # the file's name is the configuration's name
qconf -ssconf >$work/sched
sed -i -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
       -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
       -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' \
       -e 's/^job_load_adjustments .*/job_load_adjustments              NONE/' \
       -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time        0:0:0/' $work/sched
quiet qconf -Msconf $work/sched
qconf -sh 2>/dev/null | grep -qx "$SGEHOST" || quiet qconf -ah "$SGEHOST"
qconf -ss 2>/dev/null | grep -qx "$SGEHOST" || quiet qconf -as "$SGEHOST"
if ! qconf -sel 2>/dev/null | grep -qx "$SGEHOST"; then
    printf '%s\n' "hostname $SGEHOST" "load_scaling NONE" "complex_values NONE" \
        "user_lists NONE" "xuser_lists NONE" "projects NONE" "xprojects NONE" \
        "usage_scaling NONE" "report_variables NONE" >$work/exechost
    quiet qconf -Ae $work/exechost
fi
printf 'group_name @allhosts\nhostlist %s\n' "$SGEHOST" >$work/hgrp
if qconf -shgrpl 2>/dev/null | grep -qx @allhosts; then quiet qconf -Mhgrp $work/hgrp
else quiet qconf -Ahgrp $work/hgrp; fi
printf '%s\n' "pe_name smp" "slots 9999" "user_lists NONE" "xuser_lists NONE" \
    "start_proc_args NONE" "stop_proc_args NONE" 'allocation_rule $pe_slots' \
    "control_slaves FALSE" "job_is_first_task TRUE" "urgency_slots min" \
    "accounting_summary FALSE" "qsort_args NONE" >$work/smp
if qconf -spl 2>/dev/null | grep -qx smp; then quiet qconf -Mp $work/smp; else quiet qconf -Ap $work/smp; fi
{
    printf '%s\n' "qname all.q" "hostlist @allhosts" "seq_no 0" "load_thresholds NONE" \
        "suspend_thresholds NONE" "nsuspend 1" "suspend_interval 00:05:00" "priority 0" \
        "min_cpu_interval 00:05:00" "processors UNDEFINED" "qtype BATCH INTERACTIVE" \
        "ckpt_list NONE" "pe_list smp" "rerun FALSE" "slots $SLOTS" "tmpdir /tmp" \
        "shell /bin/sh" "prolog NONE" "epilog NONE" "shell_start_mode unix_behavior" \
        "starter_method NONE" "suspend_method NONE" "resume_method NONE" \
        "terminate_method NONE" "notify 00:00:60" "owner_list NONE" "user_lists NONE" \
        "xuser_lists NONE" "subordinate_list NONE" "complex_values NONE" "projects NONE" \
        "xprojects NONE" "calendar NONE" "initial_state default"
    for limit in rt cpu fsize data stack core rss vmem; do
        printf 's_%s INFINITY\nh_%s INFINITY\n' $limit $limit
    done
} >$work/allq
if qconf -sql 2>/dev/null | grep -qx all.q; then quiet qconf -Mq $work/allq; else quiet qconf -Aq $work/allq; fi

# 6. The execution daemon.
running_execd=""
for f in /var/spool/gridengine/execd/*/execd.pid; do
    [ -s "$f" ] && alive "$(cat "$f")" && running_execd=$(cat "$f")
done
if [ -z "$running_execd" ]; then
    log "starting sge_execd"
    /usr/sbin/sge_execd
fi

# 7. Wait until all.q on this host takes jobs: a line with no state letters and a load.
deadline=$(( $(date +%s) + TIMEOUT )); line=""
while :; do
    line=$(qstat -f -q "all.q@$SGEHOST" 2>/dev/null | grep '^all.q@' || true)
    if [ -n "$line" ] && [ "$(echo "$line" | awk '{print NF}')" = 5 ] && ! echo "$line" | grep -q -- '-NA-'; then
        break
    fi
    case "$line" in *" E"*) qmod -c "all.q@$SGEHOST" >/dev/null 2>&1 || true ;; esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log "the execution host is not ready: '$line'"; qstat -f >&2 || true; exit 1
    fi
    sleep 0.2
done
[ -e "$DRMAA_LIB" ] || { log "the DRMAA library $DRMAA_LIB is missing"; exit 1; }
log "ready: all.q@$SGEHOST with $SLOTS slots"

echo "export SGE_ROOT=$SGE_ROOT"
echo "export SGE_CELL=$SGE_CELL"
echo "export DRMAA_LIBRARY_PATH=$DRMAA_LIB"
# The library links jemalloc (initial-exec TLS): a running Python can dlopen it only if
# glibc reserved more static TLS when the interpreter started.
case ":${GLIBC_TUNABLES:-}:" in
    *optional_static_tls*) echo "export GLIBC_TUNABLES=$GLIBC_TUNABLES" ;;
    *) echo "export GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.rtld.optional_static_tls=16384" ;;
esac
