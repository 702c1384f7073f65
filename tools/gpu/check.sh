#!/usr/bin/env bash
# The GPU check, for a bare GPU machine (no internet, maybe no Node.js): unpacks the bundle that
# tools/gpu/build-bundle.sh made, makes sure Dawn finds a Vulkan loader and driver, runs the webgpu
# parity checks, times the paper-size MATS training step at batch 8/32/128 and greedy generation on
# webgpu, then the same in PyTorch on CUDA when torch is there. One JSON line per figure on stdout,
# human progress on stderr, everything inside CHECK_BUDGET_S (default 480 s = 8 minutes).
#
#   bash check.sh mats-gpu.tar.xz        # or, inside an unpacked bundle: bash tools/gpu/check.sh
#
# Environment (all optional):
#   MATS_GPU_MODEL    gpt2-small (default; the paper's MATS-GPT2 shapes) | world | tiny
#   MATS_GPU_BATCHES  8,32,128 (default)
#   MATS_GPU_REPS     3 (timed steps per batch size, after 2 warm-up steps)
#   CHECK_BUDGET_S    480
#   MATS_PYTHON       the Python with PyTorch (default: python3)
#   MATS_DAWN_FLAGS   Dawn toggles for create(), comma-separated (e.g. backend=vulkan)
#   CHECK_BUNDLED_NODE=1  use the bundle's bin/node even when the machine has Node 20+
#   CHECK_DIR         where to unpack (default: a new /tmp/mats-gpu.XXXXXX)
set -uo pipefail
START=$SECONDS
BUDGET=${CHECK_BUDGET_S:-480}
MODEL=${MATS_GPU_MODEL:-gpt2-small}
BATCHES=${MATS_GPU_BATCHES:-8,32,128}
REPS=${MATS_GPU_REPS:-3}
log() { echo "check: $*" >&2; }
note() { printf '{"check":"%s","note":%s}\n' "$1" "$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')"; }
left() { echo $((BUDGET - (SECONDS - START))); }

# 1. The bundle: an unpacked folder (this script inside it) or a .tar.xz to unpack.
if [[ $# -ge 1 && -f "$1" ]]; then
  command -v xz >/dev/null || { log "xz is needed to unpack $1 (or unpack it elsewhere and run tools/gpu/check.sh inside)"; exit 1; }
  DEST="${CHECK_DIR:-$(mktemp -d /tmp/mats-gpu.XXXXXX)}"
  tar -C "$DEST" -xJf "$1" || { log "could not unpack $1"; exit 1; }
  BUNDLE="$DEST/mats-gpu"
  log "unpacked into $BUNDLE in $((SECONDS - START)) s"
else
  BUNDLE="$(cd "$(dirname "$0")/../.." && pwd)"
fi
cd "$BUNDLE" || exit 1

# 2. Node: the machine's own when it is 20 or newer, else the bundled one.
NODE="$BUNDLE/bin/node"
if [[ "${CHECK_BUNDLED_NODE:-0}" != 1 ]] && command -v node >/dev/null && [[ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" -ge 20 ]] 2>/dev/null; then NODE="$(command -v node)"; fi
[[ -x "$NODE" ]] || { log "no Node.js 20+ here and the bundle has no bin/node"; exit 1; }
note environment "node $("$NODE" --version) ($NODE); $(uname -srm); $(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1 || echo 'no nvidia-smi')"

# 3. Vulkan: the loader (bundled copy when the system has none) and, for NVIDIA, the ICD file.
# ldconfig's list is read whole before matching: `ldconfig -p | grep -q` under pipefail fails with
# SIGPIPE when grep stops early, which read as "no loader" even where there is one.
LIBS="$(ldconfig -p 2>/dev/null || true)"
if ! grep -q 'libvulkan\.so\.1 ' <<<"$LIBS"; then
  export LD_LIBRARY_PATH="$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "no system Vulkan loader: using the bundled libvulkan.so.1"
fi
icd_found=""
for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
  compgen -G "$d/*.json" >/dev/null && icd_found="$d"
done
if [[ -z "$icd_found" && -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]]; then
  # Containers often get the NVIDIA driver's libraries without its Vulkan ICD manifest.
  nv="$(awk '/libGLX_nvidia\.so\.0 / && !found { print $NF; found = 1 }' <<<"$LIBS")"
  if [[ -n "$nv" ]]; then
    mkdir -p "$BUNDLE/icd"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$nv" > "$BUNDLE/icd/nvidia_icd.json"
    export VK_ICD_FILENAMES="$BUNDLE/icd/nvidia_icd.json" VK_DRIVER_FILES="$BUNDLE/icd/nvidia_icd.json"
    log "no Vulkan ICD manifest: wrote one for $nv"
  else
    log "no Vulkan ICD manifest and no libGLX_nvidia.so.0 (in a container: NVIDIA_DRIVER_CAPABILITIES needs 'graphics')"
  fi
fi

# 4. Parity on webgpu (fixtures in the bundle), then the timed steps.
status=0
log "parity checks ($(left) s left)"
if ! timeout "$(left)" "$NODE" tools/gpu/parity.mjs; then
  status=1
  log "parity checks failed or found no adapter (see above); the timings still run"
fi
webgpu_budget=$(( $(left) * 2 / 3 ))
log "webgpu: $MODEL step at batch $BATCHES + generation ($webgpu_budget s budget)"
if ! timeout "$webgpu_budget" "$NODE" tools/gpu/train-step.mjs --model "$MODEL" --batches "$BATCHES" --reps "$REPS"; then
  status=1
  note webgpu-train-step "failed or ran past its ${webgpu_budget} s budget (see stderr)"
fi

PY="${MATS_PYTHON:-python3}"
if command -v "$PY" >/dev/null && "$PY" -c 'import torch' 2>/dev/null; then
  log "PyTorch: the same step ($(left) s left)"
  timeout "$(left)" "$PY" tools/gpu_train_step_torch.py --model "$MODEL" --batches "$BATCHES" --reps "$REPS" || note torch-train-step "failed or ran out of time"
else
  note torch-train-step "skipped: no PyTorch in $PY (set MATS_PYTHON)"
fi
log "done in $((SECONDS - START)) s (budget $BUDGET s), status $status"
exit $status
