"""Where answers go out: a question → one Query → hits → the quoted sentence with its citations.

`query` builds the Query (tokens, type, term weights, vectors) after `spelling` has mended typos;
`search` retrieves hybrid (BM25 + dense, fused) from the store; the optional `rerank` cross-encoder
re-orders the top passages; `compose` chooses the sentence with the fitted scorer of `select`
(data in index/fitted.json) and builds the Answer, or an honest "not found". Reads the store,
never writes it; never imports ingest.
"""
