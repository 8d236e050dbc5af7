"""Slack: `app` (the slack-bolt handlers), `render` (Answer → Block Kit), `parse` (event text and
button values → question, the inverse of what `render` shows)."""
