"""Languages: the reply's language (detected from its text), its voice, and the service's own phrases."""
