#!/usr/bin/env bash
# The Node matrix: the README's test command (npm test) on the oldest Node.js version in .ci/node-versions and the
# fast tier on every other, one after another, whichever Node started it. Run by .ci/run after npm ci, and by `npm run test:matrix`.
#
# Each version other than the Node running this script comes from the npm registry (node-<os>-<arch>@VERSION: the
# official binary and headers, no npm) into a cache folder git ignores. Its bin/ goes first on PATH and
# npm_config_nodedir names its own folder, so node-gyp builds native addons against its own headers: with another
# Node's headers (this machine's npm config names /usr, Node 20's) the build succeeds and the addon then fails to
# load (ERR_DLOPEN_FAILED ... NODE_MODULE_VERSION). npm is the one that started the matrix, run by that version's
# Node from PATH; the script checks that npm reports that Node.
#
# node_modules is installed once (npm ci) and shared: from one lock file npm installs the same tree on every Node,
# and what depends on the Node is a native addon compiled against its ABI (a package with a binding.gyp:
# better-sqlite3 12). So per version only those packages are rebuilt, from source (their prebuilt download is not
# reachable here, and a failed download only costs time), and each build is kept in the cache by package version
# and Node version: a later run on the same Node puts the kept build back instead of compiling. Before the tests of
# a version, every addon must load on its Node. At the end (or on an interrupt) the build for the Node that started
# the matrix is put back, so `npm start` and `npm test` work as before.
#
# Getting a version ready (installing its Node, building its addons: ~100 s of one core each, most of it compiling
# SQLite) does not wait for the runs before it: a background job gets every other version ready, in order and at a
# lower priority, while the runs go on in the foreground, on the CPU they leave. It works in the cache and in copies
# of the addons' folders, never in node_modules; a run waits until its version is ready, and does what the job could
# not do (or did not get to) itself, as before.
#
# Each run gets a TMPDIR of its own (tsx's transform cache, browser profiles, temporary files), so no run sees
# another's leftovers, and a log, build/test-matrix/node-VERSION.log. The summary gives each version's result,
# time (and the part of it spent before the command: installing Node, building the addons) and vitest counts; any
# failure makes the exit status 1. A lock keeps two matrices in one clone apart.
#
# TEST_MATRIX_COMMAND replaces the command (default `npm test`), to prove the plumbing cheaply:
#   TEST_MATRIX_COMMAND='npx vitest run test/server/storage' npm run test:matrix
# TEST_MATRIX_VERSIONS (space-separated) picks some of the file's versions; TEST_MATRIX_CACHE moves the cache
# (default .cache/test-matrix, which a CI may keep between runs); TEST_MATRIX_VERSIONS_FILE and TEST_MATRIX_LOGS
# replace .ci/node-versions and build/test-matrix (test/matrix/ runs the script inside npm test that way).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VERSIONS_FILE=${TEST_MATRIX_VERSIONS_FILE:-.ci/node-versions}
CACHE=${TEST_MATRIX_CACHE:-$ROOT/.cache/test-matrix}
COMMAND=${TEST_MATRIX_COMMAND:-npm test}
# The lines after the oldest run the fast tier (the contract suite on every target included) rather than everything:
# what differs between Node lines (the addons, fetch, zlib, the HTTP parser) is exercised there, and CI stays short
# (docs/node.md). TEST_MATRIX_OTHER_COMMAND replaces it; with TEST_MATRIX_COMMAND set, every version runs that command.
OTHER_COMMAND=${TEST_MATRIX_OTHER_COMMAND:-${TEST_MATRIX_COMMAND:-npm run test:fast}}
LOGS=${TEST_MATRIX_LOGS:-$ROOT/build/test-matrix}

say() { printf 'test-matrix: %s\n' "$*"; }
die() { printf 'test-matrix: %s\n' "$*" >&2; exit 1; }

