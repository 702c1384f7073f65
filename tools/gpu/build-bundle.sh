#!/usr/bin/env bash
# Builds tools/gpu/out/mats-gpu.tar.xz (git-ignored): everything tools/gpu/check.sh needs on a bare
# GPU machine with no internet and maybe no Node.js, under 64 MiB:
#   bin/node                 this machine's Node binary
#   lib/libvulkan.so.1       the Vulkan loader (used only when the target has none)
#   node_modules/            only the files Node actually opens to load @mats/core, @mats/llm-lora,
#                            @mats/mapper, tfjs, @tensorflow/tfjs-backend-webgpu and webgpu (dawn.node,
#                            linux-x64 only), found by tracing a load with strace
#   packages/*/fixtures      the small parity fixtures (GPT-2 tiny, LoRA tiny, mapper cases)
#   tools/gpu/*.mjs, check.sh, tools/gpu_train_step_torch.py and the Python modules it imports
# Prints the bundle's size. Needs strace and xz; run from anywhere in the repository:
#   bash tools/gpu/build-bundle.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/tools/gpu/out"
STAGE="$OUT/mats-gpu"
LIMIT=$((64 * 1024 * 1024))
export NX_DAEMON=false

for tool in strace xz node; do
  command -v "$tool" >/dev/null || { echo "build-bundle: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
[[ -d "$ROOT/node_modules/webgpu" && -d "$ROOT/node_modules/@tensorflow/tfjs-backend-webgpu" ]] ||
  { echo "build-bundle: the optional packages webgpu and @tensorflow/tfjs-backend-webgpu are not installed (npm ci)" >&2; exit 1; }

echo "build-bundle: building @mats/core, @mats/llm-lora, @mats/mapper" >&2
(cd "$ROOT" && for p in core llm-lora mapper; do npx tsc -p "packages/$p"; done)

rm -rf "$STAGE" && mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/tools/gpu"

# Every file under node_modules/ or packages/*/dist that Node opens while importing the modules
# (dynamic imports included: webgpu and the tfjs webgpu backend are imported by selectBackend).
trace="$OUT/trace.txt"
(cd "$ROOT/tools/gpu" && strace -f -qq -e trace=openat,open,stat,statx,newfstatat,readlink -o "$trace" node --input-type=module -e "
  await import('@mats/core'); await import('@mats/llm-lora'); await import('@mats/mapper');
  await import('@tensorflow/tfjs'); await import('webgpu');
  globalThis.navigator = { gpu: {} }; await import('@tensorflow/tfjs-backend-webgpu'); delete globalThis.navigator;
" >/dev/null)
node - "$ROOT" "$STAGE" "$trace" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [root, stage, trace] = process.argv.slice(2);
const real = fs.realpathSync(root);
// packages/<dir> -> node_modules/<package name> (workspaces link them there).
const packageDirs = new Map();
for (const dir of fs.readdirSync(path.join(real, 'packages'))) {
  const pj = path.join(real, 'packages', dir, 'package.json');
  if (fs.existsSync(pj)) packageDirs.set(dir, JSON.parse(fs.readFileSync(pj, 'utf8')).name);
}
const files = new Set();
for (const line of fs.readFileSync(trace, 'utf8').split('\n')) {
  if (/= -1 /.test(line)) continue; // failed lookups
  const m = line.match(/"([^"]+)"/);
  if (!m) continue;
  const p = path.resolve(real, m[1]);
  if (!p.startsWith(real + '/') || !fs.existsSync(p) || !fs.statSync(p).isFile()) continue;
  files.add(p);
}
let count = 0;
for (const p of files) {
  const rel = path.relative(real, p);
  let dest = null;
  if (rel.startsWith('node_modules/')) dest = rel;
  else {
    const m = rel.match(/^packages\/([^/]+)\/(package\.json|dist\/.*)$/);
    if (m && packageDirs.has(m[1]) && !/\.test\.|\.d\.ts$|\.map$/.test(m[2])) dest = path.join('node_modules', packageDirs.get(m[1]), m[2]);
  }
  if (!dest || dest.includes('/.bin/')) continue;
  fs.mkdirSync(path.dirname(path.join(stage, dest)), { recursive: true });
  fs.copyFileSync(p, path.join(stage, dest));
  count++;
}
console.error(`build-bundle: ${count} files from node_modules and packages/*/dist`);
EOF

cp "$(readlink -f "$(command -v node)")" "$STAGE/bin/node"
# awk reads ldconfig's whole output (no early exit): a closed pipe would kill ldconfig with SIGPIPE,
# and under pipefail + errexit that ended this script silently.
vulkan="$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ && !found { print $NF; found = 1 }')"
if [[ -n "$vulkan" ]]; then cp "$(readlink -f "$vulkan")" "$STAGE/lib/libvulkan.so.1"; else echo "build-bundle: warning: no libvulkan.so.1 here to ship" >&2; fi

mkdir -p "$STAGE/packages/llm-lora/fixtures" "$STAGE/packages/mapper/fixtures"
cp -r "$ROOT/packages/llm-lora/fixtures/gpt2-tiny" "$ROOT/packages/llm-lora/fixtures/lora-tiny" "$ROOT/packages/llm-lora/fixtures/reference.json" "$STAGE/packages/llm-lora/fixtures/"
for c in msclap projection mats; do cp "$ROOT/packages/mapper/fixtures/$c.json" "$ROOT/packages/mapper/fixtures/$c.safetensors" "$STAGE/packages/mapper/fixtures/"; done
cp "$ROOT"/tools/gpu/{check.sh,parity.mjs,train-step.mjs,README.md} "$STAGE/tools/gpu/"
cp "$ROOT"/tools/{gpu_train_step_torch.py,bench_train_step_reference.py,bench_common.py,make_mapper_fixtures.py,safetensors_io.py} "$STAGE/tools/"
git -C "$ROOT" rev-parse --short HEAD > "$STAGE/COMMIT" 2>/dev/null || true

echo "build-bundle: compressing (xz -9)" >&2
tar -C "$OUT" -cf - mats-gpu | xz -9 -T0 > "$OUT/mats-gpu.tar.xz"
size=$(stat -c %s "$OUT/mats-gpu.tar.xz")
unpacked=$(du -sb "$STAGE" | cut -f1)
awk -v f="$OUT/mats-gpu.tar.xz" -v s="$size" -v u="$unpacked" 'BEGIN { printf "bundle: %s  %.1f MiB compressed (%.1f MiB unpacked), limit 64 MiB\n", f, s / 1048576, u / 1048576 }'
if (( size > LIMIT )); then echo "build-bundle: the bundle is over 64 MiB" >&2; exit 1; fi
