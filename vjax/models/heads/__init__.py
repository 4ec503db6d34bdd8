"""Classification heads."""

from vjax.models.heads.audio_tsn_head import AudioTSNHead
from vjax.models.heads.i3d_head import I3DHead
from vjax.models.heads.slowfast_head import SlowFastHead
from vjax.models.heads.stgcn_head import GCNHead, STGCNHead
from vjax.models.heads.tpn_head import TPNHead
from vjax.models.heads.trn_head import TRNHead
from vjax.models.heads.tsm_head import TSMHead
from vjax.models.heads.tsn_head import TSNHead
from vjax.models.heads.timesformer_head import TimeSformerHead
from vjax.models.heads.x3d_head import X3DHead