mapfile -t ALL < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$VERSIONS_FILE" | grep -v '^$')
[ "${#ALL[@]}" -gt 0 ] || die "$VERSIONS_FILE names no version"
for v in "${ALL[@]}"; do
  [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$VERSIONS_FILE: '$v' is not an exact version (MAJOR.MINOR.PATCH)"
done
VERSIONS=("${ALL[@]}")
if [ -n "${TEST_MATRIX_VERSIONS:-}" ]; then
  VERSIONS=()
  for v in $TEST_MATRIX_VERSIONS; do
    printf '%s\n' "${ALL[@]}" | grep -qxF "$v" || die "TEST_MATRIX_VERSIONS: $v is not in $VERSIONS_FILE"
    VERSIONS+=("$v")
  done
fi

case "$(uname -s)" in Linux) OS=linux ;; Darwin) OS=darwin ;; *) die "no Node package on the npm registry for $(uname -s)" ;; esac
case "$(uname -m)" in x86_64 | amd64) ARCH=x64 ;; aarch64 | arm64) ARCH=arm64 ;; *) die "no Node package on the npm registry for $(uname -m)" ;; esac
PLATFORM=$OS-$ARCH

mkdir -p "$CACHE/node" "$CACHE/addons" "$LOGS"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/lock"
  flock -n 9 || die "another test matrix is running in this clone (it holds $CACHE/lock)"
fi

ORIGIN_NODE=$(command -v node) || die "no node on PATH"
ORIGIN_VERSION=$("$ORIGIN_NODE" -p process.versions.node)
ORIGIN_PATH=$PATH
[ -d node_modules ] || die "no node_modules: run npm ci first"

# The native addons: packages with a binding.gyp (node-gyp's own test fixtures aside).
ADDONS=()
ADDON_NAMES=()
while IFS= read -r gyp; do
  dir=$(dirname "$gyp")
  [ -f "$dir/package.json" ] || continue
  ADDONS+=("$dir")
  ADDON_NAMES+=("$("$ORIGIN_NODE" -p "require('./$dir/package.json').name")")
done < <(find node_modules/ -name binding.gyp -not -path '*/node-gyp/*' | sort)

# Loads every Node addon in each package's build/Release on the Node that runs it; fails on any that does not load.
# A .node file that is not a Node addon (better-sqlite3's test_extension.node is an SQLite extension) "did not
# self-register" and is skipped; each package needs at least one addon that loads.
# shellcheck disable=SC2016
ADDON_CHECK='
const fs = require("node:fs");
const path = require("node:path");
let failed = false;
for (const dir of process.argv.slice(1)) {
  const release = path.resolve(dir, "build", "Release");
  const files = fs.existsSync(release) ? fs.readdirSync(release).filter((f) => f.endsWith(".node")) : [];
  const loaded = [];
  for (const file of files) {
    try {
      process.dlopen({ exports: {} }, path.join(release, file));
      loaded.push(file);
    } catch (error) {
      if (!/did not self-register/.test(error.message)) {
        console.error(`test-matrix: ${dir}/build/Release/${file} does not load on Node ${process.version}: ${error.message}`);
        failed = true;
      }
    }
  }
  if (loaded.length === 0) {
    console.error(`test-matrix: ${dir}: no addon in build/Release loads on Node ${process.version}`);
    failed = true;
  } else {
    console.log(`test-matrix: ${dir}: ${loaded.join(", ")} loads on Node ${process.version} (NODE_MODULE_VERSION ${process.versions.modules})`);
  }
}
process.exitCode = failed ? 1 : 0;
'

addon_cache() { # DIR VERSION: where the build of the addon in DIR for Node VERSION is kept
  local id
  id=$("$ORIGIN_NODE" -p "const p = require('./$1/package.json'); p.name + '@' + p.version")
  printf '%s/addons/%s/node-%s-%s' "$CACHE" "$id" "$2" "$PLATFORM"
}

addons_keep() { # VERSION: keep the addons' current builds as those for Node VERSION
  local dir dest
  for dir in "${ADDONS[@]}"; do
    dest=$(addon_cache "$dir" "$1")
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp" && cp -a "$dir/build" "$dest.tmp/build" || return 1
    rm -rf "$dest" && mv "$dest.tmp" "$dest" || return 1
  done
}

