#!/usr/bin/env bash
# Compile cost of the derive: generates two crates with the same 50 structs of
# 10 fields, one with `#[derive(SessionSchema)]`, one with serde's
# `#[derive(Serialize, Deserialize)]` only, builds their dependencies once,
# then times `cargo check` of each crate's own code RUNS times (alternating)
# and prints the medians and their ratio.
#
#   bash scripts/compile-cost.sh            # RUNS=5 by default
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/compile-cost"
runs=${RUNS:-5}
schemas=50
mkdir -p "$out"

# One struct of ten fields; $1 is its number, $2 "typed" or "serde".
struct() {
  local n=$1 kind=$2
  if [[ $kind == typed ]]; then
    cat <<RUST
#[derive(SessionSchema)]
#[session(namespace = "s$n")]
pub struct Schema$n {
    pub user_id: Option<u64>,
    pub name: Option<String>,
    #[session(default)]
    pub counter: u64,
    #[session(default)]
    pub cart: Vec<String>,
    #[session(expires_in = "15m", sensitive)]
    pub csrf_token: Option<String>,
    #[session(flash)]
    pub notice: Option<String>,
    #[session(default = String::from("en"))]
    pub locale: String,
    #[session(default)]
    pub dark_mode: bool,
    pub last_seen: Option<i64>,
    #[session(key = "s$n.legacy_theme")]
    pub theme: Option<String>,
}
RUST
  else
    cat <<RUST
#[derive(Serialize, Deserialize)]
pub struct Schema$n {
    pub user_id: Option<u64>,
    pub name: Option<String>,
    #[serde(default)]
    pub counter: u64,
    #[serde(default)]
    pub cart: Vec<String>,
    pub csrf_token: Option<String>,
    pub notice: Option<String>,
    #[serde(default = "english")]
    pub locale: String,
    #[serde(default)]
    pub dark_mode: bool,
    pub last_seen: Option<i64>,
    #[serde(rename = "legacy_theme")]
    pub theme: Option<String>,
}
RUST
  fi
}

generate() {
  local kind=$1 dir="$out/$1"
  mkdir -p "$dir/src"
  if [[ $kind == typed ]]; then
    dependency="session-core = { path = \"$root/session-core\" }"
    prelude="use session_core::SessionSchema;"
  else
    dependency='serde = { version = "1", features = ["derive"] }'
    prelude=$'use serde::{Deserialize, Serialize};\n\nfn english() -> String {\n    String::from("en")\n}'
  fi
  cat >"$dir/Cargo.toml" <<TOML
[package]
name = "compile-cost-$kind"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$dependency

[workspace]
TOML
  {
    echo "#![allow(dead_code)]"
    echo "$prelude"
    for n in $(seq 1 $schemas); do
      echo
      struct "$n" "$kind"
    done
  } >"$dir/src/lib.rs"
  cp "$root/Cargo.lock" "$dir/Cargo.lock"
}

# Incremental compilation off: every timed check redoes the crate's own work.
check() {
  CARGO_INCREMENTAL=0 CARGO_TARGET_DIR="$out/target" cargo check --quiet --manifest-path "$out/$1/Cargo.toml"
}

# Seconds for one `cargo check` of the crate's own code.
timed_check() {
  touch "$out/$1/src/lib.rs"
  local start end
  start=$(date +%s.%N)
  check "$1"
  end=$(date +%s.%N)
  awk -v start="$start" -v end="$end" 'BEGIN { printf "%.3f\n", end - start }'
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

for kind in typed serde; do
  generate "$kind"
  check "$kind" # dependencies, once
done

typed_times=() serde_times=()
for _ in $(seq 1 "$runs"); do
  typed_times+=("$(timed_check typed)")
  serde_times+=("$(timed_check serde)")
done
typed=$(printf '%s\n' "${typed_times[@]}" | median)
serde=$(printf '%s\n' "${serde_times[@]}" | median)
printf '%d schemas of 10 fields, cargo check of the crate itself, median of %d runs\n' "$schemas" "$runs"
printf 'SessionSchema derive:          %.2f s (%s)\n' "$typed" "${typed_times[*]}"
printf 'serde derive only:             %.2f s (%s)\n' "$serde" "${serde_times[*]}"
awk -v typed="$typed" -v serde="$serde" 'BEGIN { printf "ratio typed / serde:           %.2fx\n", typed / serde }'
