"""The embedding model and its runtimes: `embed` (protocols, sentence-transformers on torch),
`onnx_embed` (the same weights exported to ONNX Runtime, int8) and `runtime.make_embedder`, which
picks one. Model runtimes for the answering side (a re-ranker's or reader's session) belong here.
"""
