"""citebot's engine: articles in, cited extractive answers out. Knows nothing about chat platforms."""
