"""Context engineering: curated, versioned knowledge assembled into each llm call under a token budget.

Sources (files, ClickHouse, the audit log's earlier decisions) are ingested into chunks with stable ids,
versioned by content hash and kept insert-only in a ClickHouse/chdb store (``store``); each source and
chunk gets a quality score (``quality``); per llm step and event the assembler picks the relevant chunks
under a budget split into sections (``assemble``), after checking the facts the step requires
(``validate``). See docs/context.md.
"""
