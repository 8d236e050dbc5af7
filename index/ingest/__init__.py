"""Where articles come in: files and web pages → Article → passages with character offsets.

`load` picks a reader by the file's suffix: `text` (plain text and Markdown), `html` (with the
repairs in `html_repair`) or `pdf`; `meta` holds the title, date and link helpers they share, `dates` the day a page states, and
`jsonld` the page's schema.org objects both of them read.
`chunk` cuts an Article into sentence-aware passages. `web` fetches pages politely and safely,
`listings` parses feeds and sitemaps, `web_state` remembers per URL what was fetched. Nothing here
knows the store or the answering side; `index.engine` and `index.sources` drive it.
"""
