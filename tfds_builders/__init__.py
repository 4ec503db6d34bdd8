"""TFDS dataset builders for vjax; importing a subpackage registers its builder with TFDS."""
