"""Discord: `app` (the discord.py client and its commands), `render` (Answer → message parts),
`parse` (message text → question, the inverse of what `render` shows)."""
