"""Answer → what each platform shows. Pure functions: length-limited, escaped, never pinging."""
from .common import NOT_FOUND, Snippet, neutralize_mentions, snippet_parts
from .text import TextStyle, render_text, terminal_style

__all__ = ["NOT_FOUND", "Snippet", "neutralize_mentions", "snippet_parts", "render_text", "TextStyle", "terminal_style"]
