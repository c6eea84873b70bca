"""Where the knowledge base is kept: engine and units of work, migrations, search index, cache."""
