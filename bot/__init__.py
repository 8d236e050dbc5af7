"""citebot's chat side: the platform-neutral service, renderers and thin platform adapters."""
