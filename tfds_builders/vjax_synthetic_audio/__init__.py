"""``vjax_synthetic_audio``: synthetic audio features whose class is a sweep direction."""

from tfds_builders.vjax_synthetic_audio.generate import (SYNTHETIC_AUDIO_NAME,
                                                         prepare_synthetic_audio,
                                                         synthetic_audio_features)