same_addons() { # KEPT DIR: whether the addons in DIR/build/Release are those in KEPT/build/Release
  local file
  [ -d "$2/build/Release" ] || return 1
  for file in "$1"/build/Release/*.node; do cmp -s "$file" "$2/build/Release/${file##*/}" || return 1; done
}

addons_put_back() { # VERSION: put the kept builds for Node VERSION in place; 1 when one of them is not kept
  local dir kept
  for dir in "${ADDONS[@]}"; do [ -d "$(addon_cache "$dir" "$1")/build" ] || return 1; done
  for dir in "${ADDONS[@]}"; do
    kept=$(addon_cache "$dir" "$1")
    # Already in place (the run on the Node that started the matrix, or the matrix inside npm test): left alone,
    # since other processes may be loading it.
    same_addons "$kept" "$dir" && continue
    rm -rf "$dir/build" && cp -a "$kept/build" "$dir/build" || return 1
  done
}

headers_version() { # NODEDIR: the Node version its include/node headers are for, or nothing
  local h=$1/include/node/node_version.h
  [ -f "$h" ] || return 0
  awk '/^#define NODE_(MAJOR|MINOR|PATCH)_VERSION /{v[$2]=$3} END{print v["NODE_MAJOR_VERSION"] "." v["NODE_MINOR_VERSION"] "." v["NODE_PATCH_VERSION"]}' "$h"
}

node_install() { # VERSION HOME: node-<os>-<arch>@VERSION from the npm registry into HOME, whole or not at all
  local v=$1 home=$2 tmp
  say "installing Node $v from the npm registry (node-$PLATFORM@$v) into ${home#"$ROOT"/}"
  tmp=$(mktemp -d "$CACHE/node/.install-$v.XXXXXX") || return 1
  (cd "$tmp" && PATH=$ORIGIN_PATH npm pack --loglevel=error --ignore-scripts "node-$PLATFORM@$v" >/dev/null) || { rm -rf "$tmp"; return 1; }
  mkdir "$tmp/home" && tar -xzf "$tmp/node-$PLATFORM-$v.tgz" -C "$tmp/home" --strip-components=1 || { rm -rf "$tmp"; return 1; }
  [ "$("$tmp/home/bin/node" -p process.versions.node)" = "$v" ] || { say "node-$PLATFORM@$v is not Node $v"; rm -rf "$tmp"; return 1; }
  rm -rf "$home" && mv "$tmp/home" "$home" && rm -rf "$tmp"
}

# The addons in node_modules were built by npm ci for the Node that started the matrix: keep that build, to put it
# back at the end.
if [ "${#ADDONS[@]}" -gt 0 ]; then
  "$ORIGIN_NODE" -e "$ADDON_CHECK" "${ADDONS[@]}" >/dev/null ||
    die "node_modules' native addons do not load on the Node that started the matrix ($ORIGIN_VERSION): run npm ci (npm_config_nodedir must name this Node's own folder)"
  addons_keep "$ORIGIN_VERSION" || die "cannot keep the addons' build in $CACHE"
fi
finish() { # at exit: stop the background job, and put back the addons built for the Node that started the matrix
  [ -z "${PREPARE_PID:-}" ] || kill -- "-$PREPARE_PID" 2>/dev/null || true
  [ -n "${PREPARED:-}" ] && rm -rf "$PREPARED"
  [ "${#ADDONS[@]}" -gt 0 ] || return 0
  addons_put_back "$ORIGIN_VERSION" && say "native addons: back to the build for Node $ORIGIN_VERSION" ||
    say "could not put back the native addons built for Node $ORIGIN_VERSION: run npm rebuild ${ADDON_NAMES[*]}"
}
trap finish EXIT

# npm's own node-gyp, which npm rebuild runs: the background job builds with it.
NODE_GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js

