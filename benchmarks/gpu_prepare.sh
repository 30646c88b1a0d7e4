#!/usr/bin/env bash
# Run HERE (PyPI reachable), before a GPU lease: fetch what benchmarks/gpu_check.py needs on the
# GPU machine, which has no network. That machine (see benchmarks/gpu_check.py) runs Python 3.12
# on Linux x86_64 with torch 2.11, torchvision, numpy, opencv, tokenizers, sacrebleu,
# safetensors, setuptools and cloudpickle, but not tyro (the CLI parser milestones.core.config
# imports), gymnasium or ale-py (DQN's environments; the Atari ROMs ship inside ale-py).
#
#   bash benchmarks/gpu_prepare.sh                 # the wheels into .gpu-wheels/ (about 4 MB)
#   bash benchmarks/gpu_prepare.sh --verify        # and install them offline into a fresh
#                                                  # Python 3.12 venv, as the device will
#   bash benchmarks/gpu_prepare.sh --cifar PATH    # also copy CIFAR-10 (a .tar.gz of an image
#                                                  # folder, e.g. ../shared/data/cifar10-jpg.tar.gz)
#                                                  # into .gpu-wheels/data/ for time-to-target
#
# .gpu-wheels/ is listed in .git/info/exclude (git ignores it; so does what travels to the
# device, unless named): the device call names it in `carry`. It also gets SOURCE.json, the git
# SHA this was prepared at (the device has no .git). The command to run there is in the
# docstring of benchmarks/gpu_check.py.
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
DEST=.gpu-wheels
PYTHON=${PYTHON:-python3}
VERIFY=0
CIFAR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --verify) VERIFY=1 ;;
    --cifar) CIFAR="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# One version of each, the ones the tests pass with here; every dependency they declare is
# listed, except numpy (the device has it). --no-deps keeps pip from picking other versions.
WHEELS=(
  tyro==1.0.17 docstring-parser==0.18.0 typeguard==4.6.1 typing-extensions==4.16.0
  gymnasium==1.4.0 farama-notifications==0.0.6 cloudpickle==3.1.3
  ale-py==0.12.1
)
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)

mkdir -p "$DEST"
"$PYTHON" -m pip download --quiet --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --abi cp312 --abi abi3 --abi none "${PLATFORMS[@]}" -d "$DEST" \
  "${WHEELS[@]}"

exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qxF "/$DEST/" "$exclude" 2>/dev/null || echo "/$DEST/" >> "$exclude"

sha="$(git rev-parse HEAD)"
dirty=false
[ -z "$(git status --porcelain --untracked-files=no)" ] || dirty=true
printf '{"git_sha": "%s", "git_dirty": %s, "date": "%s"}\n' "$sha" "$dirty" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$DEST/SOURCE.json"

if [ -n "$CIFAR" ]; then
  mkdir -p "$DEST/data"  # a subfolder: pip's --find-links would read a .tar.gz as a package
  cp -r "$CIFAR" "$DEST/data/"
fi

echo "wheels in $DEST:"
ls -1 "$DEST"/*.whl | sed 's|^|  |'
size=$(du -sm "$DEST" | cut -f1)
echo "total: ${size} MiB (the device takes 64 MiB with the working tree)"
if [ "$size" -gt 48 ]; then
  echo "warning: over 48 MiB; with the working tree it may not fit the 64 MiB that travels" >&2
fi

if [ "$VERIFY" = 1 ]; then
  # A fresh Python 3.12 venv with what the device has that these wheels need (numpy,
  # setuptools), then the device's offline install, then an Atari env and the package import.
  py312="$(command -v python3.12 || true)"
  if ! { [ -n "$py312" ] && "$py312" -c '' 2>/dev/null; } && command -v pyenv >/dev/null; then
    v="$(pyenv versions --bare | grep -E '^3\.12(\.|$)' | tail -1 || true)"  # a shim may fail
    [ -z "$v" ] || py312="$(pyenv root)/versions/$v/bin/python3.12"
  fi
  if [ -z "$py312" ] || ! "$py312" -c '' 2>/dev/null; then
    echo "verify: no Python 3.12 here (python3.12 or pyenv); the wheels were not test-installed" >&2
    exit 1
  fi
  venv="$(mktemp -d)/venv"
  trap 'rm -rf "$(dirname "$venv")"' EXIT
  "$py312" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet numpy setuptools
  offline=(env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null)
  "${offline[@]}" "$venv/bin/python" -m pip install --quiet --no-index --find-links "$DEST" \
    tyro gymnasium ale-py
  "${offline[@]}" "$venv/bin/python" -m pip install --quiet --no-index --no-deps \
    --no-build-isolation -e .
  (cd /tmp && "$venv/bin/python" - <<'EOF'
import ale_py, gymnasium, tyro
import milestones

gymnasium.register_envs(ale_py)
env = gymnasium.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
obs, _ = env.reset(seed=0)
print(f"verify: ok in a fresh venv of Python 3.12: tyro {tyro.__version__}, gymnasium "
      f"{gymnasium.__version__}, ale-py {ale_py.__version__} (Pong {obs.shape}), "
      f"milestones from {milestones.__file__}")
EOF
  )
fi
