"""The clients of the outside systems kb talks to, one module each: the Chroma store of records and
chunks (``store``, the only module that imports chromadb) and the OpenAI-compatible chat model
(``openai_client``, the only module that imports openai), and the files kb keeps in its data directory,
written whole or not at all (``files``). They depend only on kb.core."""
