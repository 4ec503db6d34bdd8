#!/usr/bin/env bash
# Build the MMAction2 0.24.1 reference virtualenv (CPU torch) that make_golden_metrics.py,
# make_golden_pipeline.py and benchmarks/_mmaction2_input_runner.py run in.
# It lives outside the repo; vjax and its tests never import from it.
#   usage: tests/reference/setup_venv.sh [VENV_DIR]   (default /work/mmaction2-ref-venv)
set -euo pipefail
VENV="${1:-${MMACTION2_REF_VENV:-/work/mmaction2-ref-venv}}"
PYTHON="${PYTHON:-python3.11}"
start=$(date +%s)

"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet)
"${PIP[@]}" --upgrade pip 'setuptools<70' wheel
"${PIP[@]}" torch==2.13.0                      # CPU build (a local wheel provides it)
# numpy < 1.24 removed np.int/np.float/np.bool; 0.24.1 still uses them, make_golden_metrics.py
# restores them before importing mmaction.
"${PIP[@]}" 'numpy==1.26.*' scipy addict yapf==0.40.1 opencv-python-headless einops \
  packaging pyyaml termcolor regex
# Video decoders for MMAction2's DecordInit/PyAVInit (benchmarks/input_pipeline.py); its
# loading.py imports them lazily, so the goldens do not need them.
"${PIP[@]}" decord==0.6.0 av==18.1.0
# torch pulls a new setuptools; mmcv 1.7.0's setup.py needs an old one (pkg_resources et al.).
"${PIP[@]}" 'setuptools<70'
# mmcv (lite, no compiled ops: the metrics need none). Its setup.py imports torch, hence
# --no-build-isolation.
"${PIP[@]}" --no-build-isolation mmcv==1.7.0
"${PIP[@]}" --no-deps mmaction2==0.24.1
# Raw-audio goldens (make_golden_audio.py): MMAction2's audio ops call librosa.
"${PIP[@]}" librosa==0.11.0 'numpy==1.26.*'
# Custom-backbone goldens (make_golden_custom_backbones.py): the libraries MMAction2's
# custom-backbone configs build from. mmcls imports matplotlib.
"${PIP[@]}" --no-deps timm==0.5.4 mmcls==0.25.0
"${PIP[@]}" matplotlib 'numpy==1.26.*'
# torchvision 0.28 (torch 2.13's) exists only as a CUDA build whose compiled ops cannot load
# beside CPU torch, and a failing `import torchvision` breaks `import mmcv`. It goes into a
# folder of its own, which only make_golden_custom_backbones.py puts on sys.path (DenseNet is
# pure Python); site-packages keeps the stand-in below.
"${PIP[@]}" --no-deps --target "$VENV/torchvision-0.28.0" torchvision==0.28.0

# mmcv imports torchvision at import time and there is no CPU torchvision wheel matching
# torch 2.13 here. The metrics never touch it, so a stand-in module is enough.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if ! "$VENV/bin/python" -c 'import torchvision' 2>/dev/null; then
  mkdir -p "$SITE/torchvision/models"
  cat > "$SITE/torchvision/__init__.py" <<'PY'
"""Stand-in for torchvision inside the MMAction2 reference venv (metrics only, no vision ops)."""
__version__ = '0.0.0+stand-in'
from . import models  # noqa: F401
PY
  cat > "$SITE/torchvision/models/__init__.py" <<'PY'
"""Empty: mmcv only lists torchvision model urls, which the metrics never use."""
PY
fi

"$VENV/bin/python" - <<'PY'
import numpy as np
for name, alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if name not in np.__dict__:
    setattr(np, name, alias)
import mmcv, mmaction, torch
from mmaction.core.evaluation import top_k_accuracy  # noqa: F401
from mmaction.core.evaluation.ava_utils import ava_eval  # noqa: F401
from mmaction.datasets.pipelines import Compose, DecordInit, UntrimmedSampleFrames  # noqa: F401
import av, decord  # noqa: F401
print('reference venv ok: mmaction', mmaction.__version__, 'mmcv', mmcv.__version__,
      'torch', torch.__version__, 'numpy', np.__version__, 'decord', decord.__version__,
      'av', av.__version__)
PY
echo "built $VENV in $(( $(date +%s) - start )) s"
