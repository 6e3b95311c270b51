"""Small helpers shared across pixelwise (atomic file writing, hardware detection)."""