prepare_one() { # VERSION: install Node VERSION (unless installed) and build the addons for it into the cache
  local v=$1 nodedir=$CACHE/node/$1-$PLATFORM dir kept scratch
  if [ "$("$nodedir/bin/node" -p process.versions.node 2>/dev/null)" != "$v" ] || [ "$(headers_version "$nodedir")" != "$v" ]; then
    node_install "$v" "$nodedir" || return 1
  fi
  for dir in "${ADDONS[@]}"; do
    kept=$(addon_cache "$dir" "$v")
    [ -d "$kept/build" ] && continue
    # The package's folder without its build, built as its install script does once the prebuilt download fails.
    scratch=$(mktemp -d "$CACHE/.build-$v.XXXXXX") || return 1
    mkdir "$scratch/package" && find "$dir" -mindepth 1 -maxdepth 1 ! -name build -exec cp -a {} "$scratch/package/" \; || { rm -rf "$scratch"; return 1; }
    (cd "$scratch/package" && env PATH="$nodedir/bin:$ORIGIN_PATH" npm_config_nodedir="$nodedir" \
      "$nodedir/bin/node" "$NODE_GYP" rebuild --release --nodedir="$nodedir") || { rm -rf "$scratch"; return 1; }
    mkdir -p "$(dirname "$kept")" && rm -rf "$kept.tmp" && mkdir "$kept.tmp" && mv "$scratch/package/build" "$kept.tmp/build" &&
      rm -rf "$kept" && mv "$kept.tmp" "$kept" || { rm -rf "$scratch"; return 1; }
    rm -rf "$scratch"
  done
}

PREPARED=''
PREPARE_PID=''
TO_PREPARE=()
for v in "${VERSIONS[@]}"; do [ "$v" = "$ORIGIN_VERSION" ] || TO_PREPARE+=("$v"); done
if [ "${#TO_PREPARE[@]}" -gt 0 ] && [ -f "$NODE_GYP" ]; then
  PREPARED=$(mktemp -d "${TMPDIR:-/tmp}/test-matrix-prepared.XXXXXX")
  # Each version's outcome (its status) in $PREPARED/VERSION once the job is done with it; its log beside the run's.
  # set -m gives the job a process group of its own, so that finish() stops it with everything it started.
  set -m
  (
    renice -n 10 -p "$BASHPID" >/dev/null 2>&1 || true
    for v in "${TO_PREPARE[@]}"; do
      status=0
      prepare_one "$v" >"$LOGS/node-$v.log.prepare" 2>&1 || status=$?
      echo "$status" >"$PREPARED/$v"
    done
  ) &
  PREPARE_PID=$!
  set +m
  say "getting ${TO_PREPARE[*]} ready in the background (logs: ${LOGS#"$ROOT"/}/node-VERSION.log.prepare)"
fi

wait_prepared() { # VERSION: until the background job is done with VERSION (or has stopped)
  [ -n "$PREPARED" ] || return 0
  while [ ! -f "$PREPARED/$1" ] && kill -0 "$PREPARE_PID" 2>/dev/null; do sleep 1; done
  if [ "$(cat "$PREPARED/$1" 2>/dev/null)" = 0 ]; then say "Node $1: made ready in the background"; else
    say "Node $1: the background job could not make it ready (${LOGS#"$ROOT"/}/node-$1.log.prepare); trying here"
  fi
}

run_one() { # VERSION LOG: prepare Node VERSION and run the command on it; the status is the result
  local v=$1 log=$2 bin nodedir tmp status=0
  [ "$v" = "$ORIGIN_VERSION" ] || wait_prepared "$v"
  if [ "$v" = "$ORIGIN_VERSION" ]; then
    bin=$(dirname "$ORIGIN_NODE")
    nodedir=$(cd "$(dirname "$(readlink -f "$ORIGIN_NODE")")/.." && pwd)
    [ "$(headers_version "$nodedir")" = "$v" ] || nodedir=''
  else
    nodedir=$CACHE/node/$v-$PLATFORM
    if [ "$("$nodedir/bin/node" -p process.versions.node 2>/dev/null)" != "$v" ] || [ "$(headers_version "$nodedir")" != "$v" ]; then
      node_install "$v" "$nodedir" || { say "cannot install Node $v"; return 1; }
    fi
    bin=$nodedir/bin
  fi
  # What every command of this run sees: this Node first on PATH, its own headers for node-gyp, and a TMPDIR of its
  # own. NODE and npm_node_execpath are set by an npm that ran this script; they must name this Node too.
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-matrix-node-$v.XXXXXX") || return 1
  local -a env_run=(env)
  if [ -z "$nodedir" ]; then env_run+=(-u npm_config_nodedir); else env_run+=(npm_config_nodedir="$nodedir"); fi
  env_run+=(PATH="$bin:$ORIGIN_PATH" NODE="$bin/node" npm_node_execpath="$bin/node" TMPDIR="$tmp")
  run_in_env "${env_run[@]}" || status=$?
  rm -rf "$tmp"
  return "$status"
}

run_in_env() { # ENV...: the checks, the addons and the command of run_one, every command run by ENV
  local -a env_run=("$@")
  local npm_node='' npm_own='' status=0
  # Through npm, as the command's scripts are run: npm must report this Node as the one it runs on.
  read -r npm_node npm_own < <("${env_run[@]}" npm version --json |
    "$bin/node" -e 'const v = JSON.parse(require("node:fs").readFileSync(0, "utf8")); console.log(v.node, v.npm)') || true
  say "Node $v: $bin/node, headers ${nodedir:-(none)}, npm ${npm_own:-?} running on Node ${npm_node:-?}"
  [ "$npm_node" = "$v" ] || { say "npm does not run on Node $v"; return 1; }

  if [ "${#ADDONS[@]}" -gt 0 ]; then
    if addons_put_back "$v"; then
      say "native addons (${ADDON_NAMES[*]}): the build kept for Node $v"
      "$bin/node" -e "$ADDON_CHECK" "${ADDONS[@]}" || return 1
    elif [ -n "$nodedir" ]; then
      say "native addons (${ADDON_NAMES[*]}): building from source for Node $v (log: ${log#"$ROOT"/}.rebuild)"
      # npm_config_build_from_source is prebuild-install's switch (better-sqlite3's install script tries a download
      # from GitHub first); npm warns that it does not know it, and passes it on to the script all the same.
      "${env_run[@]}" npm_config_build_from_source=true npm rebuild --foreground-scripts "${ADDON_NAMES[@]}" \
        >"$log.rebuild" 2>&1 || { tail -n 30 "$log.rebuild"; say "building the addons for Node $v failed"; return 1; }
      "$bin/node" -e "$ADDON_CHECK" "${ADDONS[@]}" || return 1
      addons_keep "$v" || return 1
    else
      say "no headers for Node $v to build the addons with"
      return 1
    fi
  fi

  local command=$COMMAND
  [ "$v" = "${VERSIONS[0]}" ] || command=$OTHER_COMMAND
  say "Node $v: $command"
  COMMAND_START=$(date +%s)
  "${env_run[@]}" bash -c "$command" 2>&1 | tee "$log" || status=$?
  return "$status"
}

RESULTS=()
failed=0
for v in "${VERSIONS[@]}"; do
  log=$LOGS/node-$v.log
  : >"$log"
  say "===== Node $v ====="
  start=$(date +%s)
  COMMAND_START=''
  status=0
  run_one "$v" "$log" || status=$?
  end=$(date +%s)
  seconds=$((end - start))
  setup=$((${COMMAND_START:-$end} - start))
  counts=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ *(Test Files|Tests) ' | sed -E 's/^ +//; s/ +/ /g' | paste -sd ';' - | sed 's/;/; /g' || true)
  if [ "$status" = 0 ]; then result=passed; else result="FAILED ($status)"; failed=1; fi
  RESULTS+=("$(printf 'Node %-8s %-11s %3dm%02ds (setup %3ds)  %s' "$v" "$result" $((seconds / 60)) $((seconds % 60)) "$setup" \
    "${counts:-no vitest counts}")")
  say "Node $v: $result in $((seconds / 60))m$((seconds % 60))s, of which ${setup}s before the command (Node, addons)"
done

say "summary ($COMMAND on the oldest, $OTHER_COMMAND on the others; logs in ${LOGS#"$ROOT"/}/)"
printf '  %s\n' "${RESULTS[@]}"
exit "$failed"
